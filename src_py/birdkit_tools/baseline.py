"""A simple non-deep baseline for any competition folder (2024, 2025, 2026 layout).

Every 5-s chunk of every training recording becomes a vector of log-mel statistics (per mel
band: mean, standard deviation and the 10/50/90 % quantiles of the dB values over time), with
the recording's primary and secondary labels as targets. A one-vs-rest logistic regression
(scikit-learn, standardised features) then scores every 5-s window of the test soundscapes. The
macro ROC-AUC against the ground truth is printed and written to ``<out>/baseline.json``; the
submission goes to ``<out>/submission.csv``.

``python -m birdkit_tools.baseline --data-dir DIR --solution solution.csv [--out runs/baseline] [--seed 0]``
(``make baseline DATA_DIR=... SOLUTION=...``); from Python, ``run_baseline(comp_dir, solution_path, seed)``.
"""
from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from birdkit.data.audio import AudioError, frame_windows, load_audio
from birdkit.data.competition import detect_layout
from birdkit.data.labels import read_soundscape_labels, score_windows
from birdkit.data.tables import read_competition_taxonomy, read_train, submission_classes
from birdkit.data.windows import row_ids
from birdkit.infer.predict import choose_soundscapes
from birdkit.metrics import score_submission
from birdkit.models.frontend import MelFrontEnd, MelSettings

SR = 32000
WINDOW_S = 5.0
MEL = MelSettings(sample_rate=SR, n_mels=64, fmin=50.0, fmax=15000.0, n_fft=1024, hop_length=512)
QUANTILES = (0.1, 0.5, 0.9)
C = 0.1  # inverse regularisation strength, fixed a priori (never tuned on a test set)


class Features:
    """Log-mel statistics of 5-s chunks (``MEL``), torch on CPU."""

    def __init__(self):
        self.frontend = MelFrontEnd(MEL).eval()

    @torch.no_grad()
    def __call__(self, wave: np.ndarray) -> np.ndarray:
        chunks = torch.from_numpy(frame_windows(wave, int(WINDOW_S * SR)))
        db = self.frontend(chunks)                                  # [n, mels, frames]
        stats = [db.mean(-1), db.std(-1)] + list(torch.quantile(db, torch.tensor(QUANTILES), dim=-1))
        return torch.cat(stats, dim=1).numpy().astype(np.float32)   # [n, 5 * mels]


def training_set(layout, classes, features) -> tuple[np.ndarray, np.ndarray, list]:
    """Chunk features and multi-hot targets (primary and secondary labels) of every recording."""
    taxonomy, _ = read_competition_taxonomy(layout.taxonomy_csv, classes)
    train, report = read_train(layout.metadata_csv, taxonomy, layout.audio_dir)
    index = {c: i for i, c in enumerate(classes)}
    xs, ys, skipped = [], [], [{"filename": r["filename"], "reason": r["reason"]} for r in report
                                if r["action"] == "skipped"]
    for row in train.itertuples(index=False):
        try:
            x = features(load_audio(row.path, SR))
        except AudioError as exc:
            skipped.append({"filename": row.filename, "reason": exc.reason})
            continue
        y = np.zeros((len(x), len(classes)), np.float32)
        for label in [str(row.primary_label), *row.secondary]:
            y[:, index[label]] = 1.0
        xs.append(x)
        ys.append(y)
    return np.concatenate(xs), np.concatenate(ys), skipped


def fit_predict(x_train, y_train, x_test, seed: int) -> np.ndarray:
    """Probabilities ``[n_test, C]``; a class without any positive chunk scores 0."""
    has = y_train.max(axis=0) > 0
    model = make_pipeline(StandardScaler(), OneVsRestClassifier(
        LogisticRegression(C=C, max_iter=2000, random_state=seed)))
    with warnings.catch_warnings():  # a class present in every chunk is a constant predictor: fine
        warnings.simplefilter("ignore", UserWarning)
        model.fit(x_train, y_train[:, has])
    probs = np.zeros((len(x_test), y_train.shape[1]), np.float32)
    probs[:, has] = model.predict_proba(x_test)
    return probs


