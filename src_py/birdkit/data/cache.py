"""Spectrogram generation (seed cell 4): per recording one PNG and one float16 dB cache (the
seed's image path), and a float16 waveform cache at the model's rate (what training reads).

Parallel over cores, resumable (finished files are skipped; each file is written atomically,
so a half-written file never counts as done, and a finished one is checked before it is skipped:
a truncated ``.npy`` or PNG is written again), every failure reported with its error.
"""
from __future__ import annotations

import io
import json
import multiprocessing as mp
import os
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
import pandas as pd
import torch

from ..models.frontend import MelFrontEnd, to_uint8_image
from ..util import atomic
from ..util.progress import progress_bar
from .audio import AudioError, frame_windows, load_audio

if TYPE_CHECKING:
    from ..config import Config

REPORT_NAME = "failures.csv"
SUMMARY_NAME = "summary.json"


def select_segment(wave: np.ndarray, window: int, policy: str, max_windows: int) -> np.ndarray:
    """The audio to cache: the first window, the first ``max_windows`` windows, or the loudest."""
    windows = frame_windows(wave, window)
    if policy == "first":
        return windows[0]
    if policy == "windows":
        return windows[:max_windows].reshape(-1)
    if policy == "loudest":
        return windows[int(np.argmax((windows ** 2).mean(axis=1)))]
    raise ValueError(f"unknown crop policy {policy!r}")


