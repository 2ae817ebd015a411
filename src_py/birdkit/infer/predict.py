"""Soundscape inference (seed cell 9): every 5-s window of every test file, every label.

Each file is decoded, turned into log-mels and scored with all its windows (times the TTA
views) in one batch. With ``infer_workers`` 0 (the default) and at least ``AUTO_POOL_MIN_FILES``
files (Kaggle's rerun on the hidden test set), that runs in one worker process per CPU core,
each with one thread (``birdkit.infer.pool``), so decoding in one process overlaps the model in
another and no two thread pools fight over a core; fewer files, or ``infer_workers: 1``, run in
this process, with a decode thread ahead of the model; ``infer_workers: N`` forces N workers.
The output is Kaggle's ``submission.csv`` layout, and each scored file's ``[windows, classes]``
array (``InferenceResult.per_file``).

``inference_plan`` is the one place that decides the backend, the device, the workers and the
threads of a stage that scores soundscapes (70_inference, 60_tta, and self-training's estimate
and round alike):

- backend: ``cfg.backend``, or torch where its package is missing (loading says so in a banner)
  and on a GPU.
- device: the session's GPU where the stage may use one (``use_gpu``: pseudo-labelling in a
  training session) and torch sees one; else the CPU. The submission never asks for a GPU:
  Kaggle reruns it on CPUs, and its time budget is CPU time.
- workers: 1 on a GPU; else ``worker_count(infer_workers, files)``.
- threads: the backend's threads in this process (``threads``; 0 = the library's default); each
  worker process runs one.
"""
from __future__ import annotations

import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch

from ..data.competition import SOUNDSCAPE_DIRS
from ..data.tables import check_submission_columns
from ..metrics import file_stems
from ..util.accelerator import cpu_cores  # noqa: F401  (projection, bench)
from ..util.progress import progress_bar
from .backends import resolve_backend
from .budget import Budget
from .ensemble import TTA, Ensemble, combine, decode, load_ensemble, score_wave  # noqa: F401  (notebooks' entry)
from .pool import WorkerPool
from .postprocess import rescale_by_file_max, smooth_windows
from .submission import FALLBACK_SECONDS, SubmissionWriter, fallback_frame, window_frame

if TYPE_CHECKING:
    from ..config import Config

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
    budget: Budget | None = None
    per_file: dict = field(default_factory=dict)   # each scored file (as given) -> its submission rows'
                                                   # [windows, classes] float32 array, before any prior


AUTO_POOL_MIN_FILES = 64  # starting workers costs 5-10 s: worth it for Kaggle's ~700 files, not for a dry run


def worker_count(setting: int, n_files: int) -> int:
    """Inference processes, never more than the files. ``setting`` 0 = automatic: one per usable
    core from ``AUTO_POOL_MIN_FILES`` files on, else 1 (this process)."""
    if setting == 0:
        setting = cpu_cores() if n_files >= AUTO_POOL_MIN_FILES else 1
    return max(1, min(setting, n_files))


def gpu_here() -> bool:
    """Whether torch sees a GPU in this session (a training kernel's; Kaggle's submission has none)."""
    return torch.cuda.is_available()


@dataclass(frozen=True)
class Plan:
    """How a stage scores soundscapes (``inference_plan`` decides it)."""
    backend: str          # what scores: cfg.backend, or torch (on a GPU, or where its package is missing)
    device: str           # "cuda" or "cpu"
    workers: int          # scoring processes; 1 = this process
    threads: int          # the backend's threads in this process; 0 = the library's default
    asked: str = ""       # cfg.backend: loading asks for it, so that a missing package is announced

    def describe(self) -> str:
        missing = self.device == "cpu" and self.asked not in ("", self.backend)
        where = (f"{self.workers} worker processes of one thread" if self.workers > 1
                 else f"in this process, {self.threads or 'default'} thread(s)")
        return (f"inference plan: {self.backend}" + (f" ({self.asked} is not installed)" if missing else "")
                + f" on {self.device}, {where}")

    def load(self, cfg: Config, paths, work_dir, **kwargs) -> Ensemble:
        """``paths`` loaded as this plan says, with ``cfg``'s chunking and front-end placement
        (``kwargs``: ``load_ensemble``'s ``weights``, ``skip_broken``)."""
        backend = self.asked if self.device == "cpu" and self.asked else self.backend
        foundation = list(kwargs.pop("foundation", ()))
        weights = split_weights(list(kwargs.pop("weights", ())), len(paths), foundation, bool(cfg.foundation_members))
        return load_ensemble(paths, backend, work_dir, self.threads, cfg.frontend_in_graph,
                             chunk_seconds=cfg.infer_chunk_seconds, device=self.device, weights=weights,
                             foundation=foundation, **kwargs)


