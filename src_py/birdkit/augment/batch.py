"""Training-time augmentation (seed cell 6): Mixup (of waveforms or images, blended or max
labels), SpecAugment, class-balanced sampling, label smoothing. Per-sample audio steps (gain,
soundscape background, pseudo-labelled soundscapes) live in ``birdkit.data.datasets``."""
from __future__ import annotations

import numpy as np
import torch
import torchaudio.transforms as T
from torch import nn
from torch.utils.data import WeightedRandomSampler


def mixup(x: torch.Tensor, y: torch.Tensor, alpha: float, labels: str = "blend"):
    """Mix each example with a shuffled partner: ``lam*a + (1-lam)*b`` for the inputs (waveforms
    or images); targets ``lam``-blended (``blend``, the seed's) or their union (``max``: both
    species are in the mix, as the BirdCLEF winners label raw-audio mixes).

    ``lam ~ Beta(alpha, alpha)``, one per batch, from torch's seeded global generator.
    Returns ``(x_mixed, y_mixed, lam, perm)``.
    """
    if alpha <= 0:
        return x, y, 1.0, torch.arange(len(x))
    lam = float(torch.distributions.Beta(alpha, alpha).sample())
    perm = torch.randperm(len(x), device=x.device)
    mixed = torch.maximum(y, y[perm]) if labels == "max" else lam * y + (1 - lam) * y[perm]
    return lam * x + (1 - lam) * x[perm], mixed, lam, perm


class SpecAugment(nn.Module):
    """Time and frequency masking (torchaudio) on ``[B, C, n_mels, frames]``; identity in eval mode.

    Each mask is at most ``time_frac`` of the frames / ``freq_frac`` of the bands; masked
    values are 0, the quietest value of a normalised spectrogram. The channels of an image are
    copies of one spectrogram, so one mask per example is drawn and shared by its channels.
    """

    def __init__(self, n_mels: int, n_frames: int, time_frac=0.2, freq_frac=0.1):
        super().__init__()
        self.time = T.TimeMasking(time_mask_param=max(1, int(time_frac * n_frames)), iid_masks=True)
        self.freq = T.FrequencyMasking(freq_mask_param=max(1, int(freq_frac * n_mels)), iid_masks=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        return self.freq(self.time(x[:, :1])).expand_as(x)


def sampler_weights(labels, power: float) -> np.ndarray:
    """Per-example weight ``count(label) ** -power``: 0 = natural frequencies, 1 = balanced."""
    labels = np.asarray(list(labels), dtype=str)
    _, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    return counts[inverse].astype(np.float64) ** (-power)


def make_sampler(labels, power: float, num_samples: int, seed: int) -> WeightedRandomSampler:
    g = torch.Generator().manual_seed(seed)
    weights = torch.as_tensor(sampler_weights(labels, power))
    return WeightedRandomSampler(weights, num_samples=num_samples, replacement=True, generator=g)


def smooth_targets(y: torch.Tensor, eps: float) -> torch.Tensor:
    """Label smoothing for multi-label BCE, per output: each target moves ``eps/2`` towards 0.5
    (``y*(1-eps) + eps/2``), so negatives become ``eps/2`` and positives ``1 - eps/2``: every output
    is its own two-class problem (``eps / n_classes`` would only shrink the positives)."""
    return y * (1 - eps) + eps / 2 if eps > 0 else y
