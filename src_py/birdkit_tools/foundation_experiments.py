"""The foundation-model rows of docs/results.md: each member alone and the blends, over seeds.

    python -m birdkit_tools.foundation_experiments --data DIR --solution CSV --name real-dev \\
        --seeds 0,1,2 [--recipes demo,foundation] [--selftrain] [--out runs/fexp]

For each recipe and seed the notebooks run into their own run folder (``birdkit_tools.runner``:
20_spectrograms, 25_embeddings, 40_train; ``--selftrain`` adds 50_self_training with one round
whose teacher includes the foundation members), sharing the data's waveform and embedding caches.
Then the test soundscapes are scored once per run by an ensemble of the run's CNN, the BirdNET
head and BirdNET zero-shot (``Ensemble.score``: per-member probabilities), and every row is
computed from those: each member alone (zero-shot over the mapped classes only: the others have
no score), and the blends of ``params/foundation.yaml`` (rank average, masked). One row per
(recipe, seed, member set) goes to ``<out>/<name>/results.csv``, with the validation figures the
run saw (the CNN's best epoch, the head's validation windows); the baseline (log-mel logistic
regression) once. ``summary.md``: mean +- sd per row.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from birdkit.config import Config, load_params
from birdkit.data.audio import load_audio
from birdkit.data.competition import detect_layout
from birdkit.data.windows import row_ids
from birdkit.infer.ensemble import combine, load_ensemble
from birdkit.infer.predict import choose_soundscapes
from birdkit.metrics import macro_roc_auc
from birdkit.notebook.paths import find_checkpoints, foundation_specs

from .baseline import run_baseline

ROOT = Path(__file__).resolve().parents[2]
RECIPES = {"demo": "params/demo.yaml", "foundation": "params/foundation.yaml"}


def run_notebooks(params: str, data: str, run: Path, only: str, sets: list) -> float:
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "birdkit_tools.runner", "--params", str(ROOT / params), "--data-dir", data,
           "--runs-dir", str(run.parent), "--name", run.name, "--only", only, "--overwrite",
           "--notebooks", str(ROOT / "notebooks")]
    for s in sets:
        cmd += ["--set", s]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode:
        raise SystemExit(f"{run}: notebooks {only} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return time.perf_counter() - t0


def member_probs(cfg: Config, comp: Path, rounds: str = "last", tag: str = "", checkpoints=()):
    """Per test file ``[members, windows, classes]`` of the run's CNN(s), head and zero-shot."""
    layout = detect_layout(comp)
    classes = list(pd.read_csv(layout.sample_submission_csv, nrows=0).columns[1:])
    files, _ = choose_soundscapes(comp, 0)
    paths = find_checkpoints(checkpoints, cfg.run_dir, "/nonexistent", rounds=rounds)
    specs = foundation_specs(cfg, layout, classes)
    ens = load_ensemble(paths, "torch", cfg.run_path / "export", foundation=specs)
    out, ids = [], []
    for f in files:
        p = ens.score(load_audio(f, ens.sample_rate), catch=False).probs
        out.append(p)
        ids += row_ids(f.stem, p.shape[1], cfg.window_seconds)
    names = [f"cnn{i}" for i in range(len(paths))] + [s["kind"] for s in specs]
    np.savez(cfg.run_path / f"member_probs{tag}.npz", probs=np.concatenate(out, axis=1), names=np.array(names),
             ids=np.array(ids), masks=ens.class_masks, classes=np.array(classes))
    return names, out, ids, ens.class_masks, classes


CNN_WEIGHTS = (1.0, 0.5, 0.25)   # the blends' CNN weight against head 1, zero-shot 1


def recipe_weights() -> list:
    """params/foundation.yaml's ensemble_weights (one checkpoint, head, zero-shot): its blend row."""
    return list(load_params(ROOT / RECIPES["foundation"]).get("ensemble_weights", ()))


