"""Recipe comparisons on demo competitions: means and spreads over seeds, with a baseline beside.

    python -m birdkit_tools.experiments --designs field,field-b --seeds 0,1,2 \\
        --recipes classic,wave,sed,sed_bg [--rounds 2] [--out runs/experiments]
    python -m birdkit_tools.experiments --summarise docs/measurements/experiments_2025.csv

For every design a demo competition is generated once; for every recipe and seed the package's
own pipeline runs in this process (caches, training with the recipe's overrides of
``params/demo.yaml``, inference on the test soundscapes as the inference notebook does it) and
one row is appended to ``results.csv``: the validation scores the training saw (held-out clips,
labelled soundscape windows) and the test score it never saw. ``--rounds`` adds self-training
rounds after each supervised run (rows per round, and the ensemble of all rounds). The baseline
(logistic regression on log-mel statistics) runs per design and seed. Finished rows are skipped
on a rerun. ``summary.md`` gives mean +- standard deviation per design and recipe; settings are
chosen on the validation columns, never on the test column. ``--summarise CSV`` prints that
summary for rows already measured (those behind docs/results.md are in docs/measurements/).

``classic`` is the seed-notebook recipe (cached 5-s dB images, image Mixup, blended labels); it
was called ``seed`` until "seed" came to mean the random seed only. The old names stay readable:
``--recipes seed`` and the rows of an older ``results.csv`` (docs/measurements/*.csv keep them as
measured) are read as ``classic`` / ``classic_bn`` (``OLD_RECIPE_NAMES``).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import pandas as pd

from birdkit.config import Config, load_params
from birdkit.data.cache import generate_spectrograms
from birdkit.data.labels import score_windows
from birdkit.ensemble_list import read_ensemble_list, write_ensemble_list
from birdkit.infer.predict import choose_soundscapes, load_ensemble, predict_soundscapes
from birdkit.metrics import score_submission
from birdkit.notebook.session import load_tables
from birdkit.notebook.training import background_bank, soundscape_sets, training_inputs
from birdkit.train.loop import best_epoch
from birdkit.train.run import train_fold
from birdkit.train.selftrain import run_round

from .baseline import run_baseline
from .demo import generate_demo_competition
from .report import markdown_table
from .runner import parse_sets

ROOT = Path(__file__).resolve().parents[2]
# What each recipe changes in params/demo.yaml (the rest is shared). Every recipe names each
# setting the demo default may change, so a row reproduces whatever params/demo.yaml says today.
WAVE = dict(data_source="waves", head="classifier", train_seconds=5.0, mixup_domain="wave", mixup_labels="max",
            background_prob=0.0, reverb_prob=0.0, lowpass_prob=0.0, band_norm=False, epochs=20)
SED = {**WAVE, "head": "sed", "train_seconds": 10.0}
CLASSIC = {**WAVE, "data_source": "images", "mixup_domain": "image", "mixup_labels": "blend"}  # seed-notebook recipe
FAR = dict(background_prob=0.5, reverb_prob=0.5, lowpass_prob=0.5)
RECIPES = {
    "classic": CLASSIC,
    "wave": WAVE,
    "sed": SED,
    "sed_bg": {**SED, "background_prob": 0.5},
    # variants explored on the field design's validation windows
    "wave_bg": {**WAVE, "background_prob": 0.5},
    "wave_lp": {**WAVE, "lowpass_prob": 0.5},
    "wave10_bg": {**WAVE, "train_seconds": 10.0, "background_prob": 0.5},
    # far-field robustness: band normalisation of the front end, and augmentations that imitate distance
    "wave_bn": {**WAVE, "band_norm": True},
    "wave_far": {**WAVE, **FAR},
    "wave_far_bn": {**WAVE, **FAR, "band_norm": True},
    "wave_bn_e40": {**WAVE, "band_norm": True, "epochs": 40},
    "sed_bn": {**SED, "band_norm": True},
    "classic_bn": {**CLASSIC, "band_norm": True},
}
# names used before the rename; docs/measurements/*.csv hold them as measured
OLD_RECIPE_NAMES = {"seed": "classic", "seed_bn": "classic_bn"}


def recipe_name(name: str) -> str:
    """A recipe's current name (an old one is read as its new name)."""
    return OLD_RECIPE_NAMES.get(name, name)


def read_results(csv) -> pd.DataFrame:
    """Rows of a ``results.csv``, recipes under their current names."""
    rows = pd.read_csv(csv, dtype={"round": str})
    if "recipe" in rows:
        rows["recipe"] = rows["recipe"].map(recipe_name)
    return rows


def demo_params() -> dict:
    """``params/demo.yaml``: what every recipe shares."""
    return load_params(ROOT / "params" / "demo.yaml")