def select_wave(wave: np.ndarray, window: int, policy: str, max_windows: int, min_samples: int) -> np.ndarray:
    """The waveform to cache (never padded): like ``select_segment``, but at least ``min_samples``
    long where the recording allows (the training crop), ``loudest`` centred on the loudest window."""
    length = max(window * (max_windows if policy == "windows" else 1), min_samples)
    if policy in ("first", "windows") or len(wave) <= length:
        return wave[:length]
    if policy != "loudest":
        raise ValueError(f"unknown crop policy {policy!r}")
    loudest = int(np.argmax((frame_windows(wave, window) ** 2).mean(axis=1)))
    start = min(max(0, loudest * window + window // 2 - length // 2), len(wave) - length)
    return wave[start:start + length]


def output_paths(out_dir, primary_label, filename) -> tuple[Path, Path]:
    base = Path(out_dir) / str(primary_label) / Path(str(filename)).stem
    return base.with_suffix(".npy"), base.with_suffix(".png")


def wave_path(out_dir, primary_label, filename) -> Path:
    """``<cache>/waves/<label>/<stem>.npy``: float16 samples at the model's rate."""
    return (Path(out_dir) / "waves" / str(primary_label) / Path(str(filename)).stem).with_suffix(".npy")


def atomic_write(path: Path, data: bytes) -> None:
    atomic.write_bytes(path, data)


class CacheError(ValueError):
    """A cache file that does not read (truncated or otherwise damaged); the message names it."""


PNG_SIGNATURE, PNG_END = b"\x89PNG\r\n\x1a\n", b"\x00\x00\x00\x00IEND\xaeB`\x82"


def valid_npy(path) -> bool:
    """Whether ``path`` is a whole ``.npy`` file: its header reads and the file is exactly as long
    as the header says (reads the header only, so checking every cached file on resume is cheap)."""
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            if version not in ((1, 0), (2, 0)):   # np.save writes 1.0 (2.0 for huge headers)
                return np.load(path).size >= 0
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read(f)
            if dtype.hasobject:
                return False
            return os.fstat(f.fileno()).st_size == f.tell() + int(np.prod(shape)) * dtype.itemsize
    except (OSError, ValueError, EOFError):
        return False


def valid_png(path) -> bool:
    """Whether ``path`` starts with the PNG signature and ends with its IEND chunk (a cut file does not)."""
    try:
        with open(path, "rb") as f:
            head = f.read(len(PNG_SIGNATURE))
            f.seek(0, os.SEEK_END)
            if f.tell() < len(PNG_SIGNATURE) + len(PNG_END):
                return False
            f.seek(-len(PNG_END), os.SEEK_END)
            return head == PNG_SIGNATURE and f.read() == PNG_END
    except OSError:
        return False


def load_npy(path, mmap_mode=None) -> np.ndarray:
    """``np.load`` of a cache file; a damaged one raises ``CacheError`` naming it."""
    try:
        return np.load(path, mmap_mode=mmap_mode)
    except (OSError, ValueError, EOFError) as exc:
        if not Path(path).is_file():
            raise
        raise CacheError(f"{path}: damaged cache file ({type(exc).__name__}: {exc}); rerun spectrogram "
                         "generation, which checks every cached file and writes damaged ones again") from exc


def encode_npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


_STATE = {}


def _init_worker(mel, window: int, policy: str, max_windows: int, write_png: bool, wave_samples: int):
    torch.set_num_threads(1)
    _STATE.update(frontend=MelFrontEnd(mel).eval(), mel=mel, window=window, policy=policy,
                  max_windows=max_windows, write_png=write_png, wave_samples=wave_samples)


def _process(job):
    """Worker: one recording -> (index, None) or (index, (reason, detail))."""
    index, path, npy_path, png_path, waves_path = job
    s = _STATE
    try:
        wave = load_audio(path, s["mel"].sample_rate)
        segment = select_segment(wave, s["window"], s["policy"], s["max_windows"])
        with torch.no_grad():
            db = s["frontend"](torch.from_numpy(segment)[None])[0].numpy()
        npy_path.parent.mkdir(parents=True, exist_ok=True)
        if s["write_png"]:
            ok, png = cv2.imencode(".png", to_uint8_image(db, s["mel"].top_db))
            atomic_write(png_path, png.tobytes())
        if s["wave_samples"]:
            waves_path.parent.mkdir(parents=True, exist_ok=True)
            cached = select_wave(wave, s["window"], s["policy"], s["max_windows"], s["wave_samples"])
            atomic_write(waves_path, encode_npy(cached.astype(np.float16)))
        atomic_write(npy_path, encode_npy(db.astype(np.float16)))
        return index, None
    except AudioError as exc:
        return index, (exc.reason, exc.detail)
    except Exception as exc:  # report any other failure for this file; the run goes on
        return index, (type(exc).__name__, str(exc))


def remove_stale_tmp(out: Path) -> int:
    """Delete half-written ``.tmp-*`` files a killed run left behind (never counted as done)."""
    stale = list(out.glob("*/.tmp-*")) + list(out.glob("waves/*/.tmp-*"))
    for path in stale:
        path.unlink(missing_ok=True)
    return len(stale)


def outputs(npy_path: Path, png_path: Path, write_png: bool, waves_path: Path | None = None) -> list:
    """``(path, validity check)`` of every file one recording writes."""
    return ([(npy_path, valid_npy)] + ([(png_path, valid_png)] if write_png else [])
            + ([(waves_path, valid_npy)] if waves_path is not None else []))


def is_done(npy_path: Path, png_path: Path, write_png: bool, waves_path: Path | None = None) -> bool:
    """Every output of the recording is there and whole (checked, not only present)."""
    return all(check(path) for path, check in outputs(npy_path, png_path, write_png, waves_path))


def damaged(npy_path: Path, png_path: Path, write_png: bool, waves_path: Path | None = None) -> list:
    """The outputs that exist but are not whole (a truncated or otherwise damaged file)."""
    return [path for path, check in outputs(npy_path, png_path, write_png, waves_path)
            if path.is_file() and not check(path)]


def generate_spectrograms(df: pd.DataFrame, cfg: Config, progress=True) -> dict:
    """Write ``<cache>/<label>/<stem>.{npy,png}`` (and ``<cache>/waves/<label>/<stem>.npy`` with
    ``write_waves``) for every row of ``df``; return the totals."""
    out = cfg.cache_path
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    stale = remove_stale_tmp(out)
    jobs, done, duplicates, owner, rebuilt = [], 0, [], {}, []
    for i, row in enumerate(df.itertuples(index=False)):
        npy_path, png_path = output_paths(out, row.primary_label, row.filename)
        if npy_path in owner:  # x.ogg and x.mp3 in one label folder would share x.npy
            duplicates.append((i, ("duplicate output name", f"same cache file as {owner[npy_path]}")))
            continue
        owner[npy_path] = row.filename
        waves = wave_path(out, row.primary_label, row.filename) if cfg.write_waves else None
        if is_done(npy_path, png_path, cfg.write_png, waves):
            done += 1
        else:
            rebuilt += damaged(npy_path, png_path, cfg.write_png, waves)
            jobs.append((i, row.path, npy_path, png_path, waves))
    job_failures = _run_jobs(jobs, cfg, progress)
    failures = duplicates + job_failures
    report = pd.DataFrame([{"filename": df.iloc[i]["filename"], "path": df.iloc[i]["path"],
                            "reason": r, "error": d} for i, (r, d) in failures],
                          columns=["filename", "path", "reason", "error"])
    atomic.write_csv(out / REPORT_NAME, report)
    seconds = time.perf_counter() - started
    summary = {"rows": len(df), "already_done": done, "stale_tmp_removed": stale,
               "damaged_rewritten": len(rebuilt), "damaged_files": [str(p) for p in rebuilt[:20]],
               "written": len(jobs) - len(job_failures),
               "failed": len(failures), "failed_by_reason": dict(Counter(r for _, (r, _) in failures)),
               "species_folders": sum(1 for p in out.iterdir() if p.is_dir() and p.name != "waves"),
               "seconds": round(seconds, 2),
               "files_per_second": round(len(jobs) / seconds, 2) if jobs else None}
    atomic.write_text(out / SUMMARY_NAME, json.dumps(summary, indent=1))
    return summary


def _run_jobs(jobs, cfg: Config, progress):
    workers = min(cfg.workers or os.cpu_count() or 1, max(1, len(jobs)))
    init = (cfg.mel, cfg.window_samples, cfg.crop_policy, cfg.max_windows, cfg.write_png,
            cfg.train_samples if cfg.write_waves else 0)
    failures = []
    if workers == 1:
        threads = torch.get_num_threads()   # _init_worker sets one thread: not for the caller's later work
        try:
            _init_worker(*init)
            results = map(_process, jobs)
            return [(i, err) for i, err in progress_bar(results, total=len(jobs), disable=not progress) if err]
        finally:
            torch.set_num_threads(threads)
    # fork (Linux, as torch's DataLoader does) also works from scripts run on stdin; else spawn
    method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
    with mp.get_context(method).Pool(workers, initializer=_init_worker, initargs=init) as pool:
        results = pool.imap_unordered(_process, jobs, chunksize=4)
        for i, err in progress_bar(results, total=len(jobs), disable=not progress, desc="spectrograms"):
            if err:
                failures.append((i, err))
    return failures


def load_cached(npy_path) -> np.ndarray:
    """A cached dB log-mel ``[n_mels, frames]`` as float32 (``CacheError`` naming a damaged file)."""
    return load_npy(npy_path).astype(np.float32)