def split_weights(weights: list, n_checkpoints: int, foundation: list, members_configured: bool) -> list:
    """``ensemble_weights`` -> the checkpoints' weights; the pretrained-model members' (listed after
    the checkpoints' ones) go into their ``foundation`` specs. Any other length is passed on for
    ``load_ensemble`` to check; a list that fits the checkpoints alone leaves the members at 1, and
    says so (``params/foundation.yaml``'s three weights are for one checkpoint)."""
    if not weights:
        return weights
    if foundation and len(weights) == n_checkpoints + len(foundation):
        for spec, w in zip(foundation, weights[n_checkpoints:]):
            spec["weight"] = float(w)
        return weights[:n_checkpoints]
    if foundation and len(weights) == n_checkpoints:
        print(f"ensemble_weights: {weights} are the {n_checkpoints} checkpoints' weights; the {len(foundation)} "
              f"pretrained-model member(s) weigh 1 each (to weight them, list one weight per checkpoint, then "
              f"one per member: {n_checkpoints + len(foundation)} in all)")
    elif not foundation and members_configured and len(weights) > n_checkpoints:
        print(f"ensemble_weights: the foundation members are not loaded, so only the checkpoints' "
              f"{weights[:n_checkpoints]} of {weights} are used")
        return weights[:n_checkpoints]
    return weights


def inference_plan(cfg: Config, n_files: int = 0, use_gpu: bool = False) -> Plan:
    """The plan for scoring ``n_files`` soundscapes (0: not known yet, one process). ``use_gpu``:
    this stage may run on the session's GPU when there is one."""
    if use_gpu and gpu_here():
        return Plan("torch", "cuda", 1, cfg.threads, cfg.backend)
    return Plan(resolve_backend(cfg.backend), "cpu", worker_count(cfg.infer_workers, n_files), cfg.threads,
                cfg.backend)


def unlimited(ensemble: Ensemble, tta: TTA, workers: int = 1) -> Budget:
    """A plan that never sheds and never stops (validation, pseudo-labels, benchmarks)."""
    return Budget(budget_minutes=float("inf"), share=1.0, audio_minutes=0.0, tta=tta, cores_here=cpu_cores(),
                  weights=[m.weight for m in ensemble.members], workers=workers, started=time.time())


def predict_soundscapes(files, ensemble: Ensemble, cfg: Config, sample_submission=None, progress=True,
                        file_seconds: float = FALLBACK_SECONDS, budget: Budget | None = None,
                        writer: SubmissionWriter | None = None, fallback=None):
    """Submission rows for ``files``: ``row_id`` + one probability column per class.

    Each file's members are scored (in worker processes or here), then averaged over the members
    (``ensemble_average``: mean, or ranks over all files, with the members' weights), then
    post-processed per file (``file_max_rescale``, ``smoothing``). ``budget``: the plan in force,
    re-projected as files finish (it sheds TTA views and members, and its watchdog stops
    scoring); default: no budget. A member that raises is left out and the others go on. A file
    that fails to decode or score, or that the watchdog left, gets ``fallback`` rows (one value
    per class; default 0) for its header's length, else ``file_seconds``. ``writer`` rewrites the
    submission file as files are scored. ``per_file`` of the result holds each scored file's rows
    as an array (what self-training keeps as soft labels).
    """
    if sample_submission is not None:
        check_submission_columns(sample_submission, ensemble.classes)
    workers = inference_plan(cfg, len(files), use_gpu=ensemble.on_gpu).workers
    budget = budget or unlimited(ensemble, TTA.from_config(cfg), workers)
    fallback = np.zeros(len(ensemble.classes), np.float32) if fallback is None else fallback
    rows = _Rows(files, ensemble, cfg, fallback, file_seconds)
    skipped, seen, t_model, started = [], set(), 0.0, time.perf_counter()
    stream = (_pooled(files, ensemble, budget, workers) if workers > 1
              else _in_process(enumerate(files), ensemble, budget))
    for i, path, scored in progress_bar(stream, total=len(files), desc="soundscapes", disable=not progress):
        seen.add(i)
        for m, error in sorted(scored.member_errors.items()):
            budget.drop_member(m, error)
        if scored.error is not None:
            skipped.append({"filename": path.name, "reason": scored.error.reason, "error": scored.error.detail})
        else:
            rows.scored[i] = scored.probs
        budget.record(scored)
        t_model += scored.seconds
        if writer is not None:
            writer.maybe_write(lambda: rows.frame(budget.active))
    skipped += [{"filename": f.name, "reason": "not scored (watchdog)", "error": "the deadline came first"}
                for i, f in enumerate(files) if i not in seen]
    per_file = rows.probs(budget.active)
    sub = rows.frame(budget.active, per_file)
    if writer is not None:
        writer.write(sub)
    total = time.perf_counter() - started
    return InferenceResult(sub, skipped, {"files": len(files), "seconds": total, "model_seconds": t_model,
                                          "workers": workers, "members": len(budget.active),
                                          "frontend_calls": ensemble.frontend_calls}, budget,
                           {files[i]: probs for i, probs in per_file.items()})