def recipe_config(params, recipe: str, seed: int, comp: Path, run_dir: Path, cache_dir: Path, extra: dict) -> Config:
    values = {**params, **RECIPES.get(recipe, {}), **extra, "seed": seed, "data_dir": str(comp),
              "run_dir": str(run_dir), "cache_dir": str(cache_dir)}
    return Config.from_dict(values, "experiment")


def test_score(cfg, comp, solution, rounds: str = "last") -> float:
    files, _ = choose_soundscapes(comp, cfg.dry_run_soundscapes)
    ensemble = load_ensemble(read_ensemble_list(cfg.checkpoint_dir, rounds), cfg.backend, cfg.run_path / "export",
                             chunk_seconds=cfg.infer_chunk_seconds)
    try:
        result = predict_soundscapes(files, ensemble, cfg, progress=False)
    finally:
        ensemble.close()
    return score_submission(result.submission, pd.read_csv(solution))


def _best(history: pd.DataFrame, column: str) -> float:
    """The column at the checkpoint the training kept (``birdkit.train.loop.best_epoch``)."""
    best = best_epoch(history)
    return float(best[column]) if best is not None and column in best else float("nan")


def run_one(params, recipe, seed, info, work: Path, rounds: int, extra: dict) -> list[dict]:
    comp, solution = Path(info["competition_dir"]), Path(info["solution_path"])
    run_dir = work / f"{recipe}-s{seed}"
    cfg = recipe_config(params, recipe, seed, comp, run_dir, work / "cache", extra)
    tables = load_tables(comp, cfg.run_dir)
    generate_spectrograms(tables.train, cfg, progress=False)
    inputs = training_inputs(cfg, tables, cfg.run_dir)
    background = background_bank(cfg, inputs)
    val, train = soundscape_sets(cfg, inputs, cfg.val_fold)
    started = time.perf_counter()
    result = train_fold(cfg, tables.classes, inputs.train, cfg.val_fold, progress=False, background=background,
                        soundscape_val=val, soundscape_train=train)
    write_ensemble_list(cfg.checkpoint_dir, [result], 0)
    rows = [_row(cfg, recipe, seed, 0, result.history, test_score(cfg, comp, solution), time.perf_counter() - started)]
    for r in range(1, rounds + 1):
        started = time.perf_counter()
        done = run_round(dataclasses.replace(cfg, pseudo_rounds=rounds), tables.classes, inputs.train, r,
                         inputs.unlabelled, progress=False, background=background, soundscape_val=val,
                         soundscape_train=train)
        history = next(iter(done.students.values()))[0].history
        rows.append(_row(cfg, recipe, seed, r, history, test_score(cfg, comp, solution),
                         time.perf_counter() - started))
    if rounds:
        rows.append(_row(cfg, recipe, seed, "all", None, test_score(cfg, comp, solution, "all"), 0.0))
    return rows


def _row(cfg, recipe, seed, round_, history, test, seconds) -> dict:
    val = {} if history is None else {"val_clip_auc": _best(history, "val_auc"),
                                      "val_soundscape_auc": _best(history, "val_soundscape_auc")}
    return {"recipe": recipe, "seed": seed, "round": str(round_), **val, "test_auc": test,
            "train_s": round(seconds, 1), "run_dir": cfg.run_dir}


POSTPROCESS = [dict(), dict(smoothing=0.1), dict(smoothing=0.2), dict(file_max_rescale=0.5),
               dict(file_max_rescale=1.0), dict(tta_views=1), dict(ensemble_average="rank")]


def postprocess(out, design: str, recipe: str, seeds, rounds: str = "all") -> pd.DataFrame:
    """Inference settings on the trained runs of ``recipe``: the metric on the labelled soundscape
    windows (validation) and on the test soundscapes, per setting and seed (``postprocess.csv``)."""
    out, rows = Path(out), []
    info = generate_demo_competition(out / "data" / design, design=design)
    comp, solution = Path(info["competition_dir"]), pd.read_csv(info["solution_path"])
    params = demo_params()
    for seed in seeds:
        run_dir = out / design / f"{recipe}-s{seed}"
        base = recipe_config(params, recipe, seed, comp, run_dir, out / design / "cache", {})
        tables = load_tables(comp, base.run_dir)
        labelled_files = [tables.layout.soundscape_dir / f for f in tables.labelled.files]
        test_files, _ = choose_soundscapes(comp, base.dry_run_soundscapes)
        ensemble = load_ensemble(read_ensemble_list(base.checkpoint_dir, rounds), "torch", run_dir / "export")
        for change in POSTPROCESS:
            cfg = dataclasses.replace(base, **change)
            val = predict_soundscapes(labelled_files, ensemble, cfg, progress=False).submission
            test = predict_soundscapes(test_files, ensemble, cfg, progress=False).submission
            rows.append({"design": design, "recipe": recipe, "rounds": rounds, "seed": seed,
                         "setting": ", ".join(f"{k}={v}" for k, v in change.items()) or "as trained",
                         "val_soundscape_auc": score_windows(val, tables.labelled),
                         "test_auc": score_submission(test, solution)})
        ensemble.close()
    table = pd.DataFrame(rows)
    table.to_csv(out / f"postprocess-{design}-{recipe}-{rounds}.csv", index=False)
    summary = table.groupby("setting", sort=False)[["val_soundscape_auc", "test_auc"]].agg(["mean", "std"])
    summary.columns = [f"{c}_{s}" for c, s in summary.columns]
    return summary.reset_index()


