"""Heads over a backbone, and reading 5-s windows off frames.

A head answers what the callers ask: the clip logits of training crops (``clip_logits``), the
window logits of inference chunks (``window_logits``), how long a chunk it scores and what image
of it the backbone sees (``chunk_samples``, ``image_samples``), how the backbone is built under it
(``backbone_args``) and how a compiled graph of it is named (``export_signature``). A new head is
one ``Head`` subclass and one entry in ``birdkit.models.registry.HEADS``.

``classifier``: the backbone's own pooling and linear layer (timm's), one label vector per
input; a chunk of several windows is cut into windows first. ``sed``: sound event detection in
the style of the BirdCLEF winners (2021 4th place, 2025 1st place): frequency pooling (GeM), a
framewise classifier and an attention over time. Training sees the clip-level logits; inference
reads one score per 5-s window from the frames inside it (``window_pool``), so a 20-s chunk gives
four windows in one forward pass.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..util.units import seconds_to_samples

WINDOW_POOLS = ("attention", "max", "mean")


@dataclass(frozen=True)
class ExportSignature:
    """How a compiled graph of a head is named: its input, its outputs (the first is the window
    logits) and the input axes left open, ``(axis, name)`` pairs (the batch by default)."""

    input: str = "input"
    outputs: tuple = ("logits",)
    dynamic_axes: tuple = ((0, "batch"),)


class Head(nn.Module):
    """What every head answers. The defaults are those of a head that reads windows off frames:
    the backbone sees a whole inference chunk (the training crop's length, whole windows) and
    gives features only (``num_classes`` 0). Subclasses implement ``clip_logits`` and
    ``window_logits``; the backbone is passed in, not kept (its weights stay ``backbone.*``)."""

    config_fields: tuple = ()              # Config fields it reads beyond ModelSpec's (ModelSpec.options)
    export_signature = ExportSignature()

    @classmethod
    def from_spec(cls, spec, in_features: int, num_classes: int) -> Head:
        """The head for ``spec`` over ``in_features`` backbone channels."""
        return cls(in_features, num_classes)

    @classmethod
    def backbone_args(cls, spec, num_classes: int) -> dict:
        """``create_backbone`` arguments the head needs (its classes: 0 = features only, timm's convention)."""
        return {"num_classes": 0}

    @classmethod
    def chunk_samples(cls, spec, sample_rate: int, chunk_seconds: float = 0.0) -> int:
        """Samples per inference forward pass: whole windows, ``chunk_seconds`` or the training crop."""
        window = seconds_to_samples(spec.window_seconds, sample_rate)
        seconds = chunk_seconds or spec.train_seconds
        return window * max(1, round(seconds_to_samples(seconds, sample_rate) / window))

    def image_samples(self, chunk_samples: int, window_samples: int) -> int:
        """Samples of one image the backbone sees when it scores chunks of ``chunk_samples``."""
        return chunk_samples

    def clip_logits(self, backbone: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """Backbone input ``[B, C, F, T]`` of training crops -> clip logits ``[B, K]``."""
        raise NotImplementedError

    def window_logits(self, backbone: nn.Module, x: torch.Tensor, windows: int) -> torch.Tensor:
        """Backbone input of images holding ``windows`` scored windows each -> ``[B * windows, K]``."""
        raise NotImplementedError

    # ---- distillation (birdkit.foundation.distill): training only, optional for a head ----
    def feature_dim(self, backbone: nn.Module) -> int:
        """Width of the clip features ``clip_features`` gives."""
        raise NotImplementedError(f"head {type(self).__name__} gives no clip features to distil from; "
                                  "use head classifier or sed, or set distill_weight: 0")

    def clip_features(self, backbone: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(clip_logits(backbone, x), pooled clip features [B, feature_dim])`` in one pass."""
        raise NotImplementedError(f"head {type(self).__name__} gives no clip features to distil from; "
                                  "use head classifier or sed, or set distill_weight: 0")


def classifier_layer(backbone: nn.Module) -> nn.Module:
    """The backbone's last layer (timm's ``get_classifier``, else ``classifier``, ``fc`` or ``head``):
    its input is the pooled features."""
    found = [backbone.get_classifier()] if hasattr(backbone, "get_classifier") else []
    found += [getattr(backbone, name, None) for name in ("classifier", "fc", "head")]
    layer = next((m for m in found if isinstance(m, nn.Module)), None)
    if layer is None:
        raise ValueError(f"{type(backbone).__name__}: no classifier layer (get_classifier, classifier, fc or head) "
                         "to read the pooled features from; use head: sed, or set distill_weight: 0")
    return layer


class ClassifierHead(Head):
    """timm's: the backbone's own pooling and linear layer, one label vector per image; inference
    chunks are cut into single windows. No weights of its own (they are ``backbone.*``)."""

    @classmethod
    def from_spec(cls, spec, in_features: int, num_classes: int) -> ClassifierHead:
        return cls()

    @classmethod
    def backbone_args(cls, spec, num_classes: int) -> dict:
        return {"num_classes": num_classes}

    @classmethod
    def chunk_samples(cls, spec, sample_rate: int, chunk_seconds: float = 0.0) -> int:
        return seconds_to_samples(spec.window_seconds, sample_rate)   # scores windows one by one anyway

    def image_samples(self, chunk_samples: int, window_samples: int) -> int:
        return window_samples

    def clip_logits(self, backbone, x):
        return backbone(x)

    def window_logits(self, backbone, x, windows=1):
        return backbone(x)

    def feature_dim(self, backbone):
        layer = classifier_layer(backbone)
        return int(getattr(layer, "in_features", 0) or getattr(layer, "in_channels", 0) or backbone.num_features)

    def clip_features(self, backbone, x):
        """The logits and what enters the classifier layer (the backbone's own pooling; read by a
        hook for this one call)."""
        seen = []
        handle = classifier_layer(backbone).register_forward_pre_hook(lambda _m, args: seen.append(args[0]))
        try:
            logits = backbone(x)
        finally:
            handle.remove()
        return logits, seen[-1].flatten(1)


class GeM(nn.Module):
    """Generalised mean over one axis, ``(mean x^p)^(1/p)`` with a learnt ``p`` (3 at start)."""

    def __init__(self, p: float = 3.0, eps: float = 1e-6):
        super().__init__()
        self.p, self.eps = nn.Parameter(torch.tensor(float(p))), eps

    def forward(self, x: torch.Tensor, dim: int) -> torch.Tensor:
        return x.clamp_min(self.eps).pow(self.p).mean(dim=dim).pow(1.0 / self.p)


FREQ_POOLS = ("gem", "bands")


class SEDHead(Head):
    """``[B, C, F', T']`` -> attention logits and class logits per frame, both ``[B, K, T']``.

    ``freq_pool``: ``gem`` pools the frequency axis away (the winners' head over ImageNet
    backbones, whose deep features carry pitch); ``bands`` keeps ``bands`` coarse frequency bands
    as features (``C * bands`` per frame), for small CNNs whose few layers must still know pitch.
    ``window_pool``: how the frames inside a window make its score (``pool_windows``).
    """

    def __init__(self, in_features: int, num_classes: int, drop_rate: float = 0.2, freq_pool: str = "gem",
                 bands: int = 4, window_pool: str = "attention"):
        super().__init__()
        if freq_pool not in FREQ_POOLS:
            raise ValueError(f"freq_pool must be one of {FREQ_POOLS}, got {freq_pool!r}")
        if window_pool not in WINDOW_POOLS:
            raise ValueError(f"window_pool must be one of {WINDOW_POOLS}, got {window_pool!r}")
        self.window_pool = window_pool
        self.bands = bands if freq_pool == "bands" else 0
        self.freq_pool = GeM() if freq_pool == "gem" else None
        width = in_features * bands if self.bands else in_features
        self.drop = nn.Dropout(drop_rate)
        self.fc = nn.Linear(width, width)
        self.att = nn.Conv1d(width, num_classes, 1)
        self.cla = nn.Conv1d(width, num_classes, 1)

    @classmethod
    def from_spec(cls, spec, in_features: int, num_classes: int) -> SEDHead:
        return cls(in_features, num_classes, spec.drop_rate, spec.freq_pool, window_pool=spec.window_pool)

    @classmethod
    def backbone_args(cls, spec, num_classes: int) -> dict:
        return {"num_classes": 0, "global_pool": ""}   # the feature map, unpooled

    def _pool_frequency(self, fmap: torch.Tensor) -> torch.Tensor:
        if self.freq_pool is not None:
            return self.freq_pool(fmap, dim=2)                                   # [B, C, T']
        x = F.adaptive_avg_pool2d(fmap, (self.bands, fmap.shape[-1]))            # [B, C, bands, T']
        return x.flatten(1, 2)                                                   # [B, C * bands, T']

    def frame_features(self, fmap: torch.Tensor) -> torch.Tensor:
        """``[B, width, T']``: what the attention and the classifier read per frame."""
        x = self._pool_frequency(fmap)
        x = F.max_pool1d(x, 3, 1, 1) + F.avg_pool1d(x, 3, 1, 1)                 # smooth over time
        x = F.relu(self.fc(self.drop(x).transpose(1, 2))).transpose(1, 2)
        return self.drop(x)

    def frames(self, fmap: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.frame_features(fmap)
        return torch.tanh(self.att(x)), self.cla(x)

    def forward(self, fmap: torch.Tensor) -> torch.Tensor:
        """Clip logits ``[B, K]``: frame logits weighted by the attention over all frames."""
        att, cla = self.frames(fmap)
        return (torch.softmax(att, dim=-1) * cla).sum(dim=-1)

    def clip_logits(self, backbone, x):
        return self(backbone.forward_features(x))

    def feature_dim(self, backbone):
        return self.fc.out_features

    def clip_features(self, backbone, x):
        """The clip logits and the frame features pooled as the clip pools its frames: by the
        attention over time (its weights averaged over the classes)."""
        h = self.frame_features(backbone.forward_features(x))
        weights = torch.softmax(torch.tanh(self.att(h)), dim=-1)                 # [B, K, T']
        return (weights * self.cla(h)).sum(dim=-1), (h * weights.mean(dim=1, keepdim=True)).sum(dim=-1)

    def window_logits(self, backbone, x, windows):
        att, cla = self.frames(backbone.forward_features(x))
        return pool_windows(att, cla, windows, self.window_pool).reshape(-1, cla.shape[1])


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
