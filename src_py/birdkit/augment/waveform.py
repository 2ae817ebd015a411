"""Waveform augmentation steps: one training crop and its target at a time.

A step is ``step(wave, target, rng) -> (wave, target)`` (``rng``: ``birdkit.augment.draws.TorchRandom``)
with its probability ``prob``: ``applies(rng)`` draws whether it acts on this crop, ``apply`` acts.
``from_config(cfg, **banks)`` builds it from its ``Config`` fields and the banks the data factory
holds (``background``: ``SoundscapeBank``, ``pseudo``: ``PseudoLabels``). ``ClipDataset`` runs the
steps ``Config.wave_augment`` names (``birdkit.augment.registry``) in one loop.

The crop a step receives is float32, at most ``train_samples`` long: a recording shorter than the
crop stays short until ``TimeShift`` (first by default) places it; the dataset zero-pads whatever
is still short after the last step. A step keeps the length it receives.

Here too the signal functions behind the steps: random low-pass, synthetic reverberation, mixing
at a signal-to-noise ratio, zero-padding.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
import torchaudio.functional as AF

from .draws import TORCH_RANDOM

if TYPE_CHECKING:
    from ..config import Config


def pad(wave: np.ndarray, length: int, offset: int = 0) -> np.ndarray:
    """``wave`` at ``offset`` in ``length`` zeros (float32); a wave of ``length`` samples as it is."""
    if len(wave) >= length:
        return wave
    out = np.zeros(length, dtype=np.float32)
    out[offset:offset + len(wave)] = wave
    return out


def random_lowpass(wave: np.ndarray, sample_rate: int, fmax: float, lowest: float = 1500.0,
                   rng=TORCH_RANDOM) -> np.ndarray:
    """A biquad low-pass at a cutoff drawn log-uniformly in [lowest, fmax] Hz (random filtering,
    as in the 2023 and 2025 winning recipes): a call heard from further away loses its highs."""
    cutoff = float(np.exp(rng.uniform(np.log(lowest), np.log(fmax))))
    return AF.lowpass_biquad(torch.from_numpy(np.ascontiguousarray(wave)), sample_rate, cutoff).numpy()


def random_reverb(wave: np.ndarray, sample_rate: int, rt60_s: tuple, rng=TORCH_RANDOM) -> np.ndarray:
    """The crop as heard in a reverberant place: convolved (torchaudio's FFT convolution) with a
    synthetic room/forest impulse response, a direct path plus exponentially decaying noise whose
    energy falls by 60 dB in ``rt60`` seconds (drawn from ``rt60_s``), at a random
    direct-to-reverberant ratio of -5..10 dB; the output keeps the crop's RMS and length."""
    rt60 = rng.uniform(*rt60_s)
    t = torch.arange(int(rt60 * sample_rate)) / sample_rate
    tail = rng.normal(len(t)) * torch.exp(-6.908 * t / rt60)     # 6.908 = ln(1000): -60 dB at rt60
    tail = tail / tail.square().sum().sqrt().clamp_min(1e-8) * 10 ** (-rng.uniform(-5.0, 10.0) / 20)
    ir = torch.cat([torch.ones(1), tail[1:]])
    x = torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32))
    wet = AF.fftconvolve(x, ir)[: len(x)]
    scale = x.square().mean().sqrt() / wet.square().mean().sqrt().clamp_min(1e-8)
    return (wet * scale).numpy()


