"""Checkpoints loaded on a backend and averaged: what scores a decoded soundscape.

Used in this process and, unchanged, inside each inference worker process (``birdkit.pool``).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .audio import AudioError, load_audio
from .backends import make_backend
from .models import contract_window_samples, model_from_checkpoint, probabilities
from .tta import predict_with_tta
from .windows import seconds_to_samples


@dataclass
class Ensemble:
    """Checkpoints averaged in probability space; each with its own backend."""
    backends: list
    losses: list
    classes: list
    contract: dict
    spec: dict = field(default_factory=dict)  # how a worker process loads it again (birdkit.pool)

    _pool: object = field(default=None, repr=False)  # worker processes (birdkit.infer), kept for reuse

    def __call__(self, waves: np.ndarray) -> np.ndarray:
        out = [probabilities(torch.from_numpy(b(waves)), loss).numpy() for b, loss in zip(self.backends, self.losses)]
        return np.mean(out, axis=0)

    def close(self):
        if self._pool is not None:
            self._pool.close()
            self._pool = None


def load_ensemble(paths, backend: str, work_dir, threads=0, frontend_in_graph=False, export=True) -> Ensemble:
    """Checkpoints -> an ``Ensemble`` on ``backend``; compiled graphs are written to ``work_dir``."""
    backends, losses, contract = [], [], None
    for i, path in enumerate(paths):
        model, c = model_from_checkpoint(path)
        if contract and (c["classes"] != contract["classes"] or c["mel"] != contract["mel"]):
            raise ValueError(f"{path}: classes or mel settings differ from {paths[0]}")
        contract = contract or c
        window = contract_window_samples(c)
        backends.append(make_backend(model, backend, window, Path(work_dir) / f"model{i}", threads,
                                     frontend_in_graph, export))
        losses.append(c["loss"])
    if contract is None:
        raise ValueError("no checkpoint given")
    spec = {"paths": [str(p) for p in paths], "backend": backends[0].name, "work_dir": str(work_dir),
            "frontend_in_graph": frontend_in_graph}
    return Ensemble(backends, losses, contract["classes"], contract, spec)


def score_file(path, ensemble: Ensemble, tta) -> tuple:
    """(probabilities [windows, classes] | None, AudioError | None, seconds in the model) of one file."""
    return score_wave(ensemble, decode(path, ensemble.contract["mel"]["sample_rate"]), tta)


def score_wave(ensemble, wave, tta):
    """``score_file`` of a decoded wave, or of the ``AudioError`` that decoding gave."""
    if isinstance(wave, AudioError):
        return None, wave, 0.0
    views, shift_seconds, how = tta
    mel = ensemble.contract["mel"]
    t0 = time.perf_counter()
    probs = predict_with_tta(ensemble, wave, contract_window_samples(ensemble.contract), views,
                             seconds_to_samples(shift_seconds, mel["sample_rate"]), how)
    return probs, None, time.perf_counter() - t0


def decode(path, sr):
    """The decoded wave, or the ``AudioError`` that names why not (so a pool can return it)."""
    try:
        return load_audio(path, sr)
    except AudioError as exc:
        return exc
