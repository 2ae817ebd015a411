"""Measuring what TTA changes in the competition metric."""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..data.audio import AudioError, load_audio
from ..data.labels import score_windows
from ..data.tables import label_map
from ..infer.ensemble import Ensemble
from ..infer.predict import choose_soundscapes, predict_soundscapes
from ..infer.tta import aggregate, clip_views
from ..metrics import macro_roc_auc, score_submission
from ..models import contract_window_samples

if TYPE_CHECKING:
    from ..config import Config


def first_model(ensemble: Ensemble) -> Ensemble:
    """The ensemble's first member alone (validation clips: the first fold's model never saw them)."""
    return Ensemble(ensemble.members[:1], ensemble.classes, ensemble.contract)


def clip_tta_table(ensemble, val: pd.DataFrame, cfg: Config):
    """Metric on validation recordings for each of ``cfg.tta_compare_views``: 1 view is the first
    window, more add random crops (the seed's clip TTA), aggregated with ``cfg.tta_aggregation``."""
    mel = ensemble.contract["mel"]
    window = contract_window_samples(ensemble.contract)
    counts = sorted({int(v) for v in cfg.tta_compare_views})
    rng = np.random.default_rng(cfg.seed)
    index = label_map(ensemble.classes)
    per_view, truth, skipped = [], [], []
    for row in val.itertuples(index=False):
        try:
            wave = load_audio(row.path, mel["sample_rate"])
        except AudioError as exc:
            skipped.append({"filename": row.filename, "reason": exc.reason})
            continue
        per_view.append(ensemble(clip_views(wave, window, counts[-1], rng)))
        truth.append(index[str(row.primary_label)])
    onehot = np.eye(len(ensemble.classes))[truth]
    rows = []
    for v in counts:
        p = np.array([aggregate(probs[:v], cfg.tta_aggregation) for probs in per_view])
        rows.append({"TTA": "off (first window)" if v == 1 else f"{cfg.tta_aggregation} of first + {v - 1} crops",
                     "views": v, "macro ROC-AUC": macro_roc_auc(onehot, p) if len(p) else float("nan"),
                     "top-1": float((np.argmax(p, axis=1) == truth).mean()) if len(p) else float("nan")})
    return pd.DataFrame(rows), skipped


def soundscape_tta_table(ensemble, comp, cfg: Config) -> pd.DataFrame:
    """Competition metric on the test soundscapes for each of ``cfg.tta_compare_views`` shifted
    views (needs a solution file)."""
    solution = pd.read_csv(cfg.solution_path)
    files, _ = choose_soundscapes(comp, cfg.dry_run_soundscapes, cfg.max_test_files)
    rows = []
    for views in sorted({int(v) for v in cfg.tta_compare_views}):
        run_cfg = dataclasses.replace(cfg, tta_views=views)
        result = predict_soundscapes(files, ensemble, run_cfg, progress=False)
        rows.append({"TTA views": views, "aggregation": cfg.tta_aggregation,
                     "macro ROC-AUC": score_submission(result.submission, solution, bool(cfg.max_test_files)),
                     "seconds": round(result.timings["seconds"], 1)})
    return pd.DataFrame(rows)


def labelled_tta_table(ensemble, tables, cfg: Config) -> pd.DataFrame:
    """The competition metric on the labelled soundscape windows (validation data, not the test set)
    for each of ``cfg.tta_compare_views``, with and without ``smoothing``: where to choose TTA."""
    labelled, folder = tables.labelled, tables.layout.soundscape_dir
    files = [folder / name for name in labelled.files]
    rows = []
    for views in sorted({int(v) for v in cfg.tta_compare_views}):
        run_cfg = dataclasses.replace(cfg, tta_views=views, smoothing=0.0, file_max_rescale=0.0)
        result = predict_soundscapes(files, ensemble, run_cfg, progress=False)
        rows.append({"TTA views": views, "aggregation": cfg.tta_aggregation,
                     "labelled windows macro ROC-AUC": score_windows(result.submission, labelled),
                     "seconds": round(result.timings["seconds"], 1)})
    return pd.DataFrame(rows)
