"""Reading audio: soundfile decode, downmix, resample, crop/pad, safe paths.

Every failure becomes an ``AudioError`` that names the file and the problem, so a stage that
reads many files can count and report it instead of crashing deep in a stack trace.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF


class AudioError(Exception):
    """A recording that cannot be used; ``reason`` is a short category for the skip report."""

    def __init__(self, path, reason: str, detail: str = ""):
        self.path, self.reason, self.detail = str(path), reason, detail
        super().__init__(f"{path}: {reason}" + (f" ({detail})" if detail else ""))

    def __reduce__(self):  # crosses process boundaries intact (inference workers)
        return type(self), (self.path, self.reason, self.detail)


def resolve_audio_path(root, filename) -> Path:
    """``root/filename``, refusing names that leave ``root``: absolute ones and ones with ``..``.

    The check is on the name only. A symbolic link inside ``root`` (a file, or a species folder)
    is followed wherever it points: whoever put it in the audio folder chose that file, as when a
    subset of a large dataset is carved out with links. The returned path is the link's own path
    under ``root`` (the resolved ``root`` joined with the name), not its target.
    """
    root = Path(root).resolve()
    rel = Path(str(filename))
    if rel.is_absolute() or rel.drive or ".." in rel.parts:
        raise AudioError(filename, "unsafe path", f"must be relative inside {root}")
    return root / rel


def audio_info(path) -> tuple[int, float]:
    """(sample rate, duration in seconds) from the file header, without decoding."""
    try:
        info = sf.info(str(path))
    except Exception as exc:  # soundfile raises several types; all mean "unreadable header"
        raise AudioError(path, "unreadable", f"{type(exc).__name__}: {exc}") from exc
    return info.samplerate, info.frames / info.samplerate if info.samplerate else 0.0


def load_audio(path, sample_rate: int) -> np.ndarray:
    """Decode ``path`` to mono float32 at ``sample_rate``; non-finite samples become 0.

    Samples beyond full scale are clipped to +-1: a corrupt float file can hold values like 1e30,
    whose power overflows float32 in the mel front end and turns the whole spectrogram into NaN.
    """
    return read_segment(path, sample_rate)


def read_segment(path, sample_rate: int, start: float = 0.0, seconds: float | None = None) -> np.ndarray:
    """``seconds`` of ``path`` from ``start`` (None: to the end), mono float32 at ``sample_rate``.

    Only those frames are decoded (soundfile seeks): 5 s of a 30-min recording cost 5 s of
    decoding. Errors are ``AudioError`` naming the file, as in ``load_audio``.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioError(path, "missing file")
    if path.stat().st_size == 0:
        raise AudioError(path, "empty file", "0 bytes")
    try:
        with sf.SoundFile(str(path)) as f:
            first = int(round(start * f.samplerate))
            if first:
                f.seek(min(first, f.frames))
            frames = -1 if seconds is None else int(np.ceil(seconds * f.samplerate))
            data, sr = f.read(frames, dtype="float32", always_2d=True), f.samplerate
    except Exception as exc:  # LibsndfileError, RuntimeError, TypeError on broken streams
        raise AudioError(path, "undecodable", f"{type(exc).__name__}: {exc}") from exc
    if data.shape[0] == 0:
        raise AudioError(path, "no samples", f"from {start:g} s" if start else "")
    return resample(clean(data), sr, sample_rate)


def clean(data: np.ndarray) -> np.ndarray:
    """``[samples, channels]`` -> mono float32 in [-1, 1]; NaN and inf become 0.

    A full-scale finite file (almost every file) skips the repair passes, which cost as much as a
    third of the decode time of a 60-s OGG.
    """
    wave = data[:, 0] if data.shape[1] == 1 else data.mean(axis=1, dtype=np.float32)
    lo, hi = wave.min(), wave.max()  # NaN propagates, so a NaN anywhere fails the test below
    if -1.0 <= lo and hi <= 1.0:
        return wave
    wave = np.nan_to_num(wave, nan=0.0, posinf=0.0, neginf=0.0)
    return np.clip(wave, -1.0, 1.0, out=wave)


def resample(wave: np.ndarray, orig_sr: int, sample_rate: int) -> np.ndarray:
    if orig_sr == sample_rate:
        return np.ascontiguousarray(wave, dtype=np.float32)
    out = AF.resample(torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32)), orig_sr, sample_rate)
    return out.numpy()


def crop_or_pad(wave: np.ndarray, length: int, start: int | None = 0, rng=None) -> np.ndarray:
    """Exactly ``length`` samples: zero-pad at the end, or crop at ``start``.

    ``start=None`` picks a random start with ``rng`` (a ``numpy.random.Generator``).
    """
    if len(wave) <= length:
        return np.pad(wave, (0, length - len(wave))).astype(np.float32, copy=False)
    if start is None:
        start = int((rng or np.random.default_rng()).integers(0, len(wave) - length + 1))
    start = int(min(max(start, 0), len(wave) - length))
    return wave[start:start + length]


def frame_windows(wave: np.ndarray, length: int) -> np.ndarray:
    """Split into consecutive windows of ``length``, zero-padding the last partial one."""
    n = max(1, -(-len(wave) // length))
    return np.pad(wave, (0, n * length - len(wave))).reshape(n, length)
