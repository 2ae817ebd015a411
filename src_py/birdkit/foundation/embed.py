"""The embedding cache: every training recording and soundscape through the pretrained model, once.

For each recording, the model windows on the ``foundation_hop_seconds`` grid (``base``) are
embedded in batches that span files (short clips fill a batch together), and the record
(``records``: float16 embeddings, the classes' mapped logits, each window's audio share) is
written atomically. A rerun skips every whole record and rewrites damaged ones, so a killed run
resumes where it stopped. A file that cannot be read is counted and listed, never dropped
silently. Progress, windows per second and times real time are printed.

Training recordings are embedded as training reads them: the waveform cache's segment
(``data_source: waves``; crop offsets then line up with distillation) or the file's segment
chosen by ``crop_policy``; soundscapes whole. Audio is decoded once at the competition rate and
resampled once to the model's.
"""
from __future__ import annotations

import json
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data.audio import AudioError, load_audio, resample
from ..data.cache import load_npy, select_wave, wave_path
from ..util import atomic
from ..util.progress import progress_bar
from .base import filled, frames, subwindow_starts
from .mapping import map_logits
from .records import record_path, save_record, valid_record


@dataclass
class Job:
    out: Path             # the record to write
    name: str             # for reports: train.csv's filename or the soundscape's name
    load: object          # () -> float32 wave at the competition rate (raises AudioError)


def training_jobs(df, cfg) -> list[Job]:
    """One job per training row, loading what training reads (see the module docstring)."""
    def loader(row):
        def load():
            cached = wave_path(cfg.cache_path, row.primary_label, row.filename)
            if cfg.data_source == "waves" and cached.is_file():
                return np.asarray(load_npy(cached), dtype=np.float32)
            wave = load_audio(row.path, cfg.sample_rate)
            return select_wave(wave, cfg.window_samples, cfg.crop_policy, cfg.max_windows, cfg.train_samples)
        return load
    return [Job(record_path(cfg.embedding_path, "train", r.filename), str(r.filename), loader(r))
            for r in df.itertuples(index=False)]


def soundscape_jobs(files, cfg) -> list[Job]:
    return [Job(record_path(cfg.embedding_path, "soundscapes", Path(f).name), Path(f).name,
                (lambda f=f: load_audio(f, cfg.sample_rate))) for f in files]


def embed_jobs(jobs: list, model, class_indices, cfg, progress: bool = True) -> dict:
    """Write every job's record (resuming); returns the summary (``write_summary`` saves it)."""
    todo = [j for j in jobs if not valid_record(j.out)]
    damaged = [j.name for j in todo if j.out.is_file()]
    mapped = np.array([bool(ix) for ix in class_indices])
    skipped, windows, audio_seconds, t0 = [], 0, 0.0, time.perf_counter()
    pending, batch_rows = [], 0     # (job, frames, fill, seconds) waiting for the model

    def flush():
        nonlocal pending, batch_rows, windows
        if not pending:
            return
        emb, logits = model.embed_logits(np.concatenate([p[1] for p in pending]))
        z, k = map_logits(logits, class_indices), 0
        for job, x, fill, seconds in pending:
            save_record(job.out, emb[k:k + len(x)], z[k:k + len(x)], fill, cfg.foundation_hop_seconds,
                        model.window_seconds, seconds, mapped)
            k += len(x)
        windows += k
        pending, batch_rows = [], 0

    with ThreadPoolExecutor(max_workers=2) as threads:   # decoding runs ahead of the model
        loads = _ahead(threads, _safe_load(model.sample_rate, cfg.sample_rate), todo)
        for job, wave in progress_bar(zip(todo, loads), total=len(todo), desc="embedding", disable=not progress):
            if isinstance(wave, AudioError):
                skipped.append({"filename": job.name, "reason": wave.reason, "error": wave.detail})
                continue
            starts = subwindow_starts(len(wave), model.sample_rate, model.window_samples, cfg.foundation_hop_seconds)
            x = frames(wave, starts, model.window_samples)
            seconds = len(wave) / model.sample_rate
            pending.append((job, x, filled(len(wave), starts, model.window_samples), seconds))
            audio_seconds += seconds
            batch_rows += len(x)
            if batch_rows >= model.batch_size:
                flush()
        flush()
    elapsed = time.perf_counter() - t0
    summary = {"model": model.describe(), "records": len(jobs), "embedded": len(todo) - len(skipped),
               "reused": len(jobs) - len(todo), "damaged_rewritten": len(damaged), "skipped": len(skipped),
               "skips": skipped, "windows": windows, "seconds": round(elapsed, 2),
               "windows_per_second": round(windows / elapsed, 1) if windows else 0.0,
               "x_real_time": round(audio_seconds / elapsed, 1) if windows else 0.0,
               "hop_seconds": cfg.foundation_hop_seconds}
    return summary


def write_summary(embedding_path, name: str, summary: dict) -> Path:
    path = Path(embedding_path) / f"summary_{name}.json"
    with atomic.replacing(path) as tmp:
        tmp.write_text(json.dumps(summary, indent=1))
    return path


def describe(summary: dict, what: str) -> str:
    return (f"{what}: {summary['records']} recordings, {summary['embedded']} embedded now, {summary['reused']} "
            f"reused, {summary['skipped']} skipped, {summary['damaged_rewritten']} damaged rewritten; "
            f"{summary['windows']} model windows in {summary['seconds']:.1f} s = {summary['windows_per_second']:.1f} "
            f"windows/s, {summary['x_real_time']:.1f}x real time")


def _ahead(threads, fn, items, depth: int = 4):
    """``fn(item)`` for each item in order, at most ``depth`` computed ahead (not the whole list in memory)."""
    queue = deque()
    for item in items:
        queue.append(threads.submit(fn, item))
        if len(queue) > depth:
            yield queue.popleft().result()
    while queue:
        yield queue.popleft().result()


def _safe_load(model_rate: int, rate: int):
    def load(job):
        try:
            return resample(job.load(), rate, model_rate)
        except AudioError as exc:
            return exc
        except (OSError, ValueError) as exc:   # a damaged cache file: named, not a crash
            return AudioError(job.name, "unreadable", f"{type(exc).__name__}: {exc}")
    return load
