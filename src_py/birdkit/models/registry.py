"""What a ``model_name`` and a ``head`` mean: the backbone and head tables.

Backbones: birdkit's own architectures first, else any timm model. Heads: ``birdkit.models.heads``.
Explicit tables instead of registering into timm as an import side effect: adding an architecture
or a head is one class plus one entry here (a test may add one with ``monkeypatch.setitem``).
"""
from __future__ import annotations

import timm

from .heads import ClassifierHead, SEDHead
from .small_cnn import SmallSpectrogramCNN

BACKBONES = {"birdkit_cnn": SmallSpectrogramCNN}
HEADS = {"classifier": ClassifierHead, "sed": SEDHead}


def head_class(name: str):
    """The ``Head`` subclass registered as ``name``; an unknown name lists the known ones."""
    if name not in HEADS:
        raise ValueError(f"head must be one of {tuple(HEADS)}, got {name!r}")
    return HEADS[name]


def backbone_fields(name: str) -> tuple:
    """Config fields a birdkit backbone takes as keyword arguments (its ``config_fields``; timm's: none)."""
    return tuple(getattr(BACKBONES.get(name), "config_fields", ()))


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
