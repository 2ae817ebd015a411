"""Checkpoints loaded on a backend, scoring decoded soundscapes: the core of inference.

Models that share mel settings and chunking form a group: the log-mel of each chunk is computed
once per group (``frontend_calls`` counts it) and every member scores those images. Each member
returns its own window probabilities (TTA views aggregated); ``combine`` averages the members,
as probabilities or as ranks. Used in this process and, unchanged, inside each inference worker
process (``birdkit.pool``).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import torch

from .audio import AudioError, load_audio
from .backends import TorchBackend, make_backend
from .features import to_image
from .models import contract_chunk_samples, contract_window_samples, model_from_checkpoint, probabilities
from .tta import aggregate, soundscape_views
from .windows import n_windows, seconds_to_samples, to_chunks


class TTA(NamedTuple):
    """How a soundscape is viewed: shifted copies of every window, aggregated per member."""

    views: int = 1
    shift_seconds: float = 1.0
    aggregation: str = "mean"

    @classmethod
    def from_config(cls, cfg) -> TTA:
        return cls(cfg.tta_views, cfg.tta_shift_seconds, cfg.tta_aggregation)


def _device(model) -> torch.device:
    """Where ``model``'s weights are: a GPU when the torch backend runs there, else the CPU."""
    return next(model.parameters()).device


@dataclass
class Member:
    backend: object
    model: object
    loss: str
    chunk_samples: int


