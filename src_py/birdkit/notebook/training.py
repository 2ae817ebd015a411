"""What the training and self-training notebooks assemble before the loop: usable rows for the
data source, soundscape banks and the labelled soundscape windows with their file folds."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..data.datasets import cached_rows, readable_rows
from ..data.folds import group_folds
from ..data.soundscapes import LabelledChunks, SoundscapeBank
from ..infer.predict import list_audio
from ..train.validation import SoundscapeValidation
from .session import write_skips

if TYPE_CHECKING:
    from ..config import Config


@dataclass
class TrainingInputs:
    train: object                  # usable rows of the metadata table
    unlabelled: list               # soundscapes without labels (background, pseudo-labels)
    labelled: object | None        # (windows DataFrame, targets [N, C]) of labelled soundscape windows
    file_folds: np.ndarray | None  # fold of each labelled window's file
    soundscape_dir: Path | None


def usable_rows(cfg: Config, tables, run_dir):
    """Rows the data source can read; the others are written to ``skips/`` and counted."""
    if cfg.data_source in ("waves", "images"):
        rows, missing = cached_rows(tables.train, cfg, cfg.data_source)
        write_skips(run_dir, f"train_uncached_{cfg.data_source}", missing)
    else:
        rows, unreadable = readable_rows(tables.train)
        write_skips(run_dir, "train_unreadable", unreadable)
    return rows


def training_inputs(cfg: Config, tables, run_dir) -> TrainingInputs:
    folder = tables.layout.soundscape_dir
    labelled = tables.labelled
    names = set(labelled.windows["filename"]) if labelled is not None else set()
    unlabelled = [p for p in list_audio(folder) if p.name not in names] if folder else []  # never pseudo-label
    folds = group_folds(labelled.windows, cfg.n_folds, cfg.seed) if labelled is not None else None
    return TrainingInputs(usable_rows(cfg, tables, run_dir), unlabelled,
                          None if labelled is None else (labelled.windows, labelled.targets), folds, folder)


def background_bank(cfg: Config, inputs: TrainingInputs):
    if cfg.background_prob <= 0 or not inputs.unlabelled:
        return None
    return SoundscapeBank(inputs.unlabelled, cfg.sample_rate)


def soundscape_sets(cfg: Config, inputs: TrainingInputs, fold: int):
    """``(SoundscapeValidation or None, LabelledChunks or None)`` of the labelled windows for ``fold``."""
    if inputs.labelled is None:
        return None, None
    from ..data.folds import soundscape_split
    windows, targets = inputs.labelled
    val_idx, train_idx = soundscape_split(inputs.file_folds, fold, cfg.soundscape_train)
    val = train = None
    if len(val_idx):
        val = SoundscapeValidation(inputs.soundscape_dir, windows.iloc[val_idx], targets[val_idx],
                                   cfg.sample_rate, cfg.window_samples)
    if len(train_idx):
        train = LabelledChunks(inputs.soundscape_dir, windows.iloc[train_idx], targets[train_idx],
                               cfg.sample_rate, cfg.window_samples, cfg.train_samples)
    return val, train
