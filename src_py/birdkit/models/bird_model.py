"""Waveform in, scores out: the log-mel front end, a backbone and a head in one ``nn.Module``.

Training calls ``clip_logits(wave)`` on crops of ``train_seconds``; inference calls
``forward(chunks)`` on chunks that hold a whole number of scored windows and gets one logit
vector per window. The classifier head cuts a chunk into windows; the SED head reads the windows
off its frames. Training, validation, TTA, submission and the ONNX/OpenVINO export share this
one path (the compiled graph is ``window_logits``: images in, window logits out).
"""
from __future__ import annotations

import torch
from torch import nn

from ..util.units import seconds_to_samples
from .frontend import MelFrontEnd, MelSettings, mel_image, to_image
from .heads import SEDHead, pool_windows
from .registry import create_backbone

HEADS = ("classifier", "sed")


class BirdModel(nn.Module):
    """``forward(chunks [B, k * window]) -> window logits [B * k, classes]``.

    ``image(wave)`` is the normalised log-mel image ``[B, in_chans, n_mels, frames]`` the backbone
    sees. With ``freq_channel`` the backbone also sees a channel holding each band's position (0
    at the lowest band, 1 at the highest; CoordConv), so a CNN that pools globally knows pitch.
    """

    def __init__(self, model_name, num_classes, mel: MelSettings, in_chans=3, pretrained=False,
                 pretrained_path="", drop_rate=0.0, freq_channel=False, head="classifier", window_seconds=5.0,
                 window_pool="attention", drop_path_rate=0.0, freq_pool="gem"):
        super().__init__()
        if head not in HEADS:
            raise ValueError(f"head must be one of {HEADS}, got {head!r}")
        self.in_chans, self.freq_channel, self.mel, self.head_name = in_chans, freq_channel, mel, head
        self.window_samples = seconds_to_samples(window_seconds, mel.sample_rate)
        self.window_pool = window_pool
        self.frontend = MelFrontEnd(mel)
        extra = {"drop_path_rate": drop_path_rate} if drop_path_rate else {}
        if head == "sed":
            extra["global_pool"] = ""
        self.backbone = create_backbone(model_name, 0 if head == "sed" else num_classes, in_chans + freq_channel,
                                        pretrained, pretrained_path, drop_rate, **extra)
        self.sed = SEDHead(self.backbone.num_features, num_classes, drop_rate, freq_pool) if head == "sed" else None

    # ---- the image the backbone sees ----
    def mels(self, wave: torch.Tensor) -> torch.Tensor:
        """Normalised log-mel ``[B, n_mels, frames]`` (shared by models with the same mel settings)."""
        return mel_image(self.frontend(wave), self.mel)

    def image(self, wave: torch.Tensor) -> torch.Tensor:
        return to_image(self.mels(wave), self.in_chans)

    def chunk_wave(self, chunks: torch.Tensor) -> torch.Tensor:
        """What the front end sees for inference chunks: the windows themselves for the classifier
        (``[B * k, window]``), the whole chunk for the SED head."""
        if self.head_name == "classifier":
            return chunks.reshape(-1, self.window_samples)
        return chunks

    def windows_per_chunk(self, chunk_samples: int) -> int:
        if chunk_samples % self.window_samples:
            raise ValueError(f"an inference chunk of {chunk_samples} samples is not a whole number of "
                             f"{self.window_samples}-sample windows")
        return chunk_samples // self.window_samples

    # ---- heads ----
    def _backbone_input(self, image: torch.Tensor) -> torch.Tensor:
        if not self.freq_channel:
            return image
        b, _, f, t = image.shape
        ramp = torch.linspace(0.0, 1.0, f, device=image.device, dtype=image.dtype)
        return torch.cat([image, ramp.view(1, 1, f, 1).expand(b, 1, f, t)], dim=1)

    def classify(self, image: torch.Tensor) -> torch.Tensor:
        """Clip-level logits ``[B, K]`` of images (training; the seed's image path calls this)."""
        x = self._backbone_input(image)
        if self.sed is None:
            return self.backbone(x)
        return self.sed(self.backbone.forward_features(x))

    def window_logits(self, image: torch.Tensor, windows: int = 1) -> torch.Tensor:
        """Window logits ``[B * windows, K]`` of images of chunks holding ``windows`` windows each
        (classifier: images of single windows, ``windows`` is 1 per image)."""
        if self.sed is None:
            return self.classify(image)
        att, cla = self.sed.frames(self.backbone.forward_features(self._backbone_input(image)))
        return pool_windows(att, cla, windows, self.window_pool).reshape(-1, cla.shape[1])

    def clip_logits(self, wave: torch.Tensor, augment=None) -> torch.Tensor:
        """Training: crops ``[B, samples]`` -> ``[B, K]``; ``augment`` acts on the images (SpecAugment)."""
        image = self.image(wave)
        return self.classify(augment(image) if augment is not None else image)

    def forward(self, chunks: torch.Tensor, classify: bool = False) -> torch.Tensor:
        """Inference chunks -> window logits. ``classify=True``: images -> clip logits, the training
        step's call when the model is wrapped in DistributedDataParallel (which syncs gradients
        only through ``forward``)."""
        if classify:
            return self.classify(chunks)
        k = 1 if self.sed is None else self.windows_per_chunk(chunks.shape[-1])
        return self.window_logits(self.image(self.chunk_wave(chunks)), k)


def probabilities(logits: torch.Tensor, loss: str) -> torch.Tensor:
    """Probabilities follow the loss: sigmoid for BCE, softmax for CE."""
    return torch.sigmoid(logits) if loss == "bce" else torch.softmax(logits, dim=-1)