class _Rows:
    """Per-file member probabilities as they come, and the submission they make with the
    fallback rows of every file not scored (yet)."""

    def __init__(self, files, ensemble, cfg: Config, fallback, file_seconds):
        self.files, self.ensemble, self.cfg = files, ensemble, cfg
        self.fallback, self.file_seconds = fallback, file_seconds
        self.scored: dict = {}
        self._fallback_frames: dict = {}

    def probs(self, active) -> dict:
        """File index -> its post-processed ``[windows, classes]`` float32 array, for the files scored."""
        e, cfg = self.ensemble, self.cfg
        order = sorted(self.scored)
        weights = [e.members[m].weight for m in active]
        combined = combine([self.scored[i][list(active)] for i in order], cfg.ensemble_average, weights,
                           e.class_masks[list(active)])
        return {i: smooth_windows(rescale_by_file_max(p, cfg.file_max_rescale), cfg.smoothing).astype(np.float32)
                for i, p in zip(order, combined)}

    def frame(self, active, probs: dict | None = None) -> pd.DataFrame:
        e = self.ensemble
        probs = self.probs(active) if probs is None else probs
        frames = []
        for i, path in enumerate(self.files):
            if i in probs:
                frames.append(window_frame(path.stem, probs[i], e.classes, e.window_samples / e.sample_rate))
            else:
                frames.append(self._fallback(i))
        return (pd.concat(frames, ignore_index=True) if frames
                else pd.DataFrame(columns=["row_id"] + list(e.classes)))

    def _fallback(self, i):
        if i not in self._fallback_frames:
            e = self.ensemble
            self._fallback_frames[i] = fallback_frame(self.files[i], e.classes, self.fallback, e.sample_rate,
                                                      e.window_samples, self.file_seconds)
        return self._fallback_frames[i]


def pool_for(ensemble: Ensemble, workers: int) -> WorkerPool:
    """Worker processes holding ``ensemble``, started once and kept (``ensemble.close()`` stops them)."""
    if ensemble._pool is None or ensemble._pool.workers != workers:
        ensemble.close()
        ensemble._pool = WorkerPool(ensemble.spec, workers)
    return ensemble._pool


def _pooled(files, ensemble, budget: Budget, workers: int):
    """``(index, path, Scored)`` from the worker processes, in order; at most two files per worker
    in flight, each asked with the plan in force when it was sent. A worker that dies sends the
    rest to this process; the watchdog stops the workers at once."""
    pool = pool_for(ensemble, workers)
    queue, pending = deque(enumerate(files)), deque()
    try:
        while queue or pending:
            while queue and len(pending) < 2 * workers and not budget.expired:
                i, path = queue.popleft()
                pending.append((i, path, pool.submit(path, budget.tta, budget.active)))
            if not pending or budget.expired:
                return
            i, path, future = pending[0]
            try:
                scored = future.result(timeout=budget.seconds_left())
            except FutureTimeout:
                continue   # the deadline passed while this file was scored: ``expired`` says so next
            except BrokenProcessPool as exc:
                rest = [(j, p) for j, p, _ in pending] + list(queue)
                print(f"[inference] an inference worker process died ({exc}); its error is printed above. The "
                      f"remaining {len(rest)} file(s) are scored in this process", flush=True)
                ensemble.close()
                yield from _in_process(rest, ensemble, budget)
                return
            pending.popleft()
            yield i, path, scored
    finally:
        if budget.expired and ensemble._pool is not None:
            ensemble._pool.terminate()
            ensemble._pool = None


def _in_process(items, ensemble, budget: Budget):
    """This process: a decode thread one file ahead (soundfile releases the GIL), then the model;
    each file's seconds count its decoding too."""
    items = list(items)
    sr = ensemble.sample_rate
    with ThreadPoolExecutor(max_workers=1) as threads:
        ahead = threads.submit(_decode_timed, items[0][1], sr) if items else None
        for k, (i, path) in enumerate(items):
            if budget.expired:
                return
            wave, decode_seconds = ahead.result()
            ahead = threads.submit(_decode_timed, items[k + 1][1], sr) if k + 1 < len(items) else None
            scored = score_wave(ensemble, wave, budget.tta, budget.active, path)
            scored.seconds += decode_seconds
            yield i, path, scored


def _decode_timed(path, sr):
    t0 = time.perf_counter()
    wave = decode(path, sr)
    return wave, time.perf_counter() - t0


def seed_view(submission: pd.DataFrame) -> pd.DataFrame:
    """The seed notebook's view: per file, the top species over its windows and its confidence."""
    labels = submission.columns[1:]
    files = file_stems(submission["row_id"])
    peak = submission[labels].groupby(files.values).max()
    return pd.DataFrame({"filename": peak.index, "predicted_species": peak.idxmax(axis=1).values,
                         "confidence": peak.max(axis=1).values})
