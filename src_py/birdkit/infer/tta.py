"""Test-time augmentation (seed cell 8) and file-level post-processing of window probabilities.

Views are planned here; ``birdkit.infer.ensemble`` scores them and aggregates with ``aggregate``."""
from __future__ import annotations

import numpy as np

from ..data.audio import crop_or_pad
from ..data.windows import shifted_windows, tta_shifts


def aggregate(probs: np.ndarray, how: str = "mean") -> np.ndarray:
    """Aggregate ``[views, ...]`` probabilities over the first axis."""
    if how == "mean":
        return probs.mean(axis=0)
    if how == "max":
        return probs.max(axis=0)
    if how == "gmean":
        return np.exp(np.log(np.clip(probs, 1e-7, 1.0)).mean(axis=0))
    raise ValueError(f"unknown TTA aggregation {how!r}")


def soundscape_views(wave: np.ndarray, window: int, views: int, shift: int) -> np.ndarray:
    """``[views, n_windows, window]``: every window, moved by 0, +s, -s, +2s, ... samples."""
    return np.stack([shifted_windows(wave, window, s) for s in tta_shifts(views, shift)])


def clip_views(wave: np.ndarray, window: int, views: int, rng: np.random.Generator) -> np.ndarray:
    """``[views, window]``: the first window, then random crops (the seed's TTA for clips)."""
    first = crop_or_pad(wave, window, 0)
    starts = [None] * (views - 1)
    return np.stack([first] + [crop_or_pad(wave, window, s, rng) for s in starts])


