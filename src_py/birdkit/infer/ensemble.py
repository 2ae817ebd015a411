"""Checkpoints loaded on a backend, scoring decoded soundscapes: the core of inference.

Models that share mel settings and chunking form a group: the log-mel of each chunk is computed
once per group (``frontend_calls`` counts it) and every member scores those images. Each member
returns its own window probabilities (TTA views aggregated); ``combine`` averages the members,
as probabilities or as ranks. Used in this process and, unchanged, inside each inference worker
process (``birdkit.infer.pool``).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import pandas as pd
import torch

from ..data.audio import AudioError, load_audio, resample
from ..data.windows import n_windows, to_chunks
from ..models import contract_chunk_samples, contract_window_samples, model_from_checkpoint, probabilities
from ..models.frontend import to_image
from ..util.units import seconds_to_samples
from .backends import TorchBackend, make_backend
from .tta import aggregate, soundscape_views

if TYPE_CHECKING:
    from ..config import Config


class TTA(NamedTuple):
    """How a soundscape is viewed: shifted copies of every window, aggregated per member."""

    views: int = 1
    shift_seconds: float = 1.0
    aggregation: str = "mean"

    @classmethod
    def from_config(cls, cfg: Config) -> TTA:
        return cls(cfg.tta_views, cfg.tta_shift_seconds, cfg.tta_aggregation)


def _device(model) -> torch.device:
    """Where ``model``'s weights are: a GPU when the torch backend runs there, else the CPU."""
    return next(model.parameters()).device


@dataclass
class Scored:
    """One soundscape scored: ``probs`` ``[members, windows, classes]`` (rows of members not
    ``active`` are 0), or ``error`` (the file could not be decoded or scored)."""
    probs: np.ndarray | None
    error: AudioError | None = None
    seconds: float = 0.0                                  # wall seconds for the file (decode + model)
    audio_seconds: float = 0.0                            # length of the decoded soundscape
    views: int = 1                                        # TTA views it was scored with
    active: tuple = ()                                    # member indices that were asked
    member_seconds: dict = field(default_factory=dict)    # member index -> seconds
    member_errors: dict = field(default_factory=dict)     # member index -> "Type: message"


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _timed(calls: dict, out: Scored, catch: bool) -> dict:
    """Run each ``index -> call``; add its seconds to ``out.member_seconds``, its error to
    ``out.member_errors`` (with ``catch``), and return the results that came back."""
    results = {}
    for i, call in calls.items():
        t0 = time.perf_counter()
        try:
            results[i] = call()
        except Exception as exc:
            if not catch:
                raise
            out.member_errors[i] = _describe(exc)
        out.member_seconds[i] = out.member_seconds.get(i, 0.0) + time.perf_counter() - t0
    return results


@dataclass
class Member:
    backend: object
    model: object
    loss: str
    chunk_samples: int
    weight: float = 1.0          # its weight in the ensemble average (``ensemble_weights``)


