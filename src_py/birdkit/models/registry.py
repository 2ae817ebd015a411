"""Which backbone a ``model_name`` means: birdkit's own architectures first, else any timm model.

An explicit table instead of registering into timm as an import side effect: adding an
architecture is one module plus one entry in ``BACKBONES``.
"""
from __future__ import annotations

import timm

from .small_cnn import SmallSpectrogramCNN

BACKBONES = {"birdkit_cnn": SmallSpectrogramCNN}


def create_backbone(name: str, num_classes: int, in_chans: int, pretrained=False, pretrained_path="",
                    drop_rate=0.0, **kwargs):
    """A backbone with ``num_classes`` outputs (0 = features only, timm's convention)."""
    if name in BACKBONES:
        if pretrained or pretrained_path:
            raise ValueError(f"{name} has no pretrained weights; set pretrained: false and pretrained_path: ''")
        return BACKBONES[name](num_classes=num_classes, in_chans=in_chans, drop_rate=drop_rate, **kwargs)
    overlay = {"pretrained_cfg_overlay": dict(file=pretrained_path)} if pretrained_path else {}
    return timm.create_model(name, pretrained=pretrained or bool(pretrained_path), num_classes=num_classes,
                             in_chans=in_chans, drop_rate=drop_rate, **overlay, **kwargs)