def score_rows(names, probs, ids, masks, classes, solution: pd.DataFrame) -> list:
    """Rows ``(row, test, test_mapped)``: every member alone and the blends; ``test_mapped`` over
    the classes zero-shot scores (the mapped ones)."""
    truth = solution.set_index("row_id").loc[ids, classes].to_numpy()
    stacked = np.concatenate(probs, axis=1)          # [M, rows, C]
    mapped = np.asarray(masks).all(axis=0)          # the classes every member scores: zero-shot's mapped ones

    def auc(scores, keep=None):
        keep = np.ones(len(classes), bool) if keep is None else keep
        return macro_roc_auc(truth[:, keep], scores[:, keep]) if keep.any() else float("nan")

    out = []
    for i, n in enumerate(names):
        out.append((n, auc(stacked[i], masks[i]), auc(stacked[i], mapped)))
    cnn = [i for i, n in enumerate(names) if n.startswith("cnn")]
    fnd = [i for i, n in enumerate(names) if not n.startswith("cnn")]
    blends = [("head+zeroshot", fnd, None), ("cnn+head", cnn + fnd[:1], None)]
    blends += [(f"blend_cnn{w:g}", cnn + fnd, [w] * len(cnn) + [1.0] * len(fnd)) for w in CNN_WEIGHTS]
    weights = recipe_weights()
    if len(weights) == len(names):
        blends.append(("foundation.yaml", list(range(len(names))), weights))
    for label, members, weights in blends:
        if len(members) > 1:
            mixed = np.concatenate(combine([p[members] for p in probs], "rank", weights, masks[members]))
            out.append((label, auc(mixed), auc(mixed, mapped)))
    return out


def history_figures(run: Path) -> dict:
    history = run / "history.csv"
    if not history.is_file():
        return {}
    h = pd.read_csv(history)
    cols = [c for c in ("val_auc", "val_soundscape_auc") if c in h]
    return {f"best_{c}": float(h[c].max()) for c in cols}


def head_figures(run: Path) -> dict:
    nb = run / "notebooks" / "25_embeddings.ipynb"
    text = nb.read_text() if nb.is_file() else ""
    marker = "foundation head: "
    if marker not in text:
        return {}
    line = text.split(marker, 1)[1].split("\\n", 1)[0]
    figs = {}
    for key, label in (("val_head", "head "), ("val_zeroshot", "zero-shot (mapped classes) ")):
        try:
            figs[key] = float(line.split(label, 1)[1].split(",")[0].split()[0])
        except (IndexError, ValueError):
            pass
    return figs


TABLE = [   # (the row, recipe, member row, column)
    ("demo (the CPU demo recipe)", "demo", "cnn0", "test"),
    ("BirdNET zero-shot (mapped classes only)", "foundation", "zeroshot", "test"),
    ("BirdNET head (embeddings + logistic regression)", "foundation", "head", "test"),
    ("distilled CNN (cosine to BirdNET's embedding)", "foundation", "cnn0", "test"),
    ("self-trained (pseudo-labels from the foundation ensemble)", "foundation+selftrain", "cnn0", "test"),
    ("head + zero-shot", "foundation", "head+zeroshot", "test"),
    ("foundation.yaml (distilled CNN 1 + head 2 + zero-shot 1, rank)", "foundation", "foundation.yaml", "test"),
    ("foundation.yaml, mapped classes only (zero-shot's)", "foundation", "foundation.yaml", "test_mapped"),
    ("foundation.yaml with the self-trained student", "foundation+selftrain", "foundation.yaml", "test"),
]


def summary_table(results: pd.DataFrame, baseline: float) -> str:
    """The issue's table: mean +- sd over seeds (n), markdown."""
    lines = ["| row | macro ROC-AUC | seeds |", "|---|---|---|", f"| baseline (log-mel logistic regression) | "
             f"{baseline:.3f} | deterministic |"]
    for label, recipe, row, column in TABLE:
        got = results[(results["recipe"] == recipe) & (results["row"] == row)][column].dropna()
        if len(got):
            sd = f" ± {got.std():.3f}" if len(got) > 1 else ""
            lines.append(f"| {label} | {got.mean():.3f}{sd} | {len(got)} |")
    return "\n".join(lines)


