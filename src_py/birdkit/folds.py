"""Training one or several folds, or all data: what the training notebook runs.

``val_fold`` -1 trains on every recording (no validation, the last epoch is kept); ``folds``
trains several fold models one after another, each in ``checkpoints/fold<k>/`` (``all/`` for -1),
and ``checkpoints/ensemble.json`` lists their best checkpoints for the inference notebook. Each
fold resumes from its own ``last.pth``: a rerun skips finished folds and continues a broken one.
Labelled soundscape windows (a labels file, e.g. BirdCLEF 2026's) validate each fold: the files
of the validation fold (whole files, never split), or all of them when they do not train.
Every file here is written atomically (``birdkit.atomic``); a damaged ``ensemble.json`` is an
``EnsembleListError`` naming it, never read as a shorter list.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import atomic
from .distributed import launch, world_size
from .factory import make_training_data
from .split import assign_folds, split_table
from .train import BEST_NAME, LAST_NAME, Trainer

ENSEMBLE_LIST = "ensemble.json"
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


def fold_tables(cfg, train_table: pd.DataFrame, fold: int):
    """``(train_df, val_df or None, species kept out of validation)`` for ``fold`` (-1: all data)."""
    if fold == -1:
        return train_table.reset_index(drop=True), None, []
    return split_table(train_table, cfg.n_folds, cfg.seed, fold)


def write_split(cfg, train_table: pd.DataFrame, path) -> pd.DataFrame:
    """``split.csv``: every usable recording with its fold (-1: always trains) and whether it
    validates the first fold trained (``split``: val / train)."""
    folds, _ = assign_folds(train_table["primary_label"], cfg.n_folds, cfg.seed)
    table = train_table[["filename", "primary_label"]].assign(fold=folds)
    table["split"] = np.where(table["fold"] == cfg.train_folds[0], "val", "train")
    atomic.write_csv(path, table)
    return table


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


def train_fold(cfg, classes, train_table, fold: int, *, checkpoint_dir=None, progress=True, backend=None,
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
    return FoldResult(fold, pd.read_csv(folder / HISTORY), folder / BEST_NAME, folder / LAST_NAME, counts)


def _train_rank(rank, world, device, cfg, classes, train_table, fold, folder, progress, data):
    train_df, val_df, _ = fold_tables(cfg, train_table, fold)
    loaders = make_training_data(cfg, classes, train_df, val_df, rank=rank, world=world, **data)
    trainer = Trainer(cfg, classes, loaders, folder, device=device, rank=rank, world=world)
    if trainer.maybe_resume() and progress and rank == 0:
        print(f"fold {fold}: resumed from {folder / LAST_NAME} at epoch {trainer.start_epoch + 1}")
    history = trainer.fit(progress)
    if rank == 0:
        atomic.write_csv(folder / HISTORY, history)
        atomic.write_text(folder / COUNTS, json.dumps({**loaders.counts, "processes": world}))


def write_ensemble_list(checkpoint_dir, results: list[FoldResult], round_: int = 0) -> Path:
    """``checkpoints/ensemble.json``: the best checkpoint of every model trained in this run, by
    self-training round (0 = supervised). Writing round ``r`` replaces that round's entries."""
    checkpoint_dir = Path(checkpoint_dir)
    path = checkpoint_dir / ENSEMBLE_LIST
    kept = [m for m in _members(checkpoint_dir) if m.get("round", 0) != round_]
    entries = [{"round": round_, "fold": r.fold, "checkpoint": str(r.best.relative_to(checkpoint_dir))}
               for r in results]
    atomic.write_text(path, json.dumps({"members": sorted(kept + entries, key=lambda m: m.get("round", 0))},
                                       indent=1))
    return path


class EnsembleListError(ValueError):
    """An ``ensemble.json`` that does not read as a list of members; the message names it."""


def _members(checkpoint_dir) -> list[dict]:
    path = Path(checkpoint_dir) / ENSEMBLE_LIST
    if not path.is_file():
        return []
    try:
        members = json.loads(path.read_text())["members"]
        if not isinstance(members, list) or not all(isinstance(m, dict) and "checkpoint" in m for m in members):
            raise ValueError("members is not a list of {round, fold, checkpoint}")
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise EnsembleListError(f"{path} is damaged ({type(exc).__name__}: {exc}); it lists every round's "
                                "models, so no single stage rebuilds it: restore it, or delete it (and the "
                                "rounds' done.json) and rerun training and self-training, which reuse "
                                "finished models from their last.pth") from exc
    return members


def read_ensemble_list(checkpoint_dir, rounds: str = "last") -> list[Path]:
    """The checkpoints ``write_ensemble_list`` recorded: those of the last round (``last``) or of
    every round (``all``: folds x rounds). Empty when there is no list."""
    members = _members(checkpoint_dir)
    if rounds == "last" and members:
        last = max(m.get("round", 0) for m in members)
        members = [m for m in members if m.get("round", 0) == last]
    return [Path(checkpoint_dir) / m["checkpoint"] for m in members]


def last_round(checkpoint_dir) -> int:
    """The highest round listed (0: supervised only; -1: no list)."""
    members = _members(checkpoint_dir)
    return max((m.get("round", 0) for m in members), default=-1)
