"""The data factory: tables and parameters -> the datasets and loaders a ``Trainer`` receives.

Training items come from focal recordings (``ClipDataset``, or the seed's ``ImageDataset``),
optionally joined by labelled soundscape chunks; a pseudo-labelled soundscape bank and a
background bank are handed to the focal dataset. Validation is the first crop of each held-out
recording (targets include secondary labels) and, when labelled soundscapes exist, their windows
scored with the competition metric. With several processes (DDP) every process draws the same
global sample order and takes its share of each global batch, so two processes with batch 16
see what one process with batch 32 sees.

With ``distill_weight`` or ``distill_kd_weight`` > 0 the training recordings' teacher outputs come
from the embedding cache (``birdkit.foundation.distill.TeacherBank``): training items carry them
(soundscape chunks a zero teacher) and ``distill_dim`` is the model's projection width (the
teacher's embedding width when ``distill_weight`` > 0). Validation items never do.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch.utils.data import ConcatDataset, DataLoader, Sampler

from ..augment.batch import sampler_weights
from ..config import ConfigError
from ..data.datasets import ClipDataset, ImageDataset
from ..foundation.distill import TeacherBank, WithoutTeacher

if TYPE_CHECKING:
    from ..config import Config


@dataclass
class TrainingData:
    train: DataLoader
    val: DataLoader | None                 # held-out focal recordings (None: val_fold -1)
    soundscape_val: object | None          # birdkit.train.validation.SoundscapeValidation
    images: bool                           # batches hold images (the seed's path), not waveforms
    counts: dict
    teacher: TeacherBank | None = None     # distillation: training items carry the teacher's outputs
    distill_dim: int = 0                   # the model's distillation projection width (0 = none)


class ShardedBatchSampler(Sampler):
    """Rank ``rank``'s share of each global batch drawn by ``sampler`` (same seed on every rank)."""

    def __init__(self, sampler, batch_size: int, rank: int, world: int, drop_last: bool = True):
        if batch_size % world:
            raise ValueError(f"batch_size {batch_size} must be a multiple of the {world} processes")
        self.sampler, self.batch, self.rank, self.world, self.drop_last = sampler, batch_size, rank, world, drop_last

    def __iter__(self):
        indices = list(self.sampler)
        share = self.batch // self.world
        stop = len(indices) - (len(indices) % self.batch if self.drop_last else 0)
        for start in range(0, stop, self.batch):
            batch = indices[start:start + self.batch]
            yield batch[self.rank * share:(self.rank + 1) * share]

    def __len__(self):
        n = len(self.sampler)
        return n // self.batch if self.drop_last else -(-n // self.batch)


def _item_weights(train_df, extra: int, power: float) -> np.ndarray:
    """Focal items by ``count(label) ** -power``; extra (soundscape) items at the focal mean."""
    focal = sampler_weights(train_df["primary_label"], power)
    return np.concatenate([focal, np.full(extra, focal.mean() if len(focal) else 1.0)])


def make_training_data(cfg: Config, classes, train_df, val_df=None, *, background=None, pseudo=None,
                       soundscape_val=None, soundscape_train=None, rank: int = 0, world: int = 1) -> TrainingData:
    images = cfg.data_source == "images"
    teacher = make_teacher(cfg, classes, train_df)
    if images:
        train_ds = ImageDataset(train_df, cfg, classes, train=True)
    else:
        train_ds = ClipDataset(train_df, cfg, classes, train=True, background=background, pseudo=pseudo,
                               teacher=teacher)
    extra = len(soundscape_train) if soundscape_train is not None else 0
    if extra:
        if teacher is not None:
            soundscape_train = WithoutTeacher(soundscape_train, teacher.dim, len(classes))
        train_ds = ConcatDataset([train_ds, soundscape_train])
    n = cfg.samples_per_epoch or len(train_ds)
    weights = _item_weights(train_df, extra, cfg.sampler_power)
    sampler = torch.utils.data.WeightedRandomSampler(torch.as_tensor(weights), n, replacement=True,
                                                     generator=torch.Generator().manual_seed(cfg.seed))
    loader_args = dict(num_workers=cfg.num_workers, persistent_workers=cfg.num_workers > 0)
    if world > 1:
        batches = ShardedBatchSampler(sampler, cfg.batch_size, rank, world, drop_last=n > cfg.batch_size)
        train = DataLoader(train_ds, batch_sampler=batches, **loader_args)
    else:
        train = DataLoader(train_ds, batch_size=cfg.batch_size, sampler=sampler, drop_last=n > cfg.batch_size,
                           **loader_args)
    val = None
    if val_df is not None and len(val_df):
        val_ds = (ImageDataset(val_df, cfg, classes, train=False) if images
                  else ClipDataset(val_df, cfg, classes, train=False, secondary_weight=1.0))
        val = DataLoader(val_ds, batch_size=cfg.batch_size, **loader_args)
    counts = {"train_recordings": len(train_df), "train_soundscape_chunks": extra,
              "val_recordings": 0 if val_df is None else len(val_df),
              "val_soundscape_windows": 0 if soundscape_val is None else len(soundscape_val),
              "pseudo_chunks": 0 if pseudo is None else len(pseudo.starts), "samples_per_epoch": n}
    distill_dim = teacher.dim if teacher is not None and cfg.distill_weight > 0 else 0
    return TrainingData(train, val, soundscape_val, images, counts, teacher, distill_dim)


def make_teacher(cfg: Config, classes, train_df) -> TeacherBank | None:
    """The training recordings' teacher outputs when ``cfg`` distils (every record checked now)."""
    if not cfg.distils:
        return None
    if cfg.data_source not in ("waves", "audio"):
        raise ConfigError(f"distillation (distill_weight, distill_kd_weight) trains on waveform crops: set "
                          f"data_source: waves or audio, not {cfg.data_source!r}")
    teacher = TeacherBank(cfg.embedding_path, train_df["filename"], cfg.train_seconds, cfg.foundation_hop_seconds)
    teacher.check()
    if len(teacher.mapped) != len(classes):
        raise ValueError(f"{teacher.path(0)}: the teacher's logits have {len(teacher.mapped)} classes, this run "
                         f"{len(classes)}; rerun the embedding stage for this class list")
    return teacher


__all__ = ["ShardedBatchSampler", "TrainingData", "make_teacher", "make_training_data"]
