"""Log-mel front end (torchaudio) shared by the cache, training, TTA and inference."""
from __future__ import annotations

import numpy as np
import torch
import torchaudio.functional as AF
import torchaudio.transforms as T
from torch import nn

DB_FLOOR = -100.0  # dB of the amplitude floor (amin 1e-10 on power)


class MelFrontEnd(nn.Module):
    """Waveform ``[B, samples]`` -> log-mel in dB ``[B, n_mels, frames]`` (fp32)."""

    def __init__(self, sample_rate, n_mels, fmin, fmax, n_fft, hop_length, **_ignored):
        super().__init__()
        self.mel = T.MelSpectrogram(sample_rate=sample_rate, n_fft=n_fft, hop_length=hop_length,
                                    f_min=fmin, f_max=fmax, n_mels=n_mels, power=2.0)
        self.to_db = T.AmplitudeToDB(stype="power", top_db=None)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return self.to_db(self.mel.mel_scale(self.power(wave.float()))).clamp_min(DB_FLOOR)

    def power(self, wave: torch.Tensor) -> torch.Tensor:
        """``self.mel.spectrogram(wave)``, about 25 % faster on CPU.

        torchaudio squares ``abs()`` of the complex STFT, which computes a square root first and
        takes as long as the FFT itself; ``re**2 + im**2`` gives the same power (to float32
        rounding) at a fraction of the cost.
        """
        sp = self.mel.spectrogram
        stft = AF.spectrogram(wave, sp.pad, sp.window, sp.n_fft, sp.hop_length, sp.win_length, None,
                              sp.normalized, center=sp.center, pad_mode=sp.pad_mode, onesided=sp.onesided)
        return stft.real.square() + stft.imag.square()


def normalize_db(db: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Per-example min-max to [0, 1] over (mel, time); digital silence maps to all zeros."""
    lo = db.amin(dim=(-2, -1), keepdim=True)
    hi = db.amax(dim=(-2, -1), keepdim=True)
    return (db - lo) / (hi - lo).clamp_min(eps)


def to_image(norm_mel: torch.Tensor, in_chans: int) -> torch.Tensor:
    """``[..., n_mels, frames]`` -> ``[..., in_chans, n_mels, frames]`` (the seed's 3-channel repeat)."""
    x = norm_mel.unsqueeze(-3)
    return x.expand(*x.shape[:-3], in_chans, *x.shape[-2:]) if in_chans > 1 else x


def to_uint8_image(db: np.ndarray) -> np.ndarray:
    """The seed's 0-255 image scaling of one ``[n_mels, frames]`` dB spectrogram."""
    norm = normalize_db(torch.as_tensor(np.asarray(db, dtype=np.float32))).numpy()
    return np.round(norm * 255.0).astype(np.uint8)


def make_frontend(cfg) -> MelFrontEnd:
    return MelFrontEnd(**cfg.mel_settings())
