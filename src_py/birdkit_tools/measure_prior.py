"""Does a site or hour prior help? Measured on demo competitions, on the baseline's predictions.

For each demo seed: generate the competition (2026 layout by default), predict its test
soundscapes with the logistic-regression baseline (``birdkit_tools.baseline``), then apply the
prior (``birdkit.infer.priors``) learned from its labelled soundscapes at several weights and score
every variant against the ground truth. Prints a table (mean and standard deviation over the
seeds) and writes ``<out>/prior.csv`` and ``<out>/prior.md``.

``python -m birdkit_tools.measure_prior [--year 2026] [--design field] [--seeds 2025 7 11] [--out runs/prior]``
"""
from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from birdkit.data.competition import detect_layout
from birdkit.data.labels import read_soundscape_labels
from birdkit.infer.priors import apply_prior, learn_prior
from birdkit.metrics import score_submission

from .baseline import run_baseline
from .demo import generate_demo_competition

WEIGHTS = (0.25, 0.5, 1.0)


def measure_seed(work: Path, year: int, design: str, seed: int) -> list[dict]:
    info = generate_demo_competition(work / f"demo-{year}-{design}-{seed}", year=year, design=design, seed=seed)
    out = work / f"baseline-{year}-{design}-{seed}"
    base = run_baseline(info["competition_dir"], info["solution_path"], seed=0, out_dir=out)
    submission = pd.read_csv(out / "submission.csv", dtype={"row_id": str})
    solution = pd.read_csv(info["solution_path"])
    layout = detect_layout(info["competition_dir"])
    labelled = read_soundscape_labels(layout.labels_csv, list(submission.columns[1:]))
    rows = [{"seed": seed, "prior": "off", "weight": 0.0, "auc": base}]
    for key in ("site", "hour"):
        prior = learn_prior(labelled, key)
        for weight in WEIGHTS:
            adjusted, matched = apply_prior(submission, prior, weight)
            rows.append({"seed": seed, "prior": key, "weight": weight, "auc": score_submission(adjusted, solution),
                         "rows_matched": matched})
    return rows


def markdown(df: pd.DataFrame) -> str:
    """A pipe table (no tabulate dependency); floats with 4 decimals."""
    cells = [[f"{v:.4f}" if isinstance(v, float) else str(v) for v in row] for row in df.itertuples(index=False)]
    lines = ["| " + " | ".join(df.columns) + " |", "|" + "---|" * len(df.columns)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in cells])


def main(argv=None) -> pd.DataFrame:
    p = argparse.ArgumentParser(description="Measure the site/hour prior on demo competitions.")
    p.add_argument("--year", type=int, default=2026)
    p.add_argument("--design", default="field")
    p.add_argument("--seeds", type=int, nargs="+", default=[2025, 7, 11])
    p.add_argument("--out", default="runs/prior")
    args = p.parse_args(argv)
    out = Path(args.out)
    rows = [r for seed in args.seeds for r in measure_seed(out, args.year, args.design, seed)]
    df = pd.DataFrame(rows)
    table = df.groupby(["prior", "weight"], sort=False)["auc"].agg(["mean", "std", "count"]).reset_index()
    base = table.loc[table.prior == "off", "mean"].iloc[0]
    table["vs off"] = table["mean"] - base
    out.mkdir(parents=True, exist_ok=True)
    df.to_csv(out / "prior.csv", index=False)
    text = (f"prior on the {args.year} demo ({args.design} design), baseline predictions, seeds {args.seeds}\n\n"
            + markdown(table) + "\n")
    (out / "prior.md").write_text(text)
    print(text)
    return table


if __name__ == "__main__":
    main()
