"""Training one or several folds, or all data: what the training notebook runs.

``val_fold`` -1 trains on every recording (no validation, the last epoch is kept); ``folds``
trains several fold models one after another, each in ``checkpoints/fold<k>/`` (``all/`` for -1),
and ``checkpoints/ensemble.json`` lists their best checkpoints for the inference notebook. Each
fold resumes from its own ``last.pth``: a rerun skips finished folds and continues a broken one.
Labelled soundscape windows (a labels file, e.g. BirdCLEF 2026's) validate each fold: the files
of the validation fold (whole files, never split), or all of them when they do not train.
Every file here is written atomically (``birdkit.util.atomic``); a damaged ``ensemble.json`` is an
``EnsembleListError`` naming it, never read as a shorter list.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from ..data.folds import split_table
from ..ensemble_list import best_checkpoint
from ..util import atomic
from .distributed import launch, world_size
from .factory import make_training_data
from .loop import LAST_NAME, Trainer

if TYPE_CHECKING:
    from ..config import Config

HISTORY, COUNTS = "history.csv", "counts.json"


@dataclass
class FoldResult:
    fold: int
    history: pd.DataFrame
    best: Path
    last: Path
    counts: dict


def fold_dir(checkpoint_dir, fold: int) -> Path:
    return Path(checkpoint_dir) / ("all" if fold == -1 else f"fold{fold}")


def fold_tables(cfg: Config, train_table: pd.DataFrame, fold: int):
    """``(train_df, val_df or None, species kept out of validation)`` for ``fold`` (-1: all data)."""
    if fold == -1:
        return train_table.reset_index(drop=True), None, []
    return split_table(train_table, cfg.n_folds, cfg.seed, fold)


def train_fold(cfg: Config, classes, train_table, fold: int, *, checkpoint_dir=None, progress=True, backend=None,
               **data) -> FoldResult:
    """Train ``fold`` in this process, or with ``ddp_processes`` > 1 (0: every GPU) in that many
    DistributedDataParallel processes. ``data``: ``background``, ``pseudo``, ``soundscape_val``,
    ``soundscape_train`` for the data factory. Returns what rank 0 wrote."""
    folder = fold_dir(checkpoint_dir or cfg.checkpoint_dir, fold)
    world = world_size(cfg.ddp_processes)
    if world > 1:
        launch(_train_rank, world, cfg, classes, train_table, fold, folder, progress, data, backend=backend)
    else:
        _train_rank(0, 1, None, cfg, classes, train_table, fold, folder, progress, data)
    counts = json.loads((folder / COUNTS).read_text())
    # best.pth, or the best_model_improved.pth of a fold finished before the rename (a rerun skips it)
    return FoldResult(fold, pd.read_csv(folder / HISTORY), best_checkpoint(folder), folder / LAST_NAME, counts)


def _train_rank(rank, world, device, cfg: Config, classes, train_table, fold, folder, progress, data):
    train_df, val_df, _ = fold_tables(cfg, train_table, fold)
    loaders = make_training_data(cfg, classes, train_df, val_df, rank=rank, world=world, **data)
    trainer = Trainer(cfg, classes, loaders, folder, device=device, rank=rank, world=world)
    if trainer.maybe_resume() and progress and rank == 0:
        print(f"fold {fold}: resumed from {folder / LAST_NAME} at epoch {trainer.start_epoch + 1}")
    history = trainer.fit(progress)
    if rank == 0:
        atomic.write_csv(folder / HISTORY, history)
        atomic.write_text(folder / COUNTS, json.dumps({**loaders.counts, "processes": world}))


