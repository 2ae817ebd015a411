"""Waveform in, scores out: the log-mel front end inside a timm classifier, and checkpoints.

A checkpoint carries its input contract (classes in order, audio and mel settings, model name,
normalisation, loss, config) and loads with ``torch.load(weights_only=True)``, which refuses
pickled code.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from .. import __version__
from ..config import git_revision
from ..features import MelFrontEnd, MelSettings, normalize_db, to_image
from ..windows import seconds_to_samples
from .registry import create_backbone

NORMALISATION = "per-example dB log-mel to [0, 1]: the top_db dB below the peak (min-max without top_db)"


class BirdModel(nn.Module):
    """``forward(wave [B, samples]) -> logits [B, classes]``.

    ``image(wave)`` is the normalised log-mel as an image ``[B, in_chans, n_mels, frames]``;
    training on cached spectrograms calls ``classify`` on such images directly. With
    ``freq_channel`` the backbone also sees a channel holding each band's position (0 at the
    lowest band, 1 at the highest; CoordConv), so a CNN that pools globally still knows pitch.
    """

    def __init__(self, model_name, num_classes, mel: MelSettings, in_chans=3, pretrained=False,
                 pretrained_path="", drop_rate=0.0, freq_channel=False):
        super().__init__()
        self.in_chans, self.freq_channel, self.mel = in_chans, freq_channel, mel
        self.frontend = MelFrontEnd(mel)
        self.backbone = create_backbone(model_name, num_classes, in_chans + freq_channel, pretrained,
                                        pretrained_path, drop_rate)

    def image(self, wave: torch.Tensor) -> torch.Tensor:
        return to_image(normalize_db(self.frontend(wave), self.mel.top_db), self.in_chans)

    def classify(self, image: torch.Tensor) -> torch.Tensor:
        if self.freq_channel:
            b, _, f, t = image.shape
            ramp = torch.linspace(0.0, 1.0, f, device=image.device, dtype=image.dtype)
            image = torch.cat([image, ramp.view(1, 1, f, 1).expand(b, 1, f, t)], dim=1)
        return self.backbone(image)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return self.classify(self.image(wave))


def build_model(cfg, classes) -> BirdModel:
    return BirdModel(cfg.model_name, len(classes), cfg.mel, cfg.in_chans,
                     cfg.pretrained, cfg.pretrained_path, cfg.drop_rate, cfg.freq_channel)


def make_contract(cfg, classes) -> dict:
    return {"classes": list(classes), "model_name": cfg.model_name, "in_chans": cfg.in_chans,
            "freq_channel": cfg.freq_channel,
            "mel": cfg.mel.as_dict(), "window_seconds": cfg.window_seconds, "normalisation": NORMALISATION,
            "loss": cfg.loss, "package_version": __version__, "git_revision": git_revision(),
            "config": cfg.to_dict()}


def save_checkpoint(path, model, contract, **state) -> Path:
    """Atomic write: a half-written checkpoint is never taken for a finished one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"state_dict": model.state_dict(), "contract": contract, **state}, tmp)
    os.replace(tmp, path)
    return path


def probabilities(logits: torch.Tensor, loss: str) -> torch.Tensor:
    """Probabilities follow the loss: sigmoid for BCE, softmax for CE."""
    return torch.sigmoid(logits) if loss == "bce" else torch.softmax(logits, dim=-1)


class CheckpointError(Exception):
    pass


def contract_window_samples(contract: dict) -> int:
    """Samples in one scored window of a checkpoint (older contracts kept window_seconds in mel)."""
    seconds = contract.get("window_seconds", contract["mel"].get("window_seconds", 5.0))
    return seconds_to_samples(seconds, contract["mel"]["sample_rate"])


def load_checkpoint(path) -> dict:
    """Load safely (no pickled code runs); errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError for crafted pickles, RuntimeError for corrupt zips
        raise CheckpointError(f"refusing to load {path}: {type(exc).__name__}: {exc}") from exc
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt or "contract" not in ckpt:
        raise CheckpointError(f"{path} is not a birdkit checkpoint (no state_dict/contract)")
    return ckpt


def model_from_checkpoint(path) -> tuple[BirdModel, dict]:
    ckpt = load_checkpoint(path)
    c = ckpt["contract"]
    model = BirdModel(c["model_name"], len(c["classes"]), MelSettings.from_dict(c["mel"]), c["in_chans"],
                      freq_channel=c.get("freq_channel", False))
    model.load_state_dict(ckpt["state_dict"])
    return model.eval(), c