@dataclass
class Ensemble:
    """Members (one per checkpoint) and the groups that share a front end."""
    members: list
    classes: list
    contract: dict                               # the first checkpoint's (classes, mel, window)
    spec: dict = field(default_factory=dict)     # how a worker process loads it again (birdkit.pool)
    frontend_calls: int = 0
    _pool: object = field(default=None, repr=False)   # worker processes (birdkit.infer), kept for reuse

    @classmethod
    def of_model(cls, model, loss: str, chunk_samples: int, classes, device="cpu") -> Ensemble:
        """One live model (not a checkpoint) on torch: validation during training."""
        window_seconds = model.window_samples / model.mel.sample_rate
        contract = {"mel": model.mel.as_dict(), "window_seconds": window_seconds, "classes": list(classes)}
        member = Member(TorchBackend(model, chunk_samples, device), model, loss, chunk_samples)
        return cls([member], list(classes), contract)

    @property
    def sample_rate(self) -> int:
        return self.contract["mel"]["sample_rate"]

    @property
    def window_samples(self) -> int:
        return contract_window_samples(self.contract)

    def groups(self) -> dict:
        """Member indices by what their front end sees: mel settings and the input length."""
        out = {}
        for i, m in enumerate(self.members):
            if m.backend.frontend_in_graph:
                key = ("graph", i)
            else:
                length = self.window_samples if m.model.sed is None else m.chunk_samples
                key = (tuple(sorted(m.model.mel.as_dict().items())), length)
            out.setdefault(key, []).append(i)
        return out

    def member_probs(self, wave: np.ndarray, tta: TTA | None = None) -> np.ndarray:
        """``[members, n_windows, classes]``: each member's window probabilities of one soundscape."""
        tta = tta or TTA()
        window, n = self.window_samples, n_windows(len(wave), self.window_samples)
        views = soundscape_views(wave, window, tta.views, seconds_to_samples(tta.shift_seconds, self.sample_rate))
        out = np.zeros((len(self.members), n, len(self.classes)), dtype=np.float32)
        for members in self.groups().values():
            first = self.members[members[0]]
            chunks = to_chunks(views, first.chunk_samples // window)
            logits = self._group_logits(chunks, members)
            for i, z in zip(members, logits):
                p = probabilities(torch.from_numpy(z), self.members[i].loss).numpy()
                out[i] = aggregate(p.reshape(tta.views, -1, p.shape[-1])[:, :n], tta.aggregation)
        return out

    def _group_logits(self, chunks: np.ndarray, members: list) -> list:
        first = self.members[members[0]]
        if first.backend.frontend_in_graph:
            return [first.backend(chunks)]
        device = _device(first.model)   # a GPU when torch runs there
        with torch.no_grad():
            mels = first.model.mels(first.model.chunk_wave(torch.from_numpy(chunks).to(device)))
        self.frontend_calls += 1
        return [self.members[i].backend.from_images(to_image(mels, self.members[i].model.in_chans))
                for i in members]

    @property
    def on_gpu(self) -> bool:
        return any(_device(m.model).type == "cuda" for m in self.members)

    @torch.no_grad()
    def __call__(self, waves: np.ndarray) -> np.ndarray:
        """Mean probabilities ``[N, classes]`` of single windows ``[N, window]`` (validation clips),
        with each member's torch model (a compiled SED graph is fixed to its chunk length)."""
        x = torch.from_numpy(np.ascontiguousarray(waves, dtype=np.float32))
        return np.mean([probabilities(m.model(x.to(_device(m.model))), m.loss).cpu().numpy()
                        for m in self.members], axis=0)

    def close(self):
        if self._pool is not None:
            self._pool.close()
            self._pool = None


def combine(member_probs: list, how: str = "mean") -> list:
    """Average per-file ``[members, windows, classes]`` arrays over the members: ``mean`` of
    probabilities, or ``rank``: each member's scores ranked per class over all windows of all
    files (0..1), then averaged. Returns per-file ``[windows, classes]`` arrays."""
    if not member_probs:
        return []
    if how == "mean" or member_probs[0].shape[0] == 1:
        return [p.mean(axis=0) for p in member_probs]
    if how != "rank":
        raise ValueError(f"ensemble_average must be mean or rank, got {how!r}")
    sizes = [p.shape[1] for p in member_probs]
    stacked = np.concatenate(member_probs, axis=1)                       # [M, all windows, K]
    ranks = np.stack([pd.DataFrame(m).rank(pct=True).to_numpy() for m in stacked]).mean(axis=0)
    return np.split(ranks.astype(np.float32), np.cumsum(sizes)[:-1])


def load_ensemble(paths, backend: str, work_dir, threads=0, frontend_in_graph=False, export=True,
                  chunk_seconds: float = 0.0, device: str = "cpu") -> Ensemble:
    """Checkpoints -> an ``Ensemble`` on ``backend``; compiled graphs are written to ``work_dir``.
    ``device``: where the torch backend runs ("cuda" in a GPU session; compiled backends are CPU)."""
    members, contract = [], None
    for i, path in enumerate(paths):
        model, c = model_from_checkpoint(path)
        if contract and (c["classes"] != contract["classes"]
                         or contract_window_samples(c) != contract_window_samples(contract)
                         or c["mel"]["sample_rate"] != contract["mel"]["sample_rate"]):
            raise ValueError(f"{path}: classes, scored window or sample rate differ from {paths[0]}")
        contract = contract or c
        chunk = contract_chunk_samples(c, chunk_seconds)
        members.append(Member(make_backend(model, backend, chunk, Path(work_dir) / f"model{i}", threads,
                                           frontend_in_graph, export, device), model, c["loss"], chunk))
    if contract is None:
        raise ValueError("no checkpoint given")
    spec = {"paths": [str(p) for p in paths], "backend": members[0].backend.name, "work_dir": str(work_dir),
            "frontend_in_graph": frontend_in_graph, "chunk_seconds": chunk_seconds}
    return Ensemble(members, contract["classes"], contract, spec)


def score_file(path, ensemble: Ensemble, tta: TTA) -> tuple:
    """(member probabilities [members, windows, classes] | None, AudioError | None, seconds in the model)."""
    return score_wave(ensemble, decode(path, ensemble.sample_rate), tta)


def score_wave(ensemble, wave, tta: TTA):
    """``score_file`` of a decoded wave, or of the ``AudioError`` that decoding gave."""
    if isinstance(wave, AudioError):
        return None, wave, 0.0
    t0 = time.perf_counter()
    probs = ensemble.member_probs(wave, TTA(*tta))
    return probs, None, time.perf_counter() - t0


def decode(path, sr):
    """The decoded wave, or the ``AudioError`` that names why not (so a pool can return it)."""
    try:
        return load_audio(path, sr)
    except AudioError as exc:
        return exc
