"""File-level post-processing of window probabilities: neighbour smoothing, file-max rescaling."""
from __future__ import annotations

import numpy as np


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
