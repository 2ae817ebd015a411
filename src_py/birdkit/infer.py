"""Soundscape inference (seed cell 9): every 5-s window of every test file, every label.

Decoding runs in a thread ahead of the model (soundfile releases the GIL); all windows of a
file (times the TTA views) go through the model in one batch; the output is Kaggle's
``submission.csv`` layout.
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .audio import AudioError, load_audio
from .backends import make_backend
from .metrics import file_stems
from .models import model_from_checkpoint
from .tables import check_submission_columns
from .train import probabilities
from .tta import predict_with_tta, smooth_windows
from .windows import n_windows, row_ids, window_samples

FALLBACK_SECONDS = 60.0  # an undecodable test file still gets the rows of a 60-s soundscape
AUDIO_SUFFIXES = {".ogg", ".wav", ".flac", ".mp3", ".opus"}


def list_audio(folder) -> list[Path]:
    folder = Path(folder)
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES) if folder.is_dir() else []


def choose_soundscapes(competition_dir, dry_run_count: int, max_files: int = 0):
    """Test soundscapes, or (public data: empty test folder) a few train soundscapes as a dry run."""
    comp = Path(competition_dir)
    files = list_audio(comp / "test_soundscapes")
    dry_run = not files
    if dry_run:
        files = list_audio(comp / "train_soundscapes")[:dry_run_count]
    return (files[:max_files] if max_files else files), dry_run


@dataclass
class Ensemble:
    """Checkpoints averaged in probability space; each with its own backend."""
    backends: list
    losses: list
    classes: list
    contract: dict

    def __call__(self, waves: np.ndarray) -> np.ndarray:
        import torch
        out = [probabilities(torch.from_numpy(b(waves)), loss).numpy() for b, loss in zip(self.backends, self.losses)]
        return np.mean(out, axis=0)


def load_ensemble(paths, backend: str, work_dir, threads=0, frontend_in_graph=False) -> Ensemble:
    backends, losses, contract = [], [], None
    for i, path in enumerate(paths):
        model, c = model_from_checkpoint(path)
        if contract and (c["classes"] != contract["classes"] or c["mel"] != contract["mel"]):
            raise ValueError(f"{path}: classes or mel settings differ from {paths[0]}")
        contract = contract or c
        window = window_samples(c["mel"])
        backends.append(make_backend(model, backend, window, Path(work_dir) / f"model{i}", threads,
                                     frontend_in_graph))
        losses.append(c["loss"])
    if contract is None:
        raise ValueError("no checkpoint given")
    return Ensemble(backends, losses, contract["classes"], contract)


@dataclass
class InferenceResult:
    submission: pd.DataFrame
    skipped: list = field(default_factory=list)
    timings: dict = field(default_factory=dict)


def predict_soundscapes(files, ensemble: Ensemble, cfg, sample_submission=None, progress=True):
    """Submission rows for ``files``: ``row_id`` + one probability column per class."""
    if sample_submission is not None:
        check_submission_columns(sample_submission, ensemble.classes)
    mel = ensemble.contract["mel"]
    sr, window = mel["sample_rate"], window_samples(mel)
    shift = int(round(cfg.tta_shift_seconds * sr))
    frames, skipped, t_model = [], [], 0.0
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=1) as pool:
        decoded = pool.map(lambda p: _decode(p, sr), files)
        for path, wave in tqdm(zip(files, decoded), total=len(files), desc="soundscapes", disable=not progress):
            if isinstance(wave, AudioError):
                skipped.append({"filename": path.name, "reason": wave.reason, "error": wave.detail})
                probs = np.zeros((n_windows(int(FALLBACK_SECONDS * sr), window), len(ensemble.classes)))
            else:
                t0 = time.perf_counter()
                probs = predict_with_tta(ensemble, wave, window, cfg.tta_views, shift, cfg.tta_aggregation)
                t_model += time.perf_counter() - t0
            probs = smooth_windows(probs, cfg.smoothing)
            ids = row_ids(path.stem, len(probs), mel["window_seconds"])
            frames.append(pd.DataFrame(probs.astype(np.float32), columns=ensemble.classes).assign(row_id=ids))
    sub = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=ensemble.classes + ["row_id"])
    sub = sub[["row_id"] + list(ensemble.classes)]
    total = time.perf_counter() - started
    return InferenceResult(sub, skipped, {"files": len(files), "seconds": total, "model_seconds": t_model})


def _decode(path, sr):
    try:
        return load_audio(path, sr)
    except AudioError as exc:
        return exc


def seed_view(submission: pd.DataFrame) -> pd.DataFrame:
    """The seed notebook's view: per file, the top species over its windows and its confidence."""
    labels = submission.columns[1:]
    files = file_stems(submission["row_id"])
    peak = submission[labels].groupby(files.values).max()
    return pd.DataFrame({"filename": peak.index, "predicted_species": peak.idxmax(axis=1).values,
                         "confidence": peak.max(axis=1).values})
