"""Waveform in, scores out: the log-mel front end, a backbone and a head in one ``nn.Module``.

``BirdModel(spec, mel, classes)``: a ``ModelSpec`` (backbone, head, pools, seconds), the
``MelSettings`` and the class list. Training calls ``clip_logits(wave)`` on crops of
``train_seconds``; inference calls ``forward(chunks)`` on chunks that hold a whole number of
scored windows and gets one logit vector per window. What differs between heads the head answers
(``birdkit.models.heads``): the classifier head cuts a chunk into windows, the SED head reads the
windows off its frames. Training, validation, TTA, submission and the ONNX/OpenVINO export share
this one path (the compiled graph is ``window_logits``: images in, window logits out).
"""
from __future__ import annotations

import torch
from torch import nn

from ..util.units import seconds_to_samples
from .frontend import MelFrontEnd, MelSettings, mel_image, to_image
from .registry import backbone_fields, create_backbone
from .spec import ModelSpec


class BirdModel(nn.Module):
    """``forward(chunks [B, k * window]) -> window logits [B * k, classes]``.

    ``image(wave)`` is the normalised log-mel image ``[B, in_chans, n_mels, frames]`` the backbone
    sees. With ``freq_channel`` the backbone also sees a channel holding each band's position (0
    at the lowest band, 1 at the highest; CoordConv), so a CNN that pools globally knows pitch.
    The head is registered under its registry name (``sed.*`` weights in a checkpoint).
    """

    def __init__(self, spec: ModelSpec, mel: MelSettings, classes):
        super().__init__()
        head_cls, num_classes = spec.head_class, len(classes)
        self.spec, self.mel = spec, mel
        self.window_samples = seconds_to_samples(spec.window_seconds, mel.sample_rate)
        self.frontend = MelFrontEnd(mel)
        extra = {"drop_path_rate": spec.drop_path_rate} if spec.drop_path_rate else {}
        extra.update({name: spec.value(name) for name in backbone_fields(spec.model_name)})
        self.backbone = create_backbone(spec.model_name, in_chans=spec.in_chans + spec.freq_channel,
                                        pretrained=spec.pretrained, pretrained_path=spec.pretrained_path,
                                        drop_rate=spec.drop_rate, **head_cls.backbone_args(spec, num_classes),
                                        **extra)
        self.add_module(spec.head, head_cls.from_spec(spec, self.backbone.num_features, num_classes))
        if spec.distill_dim:   # training only (birdkit.foundation.distill); for_inference drops it
            self.distill = nn.Linear(self.head.feature_dim(self.backbone), spec.distill_dim)

    @property
    def head(self):
        return getattr(self, self.spec.head)

    @property
    def in_chans(self) -> int:
        return self.spec.in_chans

    @property
    def freq_channel(self) -> bool:
        return self.spec.freq_channel

    @property
    def export_signature(self):
        return self.head.export_signature

    # ---- the image the backbone sees ----
    def mels(self, wave: torch.Tensor) -> torch.Tensor:
        """Normalised log-mel ``[B, n_mels, frames]`` (shared by models with the same mel settings)."""
        return mel_image(self.frontend(wave), self.mel)

    def image(self, wave: torch.Tensor) -> torch.Tensor:
        return to_image(self.mels(wave), self.in_chans)

    def image_samples(self, chunk_samples: int) -> int:
        """Samples of one image the backbone sees for chunks of ``chunk_samples`` (the head's answer:
        one window for the classifier, the whole chunk for the SED head)."""
        return self.head.image_samples(chunk_samples, self.window_samples)

    def chunk_wave(self, chunks: torch.Tensor) -> torch.Tensor:
        """What the front end sees of inference chunks ``[B, chunk]``: ``[B * chunk / image, image]``."""
        return chunks.reshape(-1, self.image_samples(chunks.shape[-1]))

    def windows_per_image(self, chunk_samples: int) -> int:
        """Scored windows in each image of chunks of ``chunk_samples``."""
        samples = self.image_samples(chunk_samples)
        if samples % self.window_samples:
            raise ValueError(f"an inference chunk of {samples} samples is not a whole number of "
                             f"{self.window_samples}-sample windows")
        return samples // self.window_samples

    # ---- backbone and head ----
    def _backbone_input(self, image: torch.Tensor) -> torch.Tensor:
        if not self.freq_channel:
            return image
        b, _, f, t = image.shape
        ramp = torch.linspace(0.0, 1.0, f, device=image.device, dtype=image.dtype)
        return torch.cat([image, ramp.view(1, 1, f, 1).expand(b, 1, f, t)], dim=1)

    def classify(self, image: torch.Tensor) -> torch.Tensor:
        """Clip-level logits ``[B, K]`` of images (training; the seed's image path calls this)."""
        return self.head.clip_logits(self.backbone, self._backbone_input(image))

    def classify_distill(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Training with distillation: clip logits ``[B, K]`` and the head's pooled clip features
        projected onto the teacher's embedding ``[B, distill_dim]``, in one pass."""
        logits, features = self.head.clip_features(self.backbone, self._backbone_input(image))
        return logits, self.distill(features)

    def window_logits(self, image: torch.Tensor, windows: int = 1) -> torch.Tensor:
        """Window logits ``[B * windows, K]`` of images of chunks holding ``windows`` windows each
        (classifier: images of single windows, ``windows`` is 1 per image)."""
        return self.head.window_logits(self.backbone, self._backbone_input(image), windows)

    def clip_logits(self, wave: torch.Tensor, augment=None) -> torch.Tensor:
        """Training: crops ``[B, samples]`` -> ``[B, K]``; ``augment`` acts on the images (SpecAugment)."""
        image = self.image(wave)
        return self.classify(augment(image) if augment is not None else image)

    def forward(self, chunks: torch.Tensor, classify: bool = False, distill: bool = False) -> torch.Tensor:
        """Inference chunks -> window logits. ``classify=True``: images -> clip logits (with
        ``distill``: ``classify_distill``), the training step's call when the model is wrapped in
        DistributedDataParallel (which syncs gradients only through ``forward``)."""
        if classify:
            return self.classify_distill(chunks) if distill else self.classify(chunks)
        k = self.windows_per_image(chunks.shape[-1])
        return self.window_logits(self.image(self.chunk_wave(chunks)), k)


def probabilities(logits: torch.Tensor, loss: str) -> torch.Tensor:
    """Probabilities follow the loss: sigmoid for BCE, softmax for CE."""
    return torch.sigmoid(logits) if loss == "bce" else torch.softmax(logits, dim=-1)
