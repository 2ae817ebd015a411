"""Test-time augmentation (seed cell 8) and file-level post-processing of window probabilities.

Views are planned here; ``birdkit.ensemble`` scores them and aggregates with ``aggregate``."""
from __future__ import annotations

import numpy as np

from .audio import crop_or_pad
from .windows import shifted_windows, tta_shifts


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


def smooth_windows(probs: np.ndarray, weight: float) -> np.ndarray:
    """Temporal smoothing: ``(1-2w)*p[k] + w*(p[k-1] + p[k+1])``, edges repeated; 0 = off."""
    if weight <= 0 or len(probs) < 2:
        return probs
    padded = np.concatenate([probs[:1], probs, probs[-1:]])
    return (1 - 2 * weight) * probs + weight * (padded[:-2] + padded[2:])


def rescale_by_file_max(probs: np.ndarray, power: float) -> np.ndarray:
    """``p * max_file(p) ** power`` per class: a species heard loudly somewhere in the file is
    believed more in its other windows, one never heard clearly less (2025 2nd place, +0.005-0.01).
    ``probs`` is one file's ``[windows, classes]``; 0 = off."""
    if power <= 0 or len(probs) == 0:
        return probs
    return probs * probs.max(axis=0, keepdims=True) ** power
