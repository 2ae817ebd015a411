"""An experiment, not a feature: ensemble weights chosen per run on its validation windows.

    python -m birdkit_tools.weights_on_validation --base runs/fexp/real-dev --data DIR --solution CSV

For each ``<base>/foundation-s<seed>`` run of ``birdkit_tools.foundation_experiments`` (its CNN,
BirdNET head and zero-shot; the saved ``member_probs.npz`` of the test soundscapes), the three
members score the run's validation windows, which none of them trained on:

- ``clips``: the first ``max_windows`` windows of the validation fold's recordings (the CNN's
  held-out fold; the head trains on the other folds), each with its recording's targets;
- ``soundscapes``: the labelled soundscape windows of the validation fold's files, where the
  competition has them (the head trains on the others; the CNN on none: ``soundscape_train`` off).

Every weight triple on ``GRID`` (not all zero) is tried in the recipe's masked rank average; the
best on validation (macro ROC-AUC over the classes with a positive window) is applied to the test
probabilities. One row per (run, validation source) goes to ``--out``: the chosen weights, their
validation figure and the test figures (all classes, and zero-shot's mapped classes).
"""
from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from birdkit.config import Config, load_params
from birdkit.data.audio import load_audio
from birdkit.data.folds import soundscape_split, split_table
from birdkit.data.tables import make_targets
from birdkit.infer.ensemble import combine, load_ensemble
from birdkit.metrics import macro_roc_auc
from birdkit.notebook import session
from birdkit.notebook.paths import find_checkpoints, foundation_specs
from birdkit.notebook.training import training_inputs

from .foundation_experiments import RECIPES, ROOT

GRID = (0.0, 0.5, 1.0, 2.0)


def run_config(run: Path, data: str, base: Path) -> Config:
    """The run's config as foundation_experiments made it (its recipe, seed and shared caches)."""
    seed = yaml.safe_load((run / "config.yaml").read_text())["config"]["seed"]
    values = {**load_params(ROOT / RECIPES["foundation"]), "data_dir": data, "run_dir": str(run), "seed": seed,
              "foundation_model": "birdnet", "foundation_members": ("head", "zeroshot"),
              "embedding_dir": str(base / "embeddings"), "cache_dir": str(base / "spectrograms")}
    values.pop("include", None)
    return Config.from_dict(values)


def validation_probs(cfg: Config, data: str) -> dict:
    """``{source: (probs [members, windows, classes], targets [windows, classes], masks)}``."""
    tables = session.load_tables(Path(data), cfg.run_dir)
    inputs = training_inputs(cfg, tables, cfg.run_dir)
    paths = find_checkpoints((), cfg.run_dir, "/nonexistent", rounds="all")[:1]   # round 0, fold 0: the test rows'
    ens = load_ensemble(paths, "torch", cfg.run_path / "export",
                        foundation=foundation_specs(cfg, tables.layout, tables.classes))
    out = {}
    _, val_df, _ = split_table(inputs.train, cfg.n_folds, cfg.seed, cfg.val_fold)
    targets = make_targets(val_df, tables.classes, cfg.secondary_weight)
    probs, truth = [], []
    for i, row in enumerate(val_df.itertuples(index=False)):
        p = ens.score(load_audio(row.path, ens.sample_rate), catch=False).probs[:, : max(1, cfg.max_windows)]
        probs.append(p)
        truth.append(np.repeat(targets[i][None], p.shape[1], axis=0))
    out["clips"] = (np.concatenate(probs, axis=1), np.concatenate(truth), ens.class_masks)
    if inputs.labelled is not None:
        windows, labels = inputs.labelled
        idx, _ = soundscape_split(inputs.file_folds, cfg.val_fold, True)
        windows, labels = windows.iloc[idx], labels[idx]
        probs, truth = [], []
        for name, rows in windows.groupby("filename", sort=False).indices.items():
            p = ens.score(load_audio(inputs.soundscape_dir / name, ens.sample_rate), catch=False).probs
            at = (np.round(windows["end"].to_numpy()[rows] / cfg.window_seconds) - 1).astype(int)
            probs.append(p[:, at])
            truth.append(labels[rows])
        out["soundscapes"] = (np.concatenate(probs, axis=1), np.concatenate(truth), ens.class_masks)
    ens.close()
    return out


def blend(probs: np.ndarray, weights, masks) -> np.ndarray:
    keep = [i for i, w in enumerate(weights) if w > 0]
    return combine([probs[keep]], "rank", [weights[i] for i in keep], np.asarray(masks)[keep])[0]


def choose(probs, truth, masks) -> tuple[tuple, float]:
    """The grid's weights with the best validation macro ROC-AUC (the first of equals)."""
    positive = truth.max(axis=0) > 0
    best = ((), -1.0)
    for weights in itertools.product(GRID, repeat=probs.shape[0]):
        if any(weights):
            auc = macro_roc_auc(truth[:, positive] > 0.5, blend(probs, weights, masks)[:, positive])
            best = max(best, (weights, auc), key=lambda b: b[1])
    return best


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base", required=True, help="a foundation_experiments output folder (runs/fexp/<name>)")
    ap.add_argument("--data", required=True)
    ap.add_argument("--solution", required=True)
    ap.add_argument("--out", default="", help="CSV of the rows (default <base>/weights_on_validation.csv)")
    args = ap.parse_args(argv)
    base = Path(args.base).resolve()
    solution = pd.read_csv(args.solution).set_index("row_id")
    rows = []
    for run in sorted(base.glob("foundation-s*")):
        cfg = run_config(run, args.data, base)
        saved = np.load(run / "member_probs.npz")
        truth = solution.loc[saved["ids"], list(saved["classes"])].to_numpy()
        scored = truth.max(axis=0) > 0
        mapped = scored & saved["masks"].all(axis=0)
        for source, (probs, val_truth, masks) in validation_probs(cfg, args.data).items():
            weights, val_auc = choose(probs, val_truth, masks)
            test = blend(saved["probs"], weights, saved["masks"])
            rows.append({"run": run.name, "seed": cfg.seed, "validation": source, "val_windows": len(val_truth),
                         "weights": list(weights), "val_auc": val_auc,
                         "test": macro_roc_auc(truth[:, scored], test[:, scored]),
                         "test_mapped": macro_roc_auc(truth[:, mapped], test[:, mapped]) if mapped.any() else np.nan})
            print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    table.to_csv(args.out or base / "weights_on_validation.csv", index=False)
    print(table.groupby("validation")[["test", "test_mapped"]].agg(["mean", "std"]).round(4).to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
