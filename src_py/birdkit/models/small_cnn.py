"""A small CNN for spectrograms: the ``birdkit_cnn`` backbone of ``birdkit.models.registry``.

Four conv blocks. As a classifier it takes a max over time and pools to ``freq_bins`` frequency
bands, so the head still knows *where* in frequency a pattern is (species that differ mainly in
pitch). ``forward_features`` returns the feature map ``[B, C, F', T']`` (timm's convention), which
the SED head pools itself. Trains from scratch on a CPU in minutes: the demo's model. ImageNet
backbones are for Kaggle.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
                         nn.ReLU(inplace=True), nn.MaxPool2d(2))


class SmallSpectrogramCNN(nn.Module):
    """timm's arguments where they mean something here; any other argument raises (``TypeError``),
    so a misspelt one or one it has no use for (``drop_path_rate``) is not silently dropped.
    ``global_pool``: ``max`` (its own pooling, above) or ``""``: ``forward_head`` returns the feature
    map unpooled (timm's meaning; the SED head asks for it and pools the features itself)."""

    def __init__(self, num_classes=1000, in_chans=1, widths=(16, 32, 64, 64), freq_bins=4,
                 drop_rate=0.2, global_pool="max"):
        super().__init__()
        if global_pool not in ("max", ""):
            raise ValueError(f"birdkit_cnn: global_pool must be 'max' or '', got {global_pool!r}")
        self.global_pool = global_pool
        chans = (in_chans,) + tuple(widths)
        self.features = nn.Sequential(*[_block(a, b) for a, b in zip(chans[:-1], chans[1:])])
        self.freq_bins = freq_bins
        self.num_features = widths[-1]          # channels of forward_features (timm's meaning)
        self.drop = nn.Dropout(drop_rate)
        self.classifier = nn.Linear(widths[-1] * freq_bins, num_classes) if num_classes else nn.Identity()

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)                                 # [B, C, F', T']

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        if not self.global_pool:
            return x
        x = x.amax(dim=-1)                                      # [B, C, F'] max over time
        x = F.adaptive_avg_pool1d(x, self.freq_bins).flatten(1)
        return self.classifier(self.drop(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))
