"""Datasets (seed cells 5, 6): focal recordings -> training crops and their targets.

``ClipDataset`` gives waveform crops of ``train_seconds`` (the model computes the log-mel
itself): from the waveform cache written by spectrogram generation (``source="waves"``, fast) or
decoded on the fly, only the frames the crop needs (``source="audio"``). Training crops at random
(a clip shorter than the crop lands at a random offset with ``time_shift``), with random gain,
an optional soundscape background and an optional pseudo-labelled soundscape mixed in;
random reverberation and a random low-pass (a call heard from afar); validation takes the first
crop (deterministic). ``ImageDataset`` is the seed's path: cached dB spectrograms -> normalised
images of one scored window.
"""
from __future__ import annotations

import numpy as np
import torch
import torchaudio.functional as AF
from torch.utils.data import Dataset

from ..models.frontend import mel_image, to_image
from .audio import audio_info, read_segment
from .cache import load_cached, load_npy, output_paths, valid_npy, wave_path
from .tables import durations, label_map, make_targets


def _uniform(lo: float, hi: float) -> float:
    """A float from torch's generator (seeded per DataLoader worker)."""
    return lo + (hi - lo) * float(torch.rand(()))


def _randint(high: int) -> int:
    return int(torch.randint(0, max(1, high), ()))


def place(segment: np.ndarray, length: int, train: bool, shift: bool = True) -> np.ndarray:
    """Exactly ``length`` samples of ``segment``: a random crop (training) or the first; a short
    segment is zero-padded, at a random offset when training with ``shift``."""
    if len(segment) >= length:
        start = _randint(len(segment) - length + 1) if train else 0
        return np.ascontiguousarray(segment[start:start + length], dtype=np.float32)
    out = np.zeros(length, dtype=np.float32)
    offset = _randint(length - len(segment) + 1) if train and shift else 0
    out[offset:offset + len(segment)] = segment
    return out


def random_lowpass(wave: np.ndarray, sample_rate: int, fmax: float, lowest: float = 1500.0) -> np.ndarray:
    """A biquad low-pass at a cutoff drawn log-uniformly in [lowest, fmax] Hz (random filtering,
    as in the 2023 and 2025 winning recipes): a call heard from further away loses its highs."""
    cutoff = float(np.exp(_uniform(np.log(lowest), np.log(fmax))))
    return AF.lowpass_biquad(torch.from_numpy(np.ascontiguousarray(wave)), sample_rate, cutoff).numpy()


def random_reverb(wave: np.ndarray, sample_rate: int, rt60_s: tuple) -> np.ndarray:
    """The crop as heard in a reverberant place: convolved (torchaudio's FFT convolution) with a
    synthetic room/forest impulse response, a direct path plus exponentially decaying noise whose
    energy falls by 60 dB in ``rt60`` seconds (drawn from ``rt60_s``), at a random
    direct-to-reverberant ratio of -5..10 dB; the output keeps the crop's RMS and length."""
    rt60 = _uniform(*rt60_s)
    t = torch.arange(int(rt60 * sample_rate)) / sample_rate
    tail = torch.randn(len(t)) * torch.exp(-6.908 * t / rt60)     # 6.908 = ln(1000): -60 dB at rt60
    tail = tail / tail.square().sum().sqrt().clamp_min(1e-8) * 10 ** (-_uniform(-5.0, 10.0) / 20)
    ir = torch.cat([torch.ones(1), tail[1:]])
    x = torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32))
    wet = AF.fftconvolve(x, ir)[: len(x)]
    scale = x.square().mean().sqrt() / wet.square().mean().sqrt().clamp_min(1e-8)
    return (wet * scale).numpy()


