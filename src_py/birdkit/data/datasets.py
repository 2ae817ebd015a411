"""Datasets (seed cells 5, 6): focal recordings -> training crops and their targets.

``ClipDataset`` gives waveform crops of ``train_seconds`` (the model computes the log-mel
itself): from the waveform cache written by spectrogram generation (``source="waves"``, fast) or
decoded on the fly, only the frames the crop needs (``source="audio"``). Training crops at random
and runs the waveform steps ``Config.wave_augment`` names (``birdkit.augment``: time shift, gain,
reverberation, low-pass, soundscape background, pseudo-labelled soundscapes) in one loop;
validation takes the first crop (deterministic, no steps). ``ImageDataset`` is the seed's path:
cached dB spectrograms -> normalised images of one scored window.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from torch.utils.data import Dataset

from ..augment.draws import TORCH_RANDOM
from ..augment.registry import wave_steps
from ..augment.waveform import pad
from ..models.frontend import mel_image, to_image
from .audio import audio_info, read_segment
from .cache import load_cached, load_npy, output_paths, valid_npy, wave_path
from .tables import durations, label_map, make_targets

if TYPE_CHECKING:
    from ..config import Config


def crop(segment: np.ndarray, length: int, train: bool) -> np.ndarray:
    """At most ``length`` samples of ``segment`` as float32: a random stretch (training) or the first."""
    if len(segment) >= length:
        start = TORCH_RANDOM.randint(len(segment) - length + 1) if train else 0
        return np.ascontiguousarray(segment[start:start + length], dtype=np.float32)
    return np.array(segment, dtype=np.float32)


def place(segment: np.ndarray, length: int, train: bool, shift: bool = True) -> np.ndarray:
    """Exactly ``length`` samples of ``segment``: a random crop (training) or the first; a short
    segment is zero-padded, at a random offset when training with ``shift``."""
    wave = crop(segment, length, train)
    offset = TORCH_RANDOM.randint(length - len(wave) + 1) if train and shift and len(wave) < length else 0
    return pad(wave, length, offset)


class ClipDataset(Dataset):
    """Items: ``(wave [train_samples] float32, targets [C], primary index)``.

    Training items run ``steps`` (``birdkit.augment.registry.wave_steps``: ``cfg.wave_augment`` in
    order) on the crop, then zero-pad what is still short. ``background`` (a ``SoundscapeBank``) and
    ``pseudo`` (a ``PseudoLabels`` bank) go to the steps that mix them in.

    With a ``teacher`` (``birdkit.foundation.distill.TeacherBank``, training only) the random crop
    starts a whole number of ``teacher.hop`` seconds into the clip (0 for a clip shorter than the
    crop), so the teacher's pooled window is the crop's own, and items gain the teacher's
    ``(embedding [d], logits [C])`` of it. Without one the crops draw exactly as before.
    """

    def __init__(self, df, cfg: Config, classes, train: bool, source: str | None = None, background=None, pseudo=None,
                 secondary_weight: float | None = None, teacher=None):
        self.df, self.cfg, self.train = df.reset_index(drop=True), cfg, train
        self.source = source or cfg.data_source
        if self.source not in ("waves", "audio"):
            raise ValueError(f"ClipDataset reads waves or audio, not {self.source!r} (ImageDataset does images)")
        weight = cfg.secondary_weight if secondary_weight is None else secondary_weight
        self.targets = make_targets(self.df, classes, weight)
        index = label_map(classes)
        self.primary = np.array([index[str(p)] for p in self.df["primary_label"]])
        self.steps = wave_steps(cfg, background=background, pseudo=pseudo) if train else []
        self.length, self.rng = cfg.train_samples, TORCH_RANDOM
        self.teacher = teacher if train else None

    def __len__(self):
        return len(self.df)

    def __getitem__(self, i):
        if self.teacher is not None:
            segment, start = self._grid_segment(i)
            wave = crop(segment, self.length, train=False)
        else:
            wave = crop(self._segment(i), self.length, self.train)
        target = self.targets[i]
        if self.train:
            for step in self.steps:
                wave, target = step(wave, target, self.rng)
            wave, target = wave.astype(np.float32, copy=False), target.astype(np.float32, copy=False)
        item = torch.from_numpy(pad(wave, self.length)), torch.from_numpy(target), int(self.primary[i])
        if self.teacher is None:
            return item
        emb, logits = self.teacher.lookup(i, start)
        return (*item, torch.from_numpy(emb), torch.from_numpy(logits))

    def _cached_wave(self, row) -> np.ndarray:
        path = wave_path(self.cfg.cache_path, row["primary_label"], row["filename"])
        if not path.is_file():
            raise FileNotFoundError(f"no cached waveform {path} for {row['filename']}; run spectrogram "
                                    "generation (write_waves) first or set data_source: audio")
        return load_npy(path, mmap_mode="r")

    @staticmethod
    def _seconds(row) -> float:
        """The recording's duration: from the table, else the file header."""
        known = "seconds" in row and row["seconds"] == row["seconds"]
        return float(row["seconds"]) if known else audio_info(row["path"])[1]

    def _segment(self, i) -> np.ndarray:
        row = self.df.iloc[i]
        if self.source == "waves":
            return self._cached_wave(row)
        span, start = self.length / self.cfg.sample_rate, 0.0
        if self.train:  # a random start needs the duration
            start = self.rng.uniform(0.0, max(0.0, self._seconds(row) - span))
        return read_segment(row["path"], self.cfg.sample_rate, start, span)

    def _grid_segment(self, i) -> tuple[np.ndarray, float]:
        """The crop's samples from a random start on the teacher's grid, and that start (seconds)."""
        row, sr = self.df.iloc[i], self.cfg.sample_rate
        span, hop = self.length / sr, self.teacher.hop
        wave = self._cached_wave(row) if self.source == "waves" else None
        seconds = len(wave) / sr if wave is not None else self._seconds(row)
        start = self.rng.randint(int(np.floor(max(0.0, seconds - span) / hop + 1e-6)) + 1) * hop
        if wave is not None:
            first = int(round(start * sr))
            return wave[first:first + self.length], start
        return read_segment(row["path"], sr, start, span), start


class ImageDataset(Dataset):
    """The seed's path. Items: ``(image [in_chans, n_mels, frames] in [0, 1], targets [C], primary index)``
    of one scored window, from the float16 dB cache (``source="images"``) or from audio through
    the same front end the model uses (``source="audio"``)."""

    def __init__(self, df, cfg: Config, classes, train: bool, source: str = "images"):
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
        start = TORCH_RANDOM.randint(db.shape[1] - frames + 1) if self.train else 0
        return np.ascontiguousarray(db[:, start:start + frames])


def cached_rows(df, cfg: Config, kind: str = "images"):
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
