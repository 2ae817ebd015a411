"""Datasets (seed cells 5, 6): a recording -> a normalised log-mel image and its targets.

``source="audio"`` decodes, resamples and crops the recording on the fly; ``source="images"``
reads the float16 dB cache written by spectrogram generation (fast). Training crops at random
anywhere in what is available; validation takes the first window (deterministic).
"""
from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from .audio import crop_or_pad, load_audio
from .features import MelFrontEnd, normalize_db, to_image
from .spectrograms import load_cached, output_paths
from .tables import durations, label_map, make_targets


class BirdClefDataset(Dataset):
    """Items: ``(image [in_chans, n_mels, frames] float32 in [0,1], targets [C], primary index)``."""

    def __init__(self, df, cfg, classes, train: bool, source: str | None = None):
        self.df, self.cfg, self.train = df.reset_index(drop=True), cfg, train
        self.source = source or cfg.data_source
        self.targets = make_targets(self.df, classes, cfg.secondary_weight)
        index = label_map(classes)
        self.primary = np.array([index[str(p)] for p in self.df["primary_label"]])
        self.frontend = MelFrontEnd(cfg.mel).eval()

    def __len__(self):
        return len(self.df)

    def __getitem__(self, i):
        db = self._cached_db(i) if self.source == "images" else self._audio_db(i)
        image = to_image(normalize_db(torch.from_numpy(db), self.cfg.mel.top_db), self.cfg.in_chans)
        return image.contiguous(), torch.from_numpy(self.targets[i]), int(self.primary[i])

    def _start(self, available: int, needed: int) -> int:
        """0 for validation; a random start for training, from torch's (per-worker) seeded RNG."""
        if not self.train or available <= needed:
            return 0
        return int(torch.randint(0, available - needed + 1, (1,)))

    def _audio_db(self, i) -> np.ndarray:
        wave = load_audio(self.df.at[i, "path"], self.cfg.sample_rate)
        wave = crop_or_pad(wave, self.cfg.window_samples, self._start(len(wave), self.cfg.window_samples))
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
        start = self._start(db.shape[1], frames)
        return np.ascontiguousarray(db[:, start:start + frames])


def cached_rows(df, cfg):
    """Rows whose cache file exists, and the skip records of those without one."""
    exists = [output_paths(cfg.cache_path, r.primary_label, r.filename)[0].is_file()
              for r in df.itertuples(index=False)]
    keep = df[exists].reset_index(drop=True)
    missing = [{"filename": f, "reason": "no cached spectrogram (see spectrograms/failures.csv)"}
               for f, ok in zip(df["filename"], exists) if not ok]
    return keep, missing


def readable_rows(df):
    """Rows whose audio header reads (fast, no decoding), and skip records for the others."""
    headers, skipped = durations(df)
    return df[df["filename"].isin(headers["filename"])].reset_index(drop=True), skipped
