"""Soundscape inference (seed cell 9): every 5-s window of every test file, every label.

Each file is decoded, turned into log-mels and scored with all its windows (times the TTA
views) in one batch. With ``infer_workers`` 0 (the default) and at least ``AUTO_POOL_MIN_FILES``
files (Kaggle's rerun on the hidden test set), that runs in one worker process per CPU core,
each with one thread (``birdkit.pool``), so decoding in one process overlaps the model in
another and no two thread pools fight over a core; fewer files, or ``infer_workers: 1``, run in
this process, with a decode thread ahead of the model; ``infer_workers: N`` forces N workers.
The output is Kaggle's ``submission.csv`` layout.
"""
from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .audio import AudioError, audio_info
from .competition import SOUNDSCAPE_DIRS
from .ensemble import TTA, Ensemble, combine, decode, load_ensemble, score_wave  # noqa: F401  (notebooks' entry)
from .metrics import file_stems
from .pool import WorkerPool
from .progress import progress_bar
from .tables import check_submission_columns
from .tta import rescale_by_file_max, smooth_windows
from .windows import n_windows, row_ids

FALLBACK_SECONDS = 60.0  # an undecodable test file with no readable header: rows of a 60-s soundscape
AUDIO_SUFFIXES = {".ogg", ".wav", ".flac", ".mp3", ".opus"}


def list_audio(folder) -> list[Path]:
    folder = Path(folder)
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES) if folder.is_dir() else []


def choose_soundscapes(competition_dir, dry_run_count: int, max_files: int = 0):
    """Test soundscapes, or (public data: empty test folder) a few train soundscapes as a dry run."""
    comp = Path(competition_dir)
    files = list_audio(comp / "test_soundscapes")
    dry_run = not files
    if dry_run:  # train_soundscapes/ (2025, 2026) or unlabeled_soundscapes/ (2024)
        folder = next((comp / d for d in SOUNDSCAPE_DIRS if (comp / d).is_dir()), comp / "train_soundscapes")
        files = list_audio(folder)[:dry_run_count]
    stems = {}
    for f in files:  # row_ids come from the stem: x.ogg and x.wav would write the same rows
        if f.stem in stems:
            raise ValueError(f"{stems[f.stem]} and {f} share the name {f.stem!r}, so their rows would share "
                             "row_ids; rename or remove one")
        stems[f.stem] = f
    return (files[:max_files] if max_files else files), dry_run


@dataclass
class InferenceResult:
    submission: pd.DataFrame
    skipped: list = field(default_factory=list)
    timings: dict = field(default_factory=dict)


AUTO_POOL_MIN_FILES = 64  # starting workers costs 5-10 s: worth it for Kaggle's ~700 files, not for a dry run


def cpu_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def worker_count(setting: int, n_files: int) -> int:
    """Inference processes, never more than the files. ``setting`` 0 = automatic: one per usable
    core from ``AUTO_POOL_MIN_FILES`` files on, else 1 (this process)."""
    if setting == 0:
        setting = cpu_cores() if n_files >= AUTO_POOL_MIN_FILES else 1
    return max(1, min(setting, n_files))


def fallback_seconds(path, default: float = FALLBACK_SECONDS) -> float:
    """Length of an undecodable file: from its header when that reads (and claims 0-60 min), else
    ``default`` (the year's test file length, ``Layout.test_file_seconds``)."""
    try:
        seconds = audio_info(path)[1]
    except AudioError:
        return float(default)
    return seconds if 0 < seconds <= 3600 else float(default)


def predict_soundscapes(files, ensemble: Ensemble, cfg, sample_submission=None, progress=True,
                        file_seconds: float = FALLBACK_SECONDS):
    """Submission rows for ``files``: ``row_id`` + one probability column per class.

    Each file's members are scored (in worker processes or here), then averaged over the members
    (``ensemble_average``: mean, or ranks over all files), then post-processed per file
    (``file_max_rescale``, ``smoothing``). An undecodable file gets zero rows for its header's
    length, else ``file_seconds``.
    """
    if sample_submission is not None:
        check_submission_columns(sample_submission, ensemble.classes)
    sr, window = ensemble.sample_rate, ensemble.window_samples
    workers = 1 if ensemble.on_gpu else worker_count(cfg.infer_workers, len(files))
    tta = TTA.from_config(cfg)
    per_file, skipped, t_model = [], [], 0.0
    started = time.perf_counter()
    scored = pool_for(ensemble, workers).map(files, tta) if workers > 1 else _in_process(files, ensemble, tta)
    for path, (probs, error, seconds) in progress_bar(zip(files, scored), total=len(files), desc="soundscapes",
                                              disable=not progress):
        if error is not None:
            skipped.append({"filename": path.name, "reason": error.reason, "error": error.detail})
            seconds_of_file = fallback_seconds(path, file_seconds)
            probs = np.zeros((len(ensemble.members), n_windows(int(seconds_of_file * sr), window),
                              len(ensemble.classes)), dtype=np.float32)
        t_model += seconds
        per_file.append(probs)
    frames = []
    for path, probs in zip(files, combine(per_file, cfg.ensemble_average)):
        probs = smooth_windows(rescale_by_file_max(probs, cfg.file_max_rescale), cfg.smoothing)
        ids = row_ids(path.stem, len(probs), window / sr)
        frames.append(pd.DataFrame(probs.astype(np.float32), columns=ensemble.classes).assign(row_id=ids))
    sub = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=ensemble.classes + ["row_id"])
    sub = sub[["row_id"] + list(ensemble.classes)]
    total = time.perf_counter() - started
    return InferenceResult(sub, skipped, {"files": len(files), "seconds": total, "model_seconds": t_model,
                                          "workers": workers, "members": len(ensemble.members),
                                          "frontend_calls": ensemble.frontend_calls})


def pool_for(ensemble: Ensemble, workers: int) -> WorkerPool:
    """Worker processes holding ``ensemble``, started once and kept (``ensemble.close()`` stops them)."""
    if ensemble._pool is None or ensemble._pool.workers != workers:
        ensemble.close()
        ensemble._pool = WorkerPool(ensemble.spec, workers)
    return ensemble._pool


def _in_process(files, ensemble, tta):
    """This process: a decode thread one file ahead (soundfile releases the GIL), then the model."""
    sr = ensemble.contract["mel"]["sample_rate"]
    with ThreadPoolExecutor(max_workers=1) as pool:
        for wave in pool.map(lambda p: decode(p, sr), files):
            yield score_wave(ensemble, wave, tta)



def seed_view(submission: pd.DataFrame) -> pd.DataFrame:
    """The seed notebook's view: per file, the top species over its windows and its confidence."""
    labels = submission.columns[1:]
    files = file_stems(submission["row_id"])
    peak = submission[labels].groupby(files.values).max()
    return pd.DataFrame({"filename": peak.index, "predicted_species": peak.idxmax(axis=1).values,
                         "confidence": peak.max(axis=1).values})
