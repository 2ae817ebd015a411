"""Training one or several folds, or all data: what the training notebook runs.

``val_fold`` -1 trains on every recording (no validation, the last epoch is kept); ``folds``
trains several fold models one after another, each in ``checkpoints/fold<k>/`` (``all/`` for -1),
and ``checkpoints/ensemble.json`` lists their best checkpoints for the inference notebook. Each
fold resumes from its own ``last.pth``: a rerun skips finished folds and continues a broken one.
Labelled soundscape windows (a labels file, e.g. BirdCLEF 2026's) validate each fold: the files
of the validation fold (whole files, never split), or all of them when they do not train.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .factory import make_training_data
from .split import split_table
from .train import BEST_NAME, LAST_NAME, Trainer

ENSEMBLE_LIST = "ensemble.json"


@dataclass
class FoldResult:
    fold: int
    history: pd.DataFrame
    best: Path
    last: Path
    counts: dict


def fold_dir(checkpoint_dir, fold: int) -> Path:
    return Path(checkpoint_dir) / ("all" if fold == -1 else f"fold{fold}")


def fold_tables(cfg, train_table: pd.DataFrame, fold: int):
    """``(train_df, val_df or None, species kept out of validation)`` for ``fold`` (-1: all data)."""
    if fold == -1:
        return train_table.reset_index(drop=True), None, []
    return split_table(train_table, cfg.n_folds, cfg.seed, fold)


def soundscape_split(file_folds: np.ndarray, fold: int, train_on_them: bool):
    """``(validating, training)`` indices of labelled windows for ``fold``; ``file_folds`` holds
    each window's file fold. Without ``train_on_them`` every window validates; with it this fold's
    files validate and the others train (all train for ``fold`` -1)."""
    idx = np.arange(len(file_folds))
    if not train_on_them:
        return idx, idx[:0]
    if fold == -1:
        return idx[:0], idx
    return idx[file_folds == fold], idx[file_folds != fold]


def train_fold(cfg, classes, train_table, fold: int, *, background=None, pseudo=None, soundscape_val=None,
               soundscape_train=None, checkpoint_dir=None, progress=True, rank=0, world=1) -> FoldResult:
    train_df, val_df, _ = fold_tables(cfg, train_table, fold)
    data = make_training_data(cfg, classes, train_df, val_df, background=background, pseudo=pseudo,
                              soundscape_val=soundscape_val, soundscape_train=soundscape_train, rank=rank, world=world)
    folder = fold_dir(checkpoint_dir or cfg.checkpoint_dir, fold)
    trainer = Trainer(cfg, classes, data, folder, rank=rank, world=world)
    if trainer.maybe_resume() and progress and rank == 0:
        print(f"fold {fold}: resumed from {folder / LAST_NAME} at epoch {trainer.start_epoch + 1}")
    history = trainer.fit(progress)
    if rank == 0:
        history.to_csv(folder / "history.csv", index=False)
    return FoldResult(fold, history, folder / BEST_NAME, folder / LAST_NAME, data.counts)


def write_ensemble_list(checkpoint_dir, results: list[FoldResult]) -> Path:
    """``checkpoints/ensemble.json``: the best checkpoint of every fold trained in this run."""
    path = Path(checkpoint_dir) / ENSEMBLE_LIST
    entries = [{"fold": r.fold, "checkpoint": str(r.best.relative_to(checkpoint_dir))} for r in results]
    path.write_text(json.dumps({"members": entries}, indent=1))
    return path


def read_ensemble_list(checkpoint_dir) -> list[Path]:
    """The checkpoints ``write_ensemble_list`` recorded (empty when there is no list)."""
    path = Path(checkpoint_dir) / ENSEMBLE_LIST
    if not path.is_file():
        return []
    return [Path(checkpoint_dir) / m["checkpoint"] for m in json.loads(path.read_text())["members"]]