def rescore(base: Path, solution: pd.DataFrame) -> int:
    """The rows again from each run's saved member probabilities (after a change of the blends)."""
    old = pd.read_csv(base / "results.csv")
    figures = old.drop(columns=["row", "test", "test_mapped"]).drop_duplicates(["recipe", "seed"])
    rows = []
    for (recipe, seed), fig in figures.set_index(["recipe", "seed"]).iterrows():
        run = base / f"{recipe.split('+')[0]}-s{seed}"
        saved = run / ("member_probs_selftrain.npz" if "+" in recipe else "member_probs.npz")
        if not saved.is_file():
            saved = run / "member_probs.npz"
        z = np.load(saved)
        names, masks, classes, ids = list(z["names"]), z["masks"], list(z["classes"]), list(z["ids"])
        for k, v, vm in score_rows(names, [z["probs"]], ids, masks, classes, solution):
            rows.append({"recipe": recipe, "seed": seed, "row": k, "test": v, "test_mapped": vm, **fig.to_dict()})
    done = pd.DataFrame(rows)
    done.to_csv(base / "results.csv", index=False)
    baseline = json.loads((base / "baseline.json").read_text())["test"]
    table = summary_table(done, baseline)
    (base / "summary.md").write_text(table + "\n")
    print(table)
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True)
    p.add_argument("--solution", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--recipes", default="demo,foundation")
    p.add_argument("--selftrain", action="store_true")
    p.add_argument("--selftrain-seeds", default="", help="the seeds that self-train (default: all of --seeds)")
    p.add_argument("--out", default="runs/fexp")
    p.add_argument("--rescore", action="store_true", help="recompute every row from the runs' member_probs.npz")
    args = p.parse_args(argv)
    if args.rescore:
        return rescore(Path(args.out) / args.name, pd.read_csv(args.solution))
    base = Path(args.out) / args.name
    base.mkdir(parents=True, exist_ok=True)
    results = base / "results.csv"
    done = pd.read_csv(results) if results.is_file() else pd.DataFrame(columns=["recipe", "seed", "row"])
    solution = pd.read_csv(args.solution)
    shared = [f"cache_dir={(base / 'spectrograms').resolve()}", f"embedding_dir={(base / 'embeddings').resolve()}"]
    if not (base / "baseline.json").is_file():
        score = run_baseline(args.data, args.solution, 0, base / "baseline")
        (base / "baseline.json").write_text(json.dumps({"test": score}))
    for recipe in args.recipes.split(","):
        for seed in map(int, args.seeds.split(",")):
            selftrain = (args.selftrain and recipe == "foundation"   # pseudo-labels from the foundation ensemble
                         and (not args.selftrain_seeds or str(seed) in args.selftrain_seeds.split(",")))
            for stage in (("supervised", "20,25,40"),) + ((("selftrained", "50"),) if selftrain else ()):
                tag = recipe if stage[0] == "supervised" else f"{recipe}+selftrain"
                if ((done["recipe"] == tag) & (done["seed"] == seed)).any():
                    continue
                run = (base / f"{recipe}-s{seed}").resolve()
                sets = shared + [f"seed={seed}", "foundation_model=birdnet", "foundation_members=[head,zeroshot]"]
                if stage[0] == "selftrained":
                    sets += ["pseudo_rounds=1", "max_pseudo_files=0"]
                seconds = run_notebooks(RECIPES[recipe], args.data, run, stage[1], sets)
                values = {**load_params(ROOT / RECIPES[recipe]), "data_dir": args.data, "run_dir": str(run),
                          "seed": seed, "foundation_model": "birdnet", "foundation_members": ("head", "zeroshot"),
                          "embedding_dir": str((base / "embeddings").resolve())}
                values.pop("include", None)
                cfg = Config.from_dict(values)
                saved_as = "" if stage[0] == "supervised" else "_selftrain"
                names, probs, ids, masks, classes = member_probs(cfg, Path(args.data), tag=saved_as)
                figures = {**history_figures(run), **head_figures(run), "seconds": round(seconds, 1)}
                rows = [{"recipe": tag, "seed": seed, "row": k, "test": v, "test_mapped": vm, **figures}
                        for k, v, vm in score_rows(names, probs, ids, masks, classes, solution)]
                done = pd.concat([done, pd.DataFrame(rows)], ignore_index=True)
                done.to_csv(results, index=False)
                print(pd.DataFrame(rows).to_string(index=False), flush=True)
    summary = done.groupby(["recipe", "row"])[["test", "test_mapped"]].agg(["mean", "std", "count"]).round(4)
    baseline = json.loads((base / "baseline.json").read_text())["test"]
    table = summary_table(done, baseline)
    (base / "summary.md").write_text(f"{table}\n\nbaseline {baseline:.4f}\n\n{summary.to_string()}\n")
    print(f"{table}\n\n{summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