def summarise(results: pd.DataFrame) -> pd.DataFrame:
    cols = [c for c in ("val_clip_auc", "val_soundscape_auc", "test_auc") if c in results]
    grouped = results.groupby(["design", "recipe", "round"], sort=False)
    out = grouped[cols].agg(["mean", "std"])
    out.columns = [f"{c}_{s}" for c, s in out.columns]
    out["seeds"] = grouped.size()
    out["train_s_mean"] = grouped["train_s"].mean()
    return out.reset_index()


def run(designs, seeds, recipes, rounds, out, year=2025, extra=None, rounds_for=(), rounds_designs=()) -> pd.DataFrame:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    params = demo_params()
    csv = out / "results.csv"
    done = read_results(csv) if csv.is_file() else pd.DataFrame()
    for design in designs:
        info = generate_demo_competition(out / "data" / design, year=year, design=design)
        for seed in seeds:
            for recipe in ["baseline", *recipes]:
                if len(done) and ((done.design == design) & (done.recipe == recipe) & (done.seed == seed)).any():
                    continue
                if recipe == "baseline":
                    rows = [{"recipe": "baseline", "seed": seed, "round": "0",
                             "test_auc": run_baseline(info["competition_dir"], info["solution_path"], seed)}]
                else:
                    chosen = ((not rounds_for or recipe in rounds_for)
                              and (not rounds_designs or design in rounds_designs))
                    rows = run_one(params, recipe, seed, info, out / design, rounds if chosen else 0, extra or {})
                new = pd.DataFrame([{"design": design, **r} for r in rows])
                done = pd.concat([done, new], ignore_index=True)
                done.to_csv(csv, index=False)
                print(new.drop(columns=["run_dir"], errors="ignore").to_string(index=False), flush=True)
    summary = summarise(done)
    (out / "summary.md").write_text("\n".join(markdown_table(summary, list(summary.columns))) + "\n")
    (out / "summary.json").write_text(json.dumps(summary.to_dict(orient="records"), indent=1, default=float))
    return summary


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--designs", default="field,field-b")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--recipes", default=",".join(RECIPES))
    p.add_argument("--rounds", type=int, default=0, help="self-training rounds after each supervised run")
    p.add_argument("--rounds-for", default="", help="only these recipes get the rounds (default: all)")
    p.add_argument("--rounds-designs", default="", help="only these designs get the rounds (default: all)")
    p.add_argument("--year", type=int, default=2025)
    p.add_argument("--set", action="append", default=[], help="extra Config override key=value (YAML value)")
    p.add_argument("--out", default="runs/experiments")
    p.add_argument("--postprocess", default="", help="RECIPE: compare inference settings on its trained runs")
    p.add_argument("--postprocess-rounds", default="all", help="last | all: which models of those runs")
    p.add_argument("--summarise", nargs="+", default=[], metavar="CSV",
                   help="print the summary of results.csv files already measured (nothing runs)")
    a = p.parse_args(argv)
    if a.summarise:
        table = summarise(pd.concat([read_results(c) for c in a.summarise], ignore_index=True))
        print(table.round(3).to_string(index=False))
        return
    if a.postprocess:
        seeds = [int(s) for s in a.seeds.split(",") if s]
        for design in a.designs.split(","):
            table = postprocess(a.out, design, recipe_name(a.postprocess), seeds, a.postprocess_rounds)
            print("\n".join(markdown_table(table, list(table.columns))))
        return
    extra = parse_sets(a.set)
    listed = lambda text: [recipe_name(x) for x in text.split(",") if x]  # noqa: E731
    summary = run(listed(a.designs), [int(s) for s in listed(a.seeds)], listed(a.recipes), a.rounds, a.out, a.year,
                  extra, listed(a.rounds_for), listed(a.rounds_designs))
    print("\n".join(markdown_table(summary, list(summary.columns))))


if __name__ == "__main__":
    main()
