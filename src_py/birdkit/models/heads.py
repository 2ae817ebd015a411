"""Heads over a backbone's feature map ``[B, C, F', T']``, and reading 5-s windows off frames.

``classifier``: the backbone's own pooling and linear layer (timm's), one label vector per
input; a chunk of several windows is cut into windows first. ``sed``: sound event detection in
the style of the BirdCLEF winners (2021 4th place, 2025 1st place): frequency pooling (GeM), a
framewise classifier and an attention over time. Training sees the clip-level logits; inference
reads one score per 5-s window from the frames inside it (``window_pool``), so a 20-s chunk gives
four windows in one forward pass.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

WINDOW_POOLS = ("attention", "max", "mean")


class GeM(nn.Module):
    """Generalised mean over one axis, ``(mean x^p)^(1/p)`` with a learnt ``p`` (3 at start)."""

    def __init__(self, p: float = 3.0, eps: float = 1e-6):
        super().__init__()
        self.p, self.eps = nn.Parameter(torch.tensor(float(p))), eps

    def forward(self, x: torch.Tensor, dim: int) -> torch.Tensor:
        return x.clamp_min(self.eps).pow(self.p).mean(dim=dim).pow(1.0 / self.p)


FREQ_POOLS = ("gem", "bands")


class SEDHead(nn.Module):
    """``[B, C, F', T']`` -> attention logits and class logits per frame, both ``[B, K, T']``.

    ``freq_pool``: ``gem`` pools the frequency axis away (the winners' head over ImageNet
    backbones, whose deep features carry pitch); ``bands`` keeps ``bands`` coarse frequency bands
    as features (``C * bands`` per frame), for small CNNs whose few layers must still know pitch.
    """

    def __init__(self, in_features: int, num_classes: int, drop_rate: float = 0.2, freq_pool: str = "gem",
                 bands: int = 4):
        super().__init__()
        if freq_pool not in FREQ_POOLS:
            raise ValueError(f"freq_pool must be one of {FREQ_POOLS}, got {freq_pool!r}")
        self.bands = bands if freq_pool == "bands" else 0
        self.freq_pool = GeM() if freq_pool == "gem" else None
        width = in_features * bands if self.bands else in_features
        self.drop = nn.Dropout(drop_rate)
        self.fc = nn.Linear(width, width)
        self.att = nn.Conv1d(width, num_classes, 1)
        self.cla = nn.Conv1d(width, num_classes, 1)

    def _pool_frequency(self, fmap: torch.Tensor) -> torch.Tensor:
        if self.freq_pool is not None:
            return self.freq_pool(fmap, dim=2)                                   # [B, C, T']
        x = F.adaptive_avg_pool2d(fmap, (self.bands, fmap.shape[-1]))            # [B, C, bands, T']
        return x.flatten(1, 2)                                                   # [B, C * bands, T']

    def frames(self, fmap: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self._pool_frequency(fmap)
        x = F.max_pool1d(x, 3, 1, 1) + F.avg_pool1d(x, 3, 1, 1)                 # smooth over time
        x = F.relu(self.fc(self.drop(x).transpose(1, 2))).transpose(1, 2)
        x = self.drop(x)
        return torch.tanh(self.att(x)), self.cla(x)

    def forward(self, fmap: torch.Tensor) -> torch.Tensor:
        """Clip logits ``[B, K]``: frame logits weighted by the attention over all frames."""
        att, cla = self.frames(fmap)
        return (torch.softmax(att, dim=-1) * cla).sum(dim=-1)


def pool_windows(att: torch.Tensor, cla: torch.Tensor, windows: int, how: str) -> torch.Tensor:
    """Frame logits ``[B, K, T']`` -> window logits ``[B, windows, K]``.

    The frames are split evenly into ``windows`` groups (linearly resampled first when ``T'`` is
    not a multiple); each window's score is the attention-weighted mean of its frames' logits
    (``attention``, the clip rule applied inside the window), their max, or their mean.
    """
    if how not in WINDOW_POOLS:
        raise ValueError(f"window_pool must be one of {WINDOW_POOLS}, got {how!r}")
    b, k, t = cla.shape
    per = -(-t // windows)
    if per * windows != t:
        att = F.interpolate(att, size=per * windows, mode="linear", align_corners=False)
        cla = F.interpolate(cla, size=per * windows, mode="linear", align_corners=False)
    att, cla = att.reshape(b, k, windows, per), cla.reshape(b, k, windows, per)
    if how == "attention":
        out = (torch.softmax(att, dim=-1) * cla).sum(dim=-1)
    elif how == "max":
        out = cla.amax(dim=-1)
    else:
        out = cla.mean(dim=-1)
    return out.transpose(1, 2)