def mix_at_snr(signal: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """``signal + noise`` scaled so that the signal is ``snr_db`` dB above the noise (by RMS)."""
    s, n = np.sqrt(np.mean(signal ** 2)) + 1e-8, np.sqrt(np.mean(noise ** 2)) + 1e-8
    return signal + noise * (s / n) * 10 ** (-snr_db / 20)


class WaveStep:
    """Base of the waveform steps: acts with probability ``prob`` (a subclass sets both)."""

    prob: float = 1.0

    @classmethod
    def from_config(cls, cfg: Config, **banks) -> WaveStep:
        raise NotImplementedError

    def applies(self, rng) -> bool:
        return rng.chance(self.prob)

    def apply(self, wave: np.ndarray, target: np.ndarray, rng):
        raise NotImplementedError

    def __call__(self, wave: np.ndarray, target: np.ndarray, rng):
        return self.apply(wave, target, rng) if self.applies(rng) else (wave, target)


@dataclass
class TimeShift(WaveStep):
    """A recording shorter than the crop lands inside it at a random offset (``shift``; else at the
    start, no draw); a full-length crop passes unchanged."""
    length: int
    shift: bool = True

    @classmethod
    def from_config(cls, cfg: Config, **banks):
        return cls(cfg.train_samples, cfg.time_shift)

    def __call__(self, wave, target, rng):
        if len(wave) >= self.length:
            return wave, target
        offset = rng.randint(self.length - len(wave) + 1) if self.shift else 0
        return pad(wave, self.length, offset), target


@dataclass
class Gain(WaveStep):
    """Random gain of +-``db`` dB (``gain_db``; 0 = off), on every crop (``prob`` 1: no draw)."""
    db: float
    prob: float = 1.0

    @classmethod
    def from_config(cls, cfg: Config, **banks):
        return cls(cfg.gain_db)

    def applies(self, rng) -> bool:
        return bool(self.db) and (self.prob >= 1 or rng.chance(self.prob))

    def apply(self, wave, target, rng):
        return wave * np.float32(10 ** (rng.uniform(-self.db, self.db) / 20)), target


@dataclass
class Reverb(WaveStep):
    """Synthetic reverberation (``reverb_prob``, ``reverb_rt60_s``): ``random_reverb``."""
    sample_rate: int
    rt60_s: tuple
    prob: float

    @classmethod
    def from_config(cls, cfg: Config, **banks):
        return cls(cfg.sample_rate, cfg.reverb_rt60_s, cfg.reverb_prob)

    def apply(self, wave, target, rng):
        return random_reverb(wave, self.sample_rate, self.rt60_s, rng), target


@dataclass
class LowPass(WaveStep):
    """A random low-pass, cutoff 1.5 kHz..``fmax`` (``lowpass_prob``): ``random_lowpass``."""
    sample_rate: int
    fmax: float
    prob: float

    @classmethod
    def from_config(cls, cfg: Config, **banks):
        return cls(cfg.sample_rate, cfg.fmax, cfg.lowpass_prob)

    def apply(self, wave, target, rng):
        return random_lowpass(wave, self.sample_rate, self.fmax, rng=rng), target


@dataclass
class Background(WaveStep):
    """A random chunk of an unlabelled soundscape added at an SNR drawn from ``snr_db``
    (``background_prob``, ``background_snr_db``); off without a ``background`` bank."""
    bank: object
    snr_db: tuple
    prob: float

    @classmethod
    def from_config(cls, cfg: Config, background=None, **banks):
        return cls(background, cfg.background_snr_db, cfg.background_prob)

    def applies(self, rng) -> bool:   # a bank given: one draw per crop, whatever ``prob``
        return self.bank is not None and rng.rand() < self.prob

    def apply(self, wave, target, rng):
        noise = self.bank.random_chunk(len(wave))
        return mix_at_snr(wave, noise, rng.uniform(*self.snr_db)), target


@dataclass
class PseudoMix(WaveStep):
    """A pseudo-labelled soundscape chunk mixed in at ``weight`` with its soft target (noisy
    student; ``pseudo_mix_prob``, ``pseudo_mix_weight``): targets are the union (``labels`` max) or
    weight-blended (``blend``); weight 1 replaces the crop and its labels. Off without a ``pseudo`` bank."""
    bank: object
    weight: float
    labels: str
    prob: float

    @classmethod
    def from_config(cls, cfg: Config, pseudo=None, **banks):
        return cls(pseudo, cfg.pseudo_mix_weight, cfg.mixup_labels, cfg.pseudo_mix_prob)

    def applies(self, rng) -> bool:   # a bank given: one draw per crop, whatever ``prob``
        return self.bank is not None and rng.rand() < self.prob

    def apply(self, wave, target, rng):
        chunk, soft = self.bank.random_chunk(len(wave))
        w = np.float32(self.weight)
        wave = (1 - w) * wave + w * chunk
        kept = target if w < 1 else np.zeros_like(target)   # weight 1: the chunk replaces the crop
        target = np.maximum(kept, soft) if self.labels == "max" else (1 - w) * target + w * soft
        return wave, target
