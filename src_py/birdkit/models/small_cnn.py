"""A small CNN for spectrograms: the ``birdkit_cnn`` backbone of ``birdkit.models.registry``.

Four conv blocks, then a max over time and a pooling to ``freq_bins`` frequency bands, so the
head still knows *where* in frequency a pattern is (species that differ mainly in pitch).
Trains from scratch on a CPU in minutes: the demo's model. ImageNet backbones are for Kaggle.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
                         nn.ReLU(inplace=True), nn.MaxPool2d(2))


class SmallSpectrogramCNN(nn.Module):
    def __init__(self, num_classes=1000, in_chans=1, widths=(16, 32, 64, 64), freq_bins=4,
                 drop_rate=0.2, **_ignored):
        super().__init__()
        chans = (in_chans,) + tuple(widths)
        self.features = nn.Sequential(*[_block(a, b) for a, b in zip(chans[:-1], chans[1:])])
        self.freq_bins = freq_bins
        self.num_features = widths[-1] * freq_bins
        self.drop = nn.Dropout(drop_rate)
        self.classifier = nn.Linear(self.num_features, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x).amax(dim=-1)                     # [B, C, F'] max over time
        return F.adaptive_avg_pool1d(x, self.freq_bins).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.drop(self.forward_features(x)))
