"""The non-deep baseline: logistic regression on log-mel statistics of 5-s chunks."""
import json

import numpy as np
import pandas as pd

from birdkit_tools.baseline import Features, fit_predict, main, run_baseline
from conftest import FIELD_2026


def test_features_per_chunk():
    wave = np.random.default_rng(0).standard_normal(32000 * 12).astype(np.float32) * 0.1
    x = Features()(wave)
    assert x.shape == (3, 5 * 64) and np.isfinite(x).all()  # 12 s -> 3 chunks (the last padded)


def test_class_without_positives_scores_zero():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 6))
    y = np.zeros((40, 3), np.float32)
    y[:20, 0], y[20:, 1] = 1, 1
    x[:20] += 2.0
    probs = fit_predict(x, y, x, seed=0)
    assert probs.shape == (40, 3) and (probs[:, 2] == 0).all() and probs[:20, 0].mean() > probs[20:, 0].mean()


def test_baseline_beats_chance_on_the_separable_demo(demo_competition, tmp_path):
    demo = demo_competition  # classic design: species differ only by clean call templates
    auc = run_baseline(demo["competition_dir"], demo["solution_path"], seed=0, out_dir=tmp_path / "bl")
    assert auc > 0.7
    summary = json.loads((tmp_path / "bl" / "baseline.json").read_text())
    assert summary["macro_roc_auc"] == auc and summary["year"] == 2025 and summary["train_chunks"] > 0
    assert summary["labelled_soundscapes_auc"] is None  # the classic 2025 demo has no labels file
    sub = pd.read_csv(tmp_path / "bl" / "submission.csv")
    sample = pd.read_csv(f"{demo['competition_dir']}/sample_submission.csv")
    assert list(sub.columns) == list(sample.columns) and sub.row_id.tolist() == sample.row_id.tolist()
    assert main(["--data-dir", demo["competition_dir"], "--solution", demo["solution_path"],
                 "--out", str(tmp_path / "cli")]) == auc  # same seed, same score


def test_baseline_also_scores_the_labelled_soundscapes(make_demo, tmp_path):
    demo = make_demo(**FIELD_2026)
    auc = run_baseline(demo["competition_dir"], demo["solution_path"], seed=0, out_dir=tmp_path)
    labelled = json.loads((tmp_path / "baseline.json").read_text())["labelled_soundscapes_auc"]
    assert 0.0 < auc < 1.0 and 0.0 < labelled < 1.0
