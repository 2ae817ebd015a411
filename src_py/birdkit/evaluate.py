"""Measuring what TTA changes in the competition metric."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from .audio import AudioError, load_audio
from .infer import choose_soundscapes, predict_soundscapes
from .metrics import macro_roc_auc, score_submission
from .tables import label_map
from .tta import aggregate, clip_views
from .windows import window_samples


def clip_tta_table(ensemble, val: pd.DataFrame, cfg):
    """Metric on validation recordings with 1 view (first window) and ``cfg.tta_views`` crops."""
    mel = ensemble.contract["mel"]
    window = window_samples(mel)
    rng = np.random.default_rng(cfg.seed)
    index = label_map(ensemble.classes)
    single, multi, truth, skipped = [], [], [], []
    for row in val.itertuples(index=False):
        try:
            wave = load_audio(row.path, mel["sample_rate"])
        except AudioError as exc:
            skipped.append({"filename": row.filename, "reason": exc.reason})
            continue
        probs = ensemble(clip_views(wave, window, cfg.tta_views, rng))
        single.append(probs[0])
        multi.append(aggregate(probs, cfg.tta_aggregation))
        truth.append(index[str(row.primary_label)])
    onehot = np.eye(len(ensemble.classes))[truth]
    rows = [("off (first 5 s)", 1, single), (f"on ({cfg.tta_aggregation} of crops)", cfg.tta_views, multi)]
    table = pd.DataFrame([{"TTA": name, "views": v, "macro ROC-AUC": macro_roc_auc(onehot, np.array(p)),
                           "top-1": float((np.argmax(p, axis=1) == truth).mean())} for name, v, p in rows])
    return table, skipped


def soundscape_tta_table(ensemble, comp, cfg) -> pd.DataFrame:
    """Competition metric on the test soundscapes with TTA off and on (needs a solution file)."""
    solution = pd.read_csv(cfg.solution_path)
    files, _ = choose_soundscapes(comp, cfg.dry_run_soundscapes, cfg.max_test_files)
    rows = []
    for views in sorted({1, cfg.tta_views}):
        run_cfg = dataclasses.replace(cfg, tta_views=views)
        result = predict_soundscapes(files, ensemble, run_cfg, progress=False)
        rows.append({"TTA views": views, "aggregation": cfg.tta_aggregation,
                     "macro ROC-AUC": score_submission(result.submission, solution, bool(cfg.max_test_files)),
                     "seconds": round(result.timings["seconds"], 1)})
    return pd.DataFrame(rows)
