"""Batch augmentation (seed cell 6): Mixup (of waveforms or images, blended or max labels),
SpecAugment; class-balanced sampling weights, label smoothing.

A batch step is ``step(x, y) -> (x, y)`` on a training batch in its ``domain`` (``wave``: crops
``[B, samples]`` before the model's front end; ``image``: ``[B, C, n_mels, frames]``), with its
probability ``prob``: ``applies(rng)`` draws whether it acts on this batch. ``from_config(cfg)``
builds it; the ``Trainer`` runs the steps ``Config.batch_augment`` names (``birdkit.augment.registry``)
through ``augment_batch``. Per-crop steps are in ``birdkit.augment.waveform``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
import torchaudio.transforms as T
from torch import nn

if TYPE_CHECKING:
    from ..config import Config


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


class BatchStep:
    """Base of the batch steps: acts in ``domain`` with probability ``prob`` (a subclass sets them)."""

    domain: str = "image"
    prob: float = 1.0

    @classmethod
    def from_config(cls, cfg: Config) -> BatchStep:
        raise NotImplementedError

    def applies(self, rng) -> bool:
        return rng.chance(self.prob)

    def __call__(self, x: torch.Tensor, y: torch.Tensor):
        raise NotImplementedError


@dataclass(eq=False)
class Mixup(BatchStep):
    """``mixup`` of the batch (``mixup_alpha``, ``mixup_labels``, ``mixup_prob``), in ``mixup_domain``."""
    alpha: float
    labels: str
    domain: str
    prob: float

    @classmethod
    def from_config(cls, cfg: Config):
        return cls(cfg.mixup_alpha, cfg.mixup_labels, cfg.mixup_domain, cfg.mixup_prob)

    def applies(self, rng) -> bool:   # alpha > 0: one draw per batch, whatever ``prob``
        return self.alpha > 0 and rng.rand() < self.prob

    def __call__(self, x, y):
        x, y, _, _ = mixup(x, y, self.alpha, self.labels)
        return x, y

    def carry(self, x, y, extras: tuple):
        """``__call__`` (the same draws) with per-example ``extras`` mixed as the inputs are:
        ``lam * a + (1 - lam) * b`` with the same ``lam`` and partner."""
        x, y, lam, perm = mixup(x, y, self.alpha, self.labels)
        return x, y, tuple(lam * e + (1 - lam) * e[perm.to(e.device)] for e in extras)


@dataclass(eq=False)
class SpecAugmentStep(BatchStep):
    """``SpecAugment`` masks on the images (``specaugment``, ``time_mask_frac``, ``freq_mask_frac``)."""
    masks: SpecAugment
    on: bool = True

    @classmethod
    def from_config(cls, cfg: Config):
        return cls(SpecAugment(cfg.n_mels, cfg.mel.frames(cfg.train_samples), cfg.time_mask_frac,
                               cfg.freq_mask_frac), cfg.specaugment)

    def applies(self, rng) -> bool:
        return self.on

    def __call__(self, x, y):
        return self.masks(x), y


def augment_batch(steps, x: torch.Tensor, y: torch.Tensor, rng, front_end=None, extras=None):
    """A training batch through ``steps``: first each step draws whether it acts (in order), then
    for waveform batches (``front_end``: waves -> images) the acting ``wave`` steps, the front end
    and the acting ``image`` steps, each in order; image batches (the seed's path) meet every
    acting step on the images. Returns ``(images, y)``.

    ``extras``: a tuple of per-example tensors ``[B, ...]`` that follow the examples (a teacher's
    embeddings and logits): a step that mixes examples mixes them too (its ``carry``), the others
    leave them as they are. Returns ``(images, y, extras)`` then."""
    acting = [s for s in steps if s.applies(rng)]
    carried = tuple(extras) if extras is not None else None
    if front_end is not None:
        for step in (s for s in acting if s.domain == "wave"):
            x, y, carried = _step(step, x, y, carried)
        x, acting = front_end(x), [s for s in acting if s.domain != "wave"]
    for step in acting:
        x, y, carried = _step(step, x, y, carried)
    return (x, y) if extras is None else (x, y, carried)


def _step(step, x, y, extras):
    if extras is not None and hasattr(step, "carry"):
        return step.carry(x, y, extras)
    x, y = step(x, y)
    return x, y, extras


def sampler_weights(labels, power: float) -> np.ndarray:
    """Per-example weight ``count(label) ** -power``: 0 = natural frequencies, 1 = balanced."""
    labels = np.asarray(list(labels), dtype=str)
    _, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    return counts[inverse].astype(np.float64) ** (-power)


def smooth_targets(y: torch.Tensor, eps: float) -> torch.Tensor:
    """Label smoothing for multi-label BCE, per output: each target moves ``eps/2`` towards 0.5
    (``y*(1-eps) + eps/2``), so negatives become ``eps/2`` and positives ``1 - eps/2``: every output
    is its own two-class problem (``eps / n_classes`` would only shrink the positives)."""
    return y * (1 - eps) + eps / 2 if eps > 0 else y