def soundscape_windows(layout, features, files=None) -> tuple[np.ndarray, list, list]:
    """Features and row ids of every 5-s window of ``files`` (default: the test soundscapes)."""
    files = choose_soundscapes(layout.root, dry_run_count=0)[0] if files is None else files
    xs, ids, skipped = [], [], []
    for path in files:
        try:
            x = features(load_audio(path, SR))
        except AudioError as exc:
            skipped.append({"filename": path.name, "reason": exc.reason})
            continue
        xs.append(x)
        ids += row_ids(path.stem, len(x), WINDOW_S)
    return np.concatenate(xs), ids, skipped


def labelled_windows(layout, classes, features):
    """The labelled soundscapes (validation) and their window features, if the folder has them."""
    if layout.labels_csv is None or layout.soundscape_dir is None:
        return None, np.zeros((0, 5 * MEL.n_mels), np.float32), []
    labelled = read_soundscape_labels(layout.labels_csv, classes)
    x, ids, _ = soundscape_windows(layout, features, [layout.soundscape_dir / f for f in labelled.files])
    return labelled, x, ids


def run_baseline(comp_dir, solution_path, seed: int = 0, out_dir=None) -> float:
    """Train on ``comp_dir``'s recordings, score its test soundscapes against ``solution_path``;
    returns the macro ROC-AUC. ``out_dir`` gets ``submission.csv`` and ``baseline.json`` (with the
    score on the labelled soundscapes too, when the folder has a labels file)."""
    started = time.perf_counter()
    torch.manual_seed(seed)
    layout = detect_layout(comp_dir)
    classes = submission_classes(layout.sample_submission_csv)
    features = Features()
    x_train, y_train, skipped = training_set(layout, classes, features)
    x_test, ids, test_skipped = soundscape_windows(layout, features)
    labelled, x_lab, lab_ids = labelled_windows(layout, classes, features)
    probs = fit_predict(x_train, y_train, np.concatenate([x_test, x_lab]), seed)
    submission = pd.DataFrame(probs[: len(x_test)], columns=classes)
    submission.insert(0, "row_id", ids)
    auc = score_submission(submission, pd.read_csv(solution_path), submitted_files_only=bool(test_skipped))
    labelled_auc = None if labelled is None else score_windows(
        pd.DataFrame(probs[len(x_test):], columns=classes).assign(row_id=lab_ids), labelled)
    if out_dir:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        submission.to_csv(out / "submission.csv", index=False)
        summary = {"macro_roc_auc": auc, "labelled_soundscapes_auc": labelled_auc, "competition_dir": str(comp_dir),
                   "year": layout.year, "seed": seed, "train_chunks": len(x_train), "test_windows": len(ids),
                   "features": int(x_train.shape[1]), "skipped": skipped + test_skipped,
                   "seconds": round(time.perf_counter() - started, 1)}
        (out / "baseline.json").write_text(json.dumps(summary, indent=1))
    return auc


def main(argv=None) -> float:
    p = argparse.ArgumentParser(description="Logistic regression on log-mel statistics: a non-deep baseline.")
    p.add_argument("--data-dir", required=True, help="competition folder (any year's layout)")
    p.add_argument("--solution", required=True, help="ground truth of its test soundscapes")
    p.add_argument("--out", default="runs/baseline")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    auc = run_baseline(args.data_dir, args.solution, args.seed, args.out)
    labelled = json.loads((Path(args.out) / "baseline.json").read_text())["labelled_soundscapes_auc"]
    print(f"baseline (logistic regression on log-mel statistics) on {args.data_dir}: macro ROC-AUC {auc:.4f}"
          + (f", on the labelled soundscapes {labelled:.4f}" if labelled is not None else "")
          + f" ({time.perf_counter() - t0:.0f} s); written to {Path(args.out) / 'baseline.json'}")
    return auc


if __name__ == "__main__":
    main()