@dataclass
class Ensemble:
    """Members (one per checkpoint) and the groups that share a front end."""
    members: list
    classes: list
    contract: dict                               # the first checkpoint's (classes, mel, window)
    spec: dict = field(default_factory=dict)     # how a worker process loads it again (birdkit.infer.pool)
    frontend_calls: int = 0
    _pool: object = field(default=None, repr=False)   # worker processes (birdkit.infer.predict), kept for reuse

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
            if getattr(m, "foundation", False):
                continue   # scored on its own rate's wave (``_foundation_probs``)
            if m.backend.frontend_in_graph:
                key = ("graph", i)
            else:
                length = m.model.image_samples(m.chunk_samples)   # the head says what its backbone sees
                key = (tuple(sorted(m.model.mel.as_dict().items())), length)
            out.setdefault(key, []).append(i)
        return out

    def member_probs(self, wave: np.ndarray, tta: TTA | None = None) -> np.ndarray:
        """``[members, n_windows, classes]``: each member's window probabilities of one soundscape
        (any member's exception is raised: validation and benchmarks want to see it)."""
        return self.score(wave, tta, catch=False).probs

    def score(self, wave: np.ndarray, tta: TTA | None = None, active=None, catch: bool = True) -> Scored:
        """Window probabilities of the ``active`` members (default all; the others' rows stay 0),
        with each member's seconds (its model call plus its share of the group's front end). With
        ``catch``, a member that raises is recorded in ``member_errors`` and the others go on."""
        tta = tta or TTA()
        active = set(range(len(self.members))) if active is None else set(active)
        window, n = self.window_samples, n_windows(len(wave), self.window_samples)
        views = soundscape_views(wave, window, tta.views, seconds_to_samples(tta.shift_seconds, self.sample_rate))
        out = Scored(np.zeros((len(self.members), n, len(self.classes)), dtype=np.float32), views=tta.views,
                     active=tuple(sorted(active)))
        for members in self.groups().values():
            members = [i for i in members if i in active]
            if not members:
                continue
            chunks = to_chunks(views, self.members[members[0]].chunk_samples // window)
            for i, z in self._group_logits(chunks, members, out, catch).items():
                p = probabilities(torch.from_numpy(z), self.members[i].loss).numpy()
                out.probs[i] = aggregate(p.reshape(tta.views, -1, p.shape[-1])[:, :n], tta.aggregation)
        self._foundation_probs(wave, n, active, out, catch)
        return out

    def _foundation_probs(self, wave: np.ndarray, n: int, active: set, out: Scored, catch: bool) -> None:
        """Pretrained-model members (``birdkit.foundation.member``): the wave resampled once per rate,
        one model call per file for the members that share a model (head and zero-shot), its
        seconds split between them."""
        rates, shared = {}, {}
        members = [i for i, m in enumerate(self.members) if i in active and getattr(m, "foundation", False)]
        for i in members:
            m = self.members[i]
            shared.setdefault(m.shared_key, []).append(i)
        for indices in shared.values():
            first = self.members[indices[0]]

            def pooled(m=first):
                if m.sample_rate not in rates:
                    rates[m.sample_rate] = resample(wave, self.sample_rate, m.sample_rate)
                return m.pooled(rates[m.sample_rate], n)

            got = _timed({indices[0]: pooled}, out, catch)
            seconds = out.member_seconds.pop(indices[0])
            if indices[0] in out.member_errors:
                out.member_errors.update({i: out.member_errors[indices[0]] for i in indices})
                continue
            for i in indices:
                out.member_seconds[i] = seconds / len(indices)
            calls = {i: (lambda m=self.members[i], g=got[indices[0]]: m.from_pooled(*g)) for i in indices}
            for i, p in _timed(calls, out, catch).items():
                out.probs[i] = p

    @property
    def class_masks(self) -> np.ndarray:
        """``[members, classes]``: which classes each member scores (a zero-shot member has no
        score for an unmapped class, so the average leaves it out there)."""
        return np.stack([getattr(m, "class_mask", np.ones(len(self.classes), bool)) for m in self.members])

    def _group_logits(self, chunks: np.ndarray, members: list, out: Scored, catch: bool) -> dict:
        """Logits per member index; seconds and errors go to ``out``."""
        first = self.members[members[0]]
        if first.backend.frontend_in_graph:
            return _timed({members[0]: lambda: first.backend(chunks)}, out, catch)
        device = _device(first.model)   # a GPU when torch runs there
        t0 = time.perf_counter()
        try:
            with torch.no_grad():
                mels = first.model.mels(first.model.chunk_wave(torch.from_numpy(chunks).to(device)))
        except Exception as exc:
            if not catch:
                raise
            out.member_errors.update({i: _describe(exc) for i in members})
            return {}
        self.frontend_calls += 1
        share = (time.perf_counter() - t0) / len(members)
        out.member_seconds.update({i: share for i in members})
        calls = {i: (lambda m=self.members[i]: m.backend.from_images(to_image(mels, m.model.in_chans)))
                 for i in members}
        return _timed(calls, out, catch)

    @property
    def on_gpu(self) -> bool:
        return any(_device(m.model).type == "cuda" for m in self.members if not getattr(m, "foundation", False))

    @torch.no_grad()
    def __call__(self, waves: np.ndarray) -> np.ndarray:
        """Mean probabilities ``[N, classes]`` of single windows ``[N, window]`` (validation clips),
        with each member's torch model (a compiled SED graph is fixed to its chunk length)."""
        x = torch.from_numpy(np.ascontiguousarray(waves, dtype=np.float32))
        return np.mean([probabilities(m.model(x.to(_device(m.model))), m.loss).cpu().numpy()
                        for m in self.members if not getattr(m, "foundation", False)], axis=0)

    def close(self):
        if self._pool is not None:
            self._pool.close()
            self._pool = None


def combine(member_probs: list, how: str = "mean", weights=None, masks=None) -> list:
    """Average per-file ``[members, windows, classes]`` arrays over the members (``weights``: one
    per member, default equal): ``mean`` of probabilities, or ``rank``: each member's scores ranked
    per class over all windows of all files (0..1), then averaged. ``masks`` ``[members,
    classes]``: a member counts only in its True classes (weights renormalised per class; a class
    no member scores averages them all). Returns per-file ``[windows, classes]`` arrays."""
    if not member_probs:
        return []
    m_count, k = member_probs[0].shape[0], member_probs[0].shape[2]
    w = np.ones(m_count) if weights is None else np.asarray(weights, dtype=np.float64)
    wk = np.repeat(w[:, None], k, axis=1) * (np.ones((m_count, k)) if masks is None else np.asarray(masks, bool))
    wk[:, wk.sum(axis=0) <= 0] = w[:, None]
    wk = (wk / wk.sum(axis=0, keepdims=True)).astype(np.float32)       # [M, K]
    if how == "mean" or m_count == 1:
        return [np.einsum("mk,mwk->wk", wk, p) for p in member_probs]
    if how != "rank":
        raise ValueError(f"ensemble_average must be mean or rank, got {how!r}")
    sizes = [p.shape[1] for p in member_probs]
    stacked = np.concatenate(member_probs, axis=1)                       # [M, all windows, K]
    ranks = np.stack([pd.DataFrame(m).rank(pct=True).to_numpy() for m in stacked]).astype(np.float32)
    return np.split(np.einsum("mk,mwk->wk", wk, ranks), np.cumsum(sizes)[:-1])


def load_ensemble(paths, backend: str, work_dir, threads=0, frontend_in_graph=False, export=True,
                  chunk_seconds: float = 0.0, device: str = "cpu", weights=(), skip_broken: bool = False,
                  foundation=()) -> Ensemble:
    """Checkpoints -> an ``Ensemble`` on ``backend``; compiled graphs are written to ``work_dir``.
    ``device``: where the torch backend runs ("cuda" in a GPU session; compiled backends are CPU).
    ``weights``: one per checkpoint (``ensemble_weights``; empty = equal). ``skip_broken``: a
    checkpoint that fails to load or compile is left out with its error printed (the submission
    goes on with the others), unless none is left. ``foundation``: specs of pretrained-model
    members (``birdkit.foundation.member.member_spec``; their weights are in the specs), after the
    checkpoints; with them, ``paths`` may be empty."""
    paths, foundation = list(paths), list(foundation)
    if weights and len(weights) != len(paths):
        also = (f", then one per pretrained-model member ({', '.join(s['kind'] for s in foundation)}): "
                f"{len(paths) + len(foundation)} in all") if foundation else ""
        raise ValueError(f"ensemble_weights has {len(weights)} weights for {len(paths)} checkpoints: "
                         f"give one per checkpoint, in the order {[str(p) for p in paths]}{also}")
    members, contract, kept, errors = [], None, [], []
    for i, path in enumerate(paths):
        try:
            model, c = model_from_checkpoint(path)
            if contract and (c["classes"] != contract["classes"]
                             or contract_window_samples(c) != contract_window_samples(contract)
                             or c["mel"]["sample_rate"] != contract["mel"]["sample_rate"]):
                raise ValueError(f"{path}: classes, scored window or sample rate differ from {kept[0]}")
            chunk = contract_chunk_samples(c, chunk_seconds)
            folder = Path(work_dir) / f"model{len(members)}"   # a worker reloads the kept ones in order
            made = make_backend(model, backend, chunk, folder, threads, frontend_in_graph, export, device)
        except Exception as exc:
            if not skip_broken:
                raise
            errors.append(f"{path}: {_describe(exc)}")
            print(f"[ensemble] model {i} left out: {errors[-1]}")
            continue
        contract = contract or c
        members.append(Member(made, model, c["loss"], chunk, float(weights[i]) if weights else 1.0))
        kept.append(path)
    members += _foundation_members(foundation, threads, skip_broken, errors)
    if contract is None and len(members):   # pretrained members only: decode at the competition rate
        first = foundation[0]
        contract = {"classes": list(first["classes"]), "window_seconds": first["scored_seconds"],
                    "mel": {"sample_rate": first["sample_rate"]}}
    if contract is None or not members:
        what = "no checkpoint or foundation member" if foundation else "no checkpoint"
        raise ValueError(f"{what} given" if not errors else f"{what} could be loaded:\n  "
                         + "\n  ".join(errors))
    backend_name = next((m.backend.name for m in members if not getattr(m, "foundation", False)), "foundation")
    spec = {"paths": [str(p) for p in kept], "backend": backend_name, "work_dir": str(work_dir),
            "frontend_in_graph": frontend_in_graph, "chunk_seconds": chunk_seconds,
            "foundation": [m.spec for m in members if getattr(m, "foundation", False)]}
    return Ensemble(members, contract["classes"], contract, spec)


def _foundation_members(specs, threads: int, skip_broken: bool, errors: list) -> list:
    from ..foundation.member import from_spec

    out = []
    for spec in specs:
        try:
            out.append(from_spec(spec, threads))
        except Exception as exc:
            if not skip_broken:
                raise
            errors.append(f"{spec['model']} {spec['kind']}: {_describe(exc)}")
            print(f"[ensemble] {spec['model']} {spec['kind']} left out: {errors[-1]}")
    return out


def score_file(path, ensemble: Ensemble, tta: TTA, active=None) -> Scored:
    """One file decoded and scored by the ``active`` members. A file that does not decode, raises
    while scored, or that every asked member failed on, comes back as ``Scored.error``."""
    t0 = time.perf_counter()
    out = score_wave(ensemble, decode(path, ensemble.sample_rate), tta, active, path)
    out.seconds = time.perf_counter() - t0
    return out


def score_wave(ensemble, wave, tta: TTA, active=None, path="<wave>") -> Scored:
    """``score_file`` of a decoded wave, or of the ``AudioError`` that decoding gave."""
    if isinstance(wave, AudioError):
        return Scored(None, wave)
    t0 = time.perf_counter()
    try:
        out = ensemble.score(wave, TTA(*tta), active)
    except Exception as exc:   # planning the windows failed: the file, not a member
        return Scored(None, AudioError(path, "scoring failed", _describe(exc)))
    if out.member_errors and set(out.member_errors) >= set(out.active):
        detail = "; ".join(f"model {i}: {e}" for i, e in sorted(out.member_errors.items()))
        return Scored(None, AudioError(path, "scoring failed", detail), member_errors=out.member_errors)
    out.seconds, out.audio_seconds = time.perf_counter() - t0, len(wave) / ensemble.sample_rate
    return out


def decode(path, sr):
    """The decoded wave, or the ``AudioError`` that names why not (so a pool can return it)."""
    try:
        return load_audio(path, sr)
    except AudioError as exc:
        return exc