def mix_at_snr(signal: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """``signal + noise`` scaled so that the signal is ``snr_db`` dB above the noise (by RMS)."""
    s, n = np.sqrt(np.mean(signal ** 2)) + 1e-8, np.sqrt(np.mean(noise ** 2)) + 1e-8
    return signal + noise * (s / n) * 10 ** (-snr_db / 20)


class ClipDataset(Dataset):
    """Items: ``(wave [train_samples] float32, targets [C], primary index)``.

    ``background``: a ``SoundscapeBank`` added with probability ``cfg.background_prob`` at an SNR
    from ``cfg.background_snr_db``; ``pseudo``: a ``PseudoLabels`` bank mixed in with probability
    ``cfg.pseudo_mix_prob`` (noisy student; targets per ``cfg.mixup_labels``).
    """

    def __init__(self, df, cfg, classes, train: bool, source: str | None = None, background=None, pseudo=None,
                 secondary_weight: float | None = None):
        self.df, self.cfg, self.train = df.reset_index(drop=True), cfg, train
        self.source = source or cfg.data_source
        if self.source not in ("waves", "audio"):
            raise ValueError(f"ClipDataset reads waves or audio, not {self.source!r} (ImageDataset does images)")
        weight = cfg.secondary_weight if secondary_weight is None else secondary_weight
        self.targets = make_targets(self.df, classes, weight)
        index = label_map(classes)
        self.primary = np.array([index[str(p)] for p in self.df["primary_label"]])
        self.background, self.pseudo = background, pseudo
        self.length = cfg.train_samples

    def __len__(self):
        return len(self.df)

    def __getitem__(self, i):
        wave, target = place(self._segment(i), self.length, self.train, self.cfg.time_shift), self.targets[i]
        if self.train:
            wave, target = self._augment(wave, target)
        return torch.from_numpy(wave), torch.from_numpy(target), int(self.primary[i])

    def _augment(self, wave: np.ndarray, target: np.ndarray):
        cfg = self.cfg
        if cfg.gain_db:
            wave = wave * np.float32(10 ** (_uniform(-cfg.gain_db, cfg.gain_db) / 20))
        if cfg.reverb_prob and float(torch.rand(())) < cfg.reverb_prob:
            wave = random_reverb(wave, cfg.sample_rate, cfg.reverb_rt60_s)
        if cfg.lowpass_prob and float(torch.rand(())) < cfg.lowpass_prob:
            wave = random_lowpass(wave, cfg.sample_rate, cfg.fmax)
        if self.background is not None and float(torch.rand(())) < cfg.background_prob:
            wave = mix_at_snr(wave, self.background.random_chunk(self.length), _uniform(*cfg.background_snr_db))
        if self.pseudo is not None and float(torch.rand(())) < cfg.pseudo_mix_prob:
            chunk, soft = self.pseudo.random_chunk(self.length)
            w = np.float32(cfg.pseudo_mix_weight)
            wave = (1 - w) * wave + w * chunk
            kept = target if w < 1 else np.zeros_like(target)   # weight 1: the chunk replaces the crop
            target = np.maximum(kept, soft) if cfg.mixup_labels == "max" else (1 - w) * target + w * soft
        return wave.astype(np.float32, copy=False), target.astype(np.float32, copy=False)

    def _segment(self, i) -> np.ndarray:
        row = self.df.iloc[i]
        if self.source == "waves":
            path = wave_path(self.cfg.cache_path, row["primary_label"], row["filename"])
            if not path.is_file():
                raise FileNotFoundError(f"no cached waveform {path} for {row['filename']}; run spectrogram "
                                        "generation (write_waves) first or set data_source: audio")
            return load_npy(path, mmap_mode="r")
        crop, start = self.length / self.cfg.sample_rate, 0.0
        if self.train:  # a random start needs the duration: from the table, else the file header
            known = "seconds" in row and row["seconds"] == row["seconds"]
            seconds = float(row["seconds"]) if known else audio_info(row["path"])[1]
            start = _uniform(0.0, max(0.0, seconds - crop))
        return read_segment(row["path"], self.cfg.sample_rate, start, crop)


class ImageDataset(Dataset):
    """The seed's path. Items: ``(image [in_chans, n_mels, frames] in [0, 1], targets [C], primary index)``
    of one scored window, from the float16 dB cache (``source="images"``) or from audio through
    the same front end the model uses (``source="audio"``)."""

    def __init__(self, df, cfg, classes, train: bool, source: str = "images"):
        from ..models.frontend import MelFrontEnd
        self.df, self.cfg, self.train, self.source = df.reset_index(drop=True), cfg, train, source
        self.targets = make_targets(self.df, classes, cfg.secondary_weight)
        index = label_map(classes)
        self.primary = np.array([index[str(p)] for p in self.df["primary_label"]])
        self.frontend = MelFrontEnd(cfg.mel).eval()

    def __len__(self):
        return len(self.df)

    def __getitem__(self, i):
        db = self._cached_db(i) if self.source == "images" else self._audio_db(i)
        image = to_image(mel_image(torch.from_numpy(db), self.cfg.mel), self.cfg.in_chans)
        return image.contiguous(), torch.from_numpy(self.targets[i]), int(self.primary[i])

    def _audio_db(self, i) -> np.ndarray:
        wave = place(read_segment(self.df.at[i, "path"], self.cfg.sample_rate), self.cfg.window_samples,
                     self.train, shift=False)
        with torch.no_grad():
            return self.frontend(torch.from_numpy(wave)[None])[0].numpy()

    def _cached_db(self, i) -> np.ndarray:
        row = self.df.iloc[i]
        npy_path, _ = output_paths(self.cfg.cache_path, row["primary_label"], row["filename"])
        if not npy_path.is_file():
            raise FileNotFoundError(f"no cached spectrogram {npy_path} for {row['filename']}; "
                                    "run spectrogram generation first or set data_source: audio")
        db = load_cached(npy_path)
        frames = self.cfg.n_frames
        if db.shape[1] < frames:  # a short cache: pad with the floor value
            db = np.pad(db, ((0, 0), (0, frames - db.shape[1])), constant_values=db.min())
        start = _randint(db.shape[1] - frames + 1) if self.train else 0
        return np.ascontiguousarray(db[:, start:start + frames])


def cached_rows(df, cfg, kind: str = "images"):
    """Rows whose cache file (``images``: dB spectrogram, ``waves``: waveform) exists and is whole
    (its header checked: a truncated file is never trained on), and the skip records of the others."""
    def path(r):
        if kind == "waves":
            return wave_path(cfg.cache_path, r.primary_label, r.filename)
        return output_paths(cfg.cache_path, r.primary_label, r.filename)[0]
    paths = [path(r) for r in df.itertuples(index=False)]
    whole = [valid_npy(p) for p in paths]
    keep = df[whole].reset_index(drop=True)
    missing = [{"filename": f, "reason": (f"damaged cached {kind} {p} (rerun spectrogram generation: it writes "
                                          "damaged files again)" if p.is_file() else
                                          f"no cached {kind} (see spectrograms/failures.csv)")}
               for f, p, ok in zip(df["filename"], paths, whole) if not ok]
    return keep, missing


def readable_rows(df):
    """Rows whose audio header reads (fast, no decoding), with their duration in ``seconds``, and
    skip records for the others."""
    headers, skipped = durations(df)
    keep = df.merge(headers[["filename", "seconds"]], on="filename", how="inner")
    return keep.reset_index(drop=True), skipped
