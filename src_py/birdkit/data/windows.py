"""Planning 5-s windows and row ids, apart from loading audio (pure functions)."""
from __future__ import annotations

import math

import numpy as np


def n_windows(n_samples: int, window: int) -> int:
    """Windows covering ``n_samples``; a last partial window counts (it is padded)."""
    return max(1, math.ceil(n_samples / window))


def row_ids(stem: str, count: int, window_seconds: float) -> list[str]:
    """``<stem>_5, <stem>_10, ...``: the end second of each window."""
    return [f"{stem}_{_seconds((k + 1) * window_seconds)}" for k in range(count)]


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def shifted_windows(wave: np.ndarray, window: int, shift: int) -> np.ndarray:
    """``[n_windows, window]`` views of ``wave`` moved by ``shift`` samples (zero-padded at edges)."""
    count = n_windows(len(wave), window)
    padded = np.pad(wave, (max(0, -shift) + window, count * window - len(wave) + max(0, shift) + window))
    start = window + max(0, -shift) + shift
    return padded[start:start + count * window].reshape(count, window)


def tta_shifts(views: int, shift_samples: int) -> list[int]:
    """0, +s, -s, +2s, -2s, ... for ``views`` views."""
    out = [0]
    k = 1
    while len(out) < views:
        out.append(k * shift_samples)
        if len(out) < views:
            out.append(-k * shift_samples)
        k += 1
    return out


def to_chunks(views: np.ndarray, windows_per_chunk: int) -> np.ndarray:
    """``[views, n_windows, window]`` -> ``[views * n_chunks, windows_per_chunk * window]``; the
    last chunk of each view is zero-padded with whole windows."""
    v, n, w = views.shape
    chunks = -(-n // windows_per_chunk)
    padded = np.zeros((v, chunks * windows_per_chunk, w), dtype=np.float32)
    padded[:, :n] = views
    return padded.reshape(v * chunks, windows_per_chunk * w)
