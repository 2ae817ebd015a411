"""Stratified K-fold index; fold ``val_fold`` is the 80/20 validation split (5 folds)."""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from ..util import atomic

if TYPE_CHECKING:
    from ..config import Config

MIN_FOR_VALIDATION = 3  # species with 1-2 recordings always train


def assign_folds(labels, n_folds: int, seed: int) -> tuple[np.ndarray, list[str]]:
    """Fold per row (-1 = always in training) and the species kept out of validation."""
    labels = pd.Series(list(labels), dtype=str)
    counts = labels.value_counts()
    rare = sorted(counts[counts < MIN_FOR_VALIDATION].index)
    folds = np.full(len(labels), -1, dtype=int)
    eligible = ~labels.isin(rare).to_numpy()
    if n_folds >= 2 and eligible.sum() >= n_folds:
        skf = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
        idx = np.flatnonzero(eligible)
        with warnings.catch_warnings():  # "least populated class has only N members" is expected
            warnings.simplefilter("ignore", UserWarning)
            for fold, (_, val) in enumerate(skf.split(idx, labels.iloc[idx])):
                folds[idx[val]] = fold
    return folds, rare


def split_table(df: pd.DataFrame, n_folds: int, seed: int, val_fold: int = 0):
    """``(train_df, val_df, rare_species)``; both frames keep a ``fold`` column."""
    folds, rare = assign_folds(df["primary_label"], n_folds, seed)
    df = df.assign(fold=folds)
    val = df["fold"] == val_fold
    return df[~val].reset_index(drop=True), df[val].reset_index(drop=True), rare


def write_split(cfg: Config, train_table: pd.DataFrame, path) -> pd.DataFrame:
    """``split.csv``: every usable recording with its fold (-1: always trains) and whether it
    validates the first fold trained (``split``: val / train)."""
    folds, _ = assign_folds(train_table["primary_label"], cfg.n_folds, cfg.seed)
    table = train_table[["filename", "primary_label"]].assign(fold=folds)
    table["split"] = np.where(table["fold"] == cfg.train_folds[0], "val", "train")
    atomic.write_csv(path, table)
    return table


def read_split(path) -> pd.DataFrame:
    """The ``split.csv`` that ``write_split`` wrote (labels as strings); a missing one is an error
    that says which notebook writes it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no {path}: the training notebook (40_train) writes it; run it in this run folder")
    return pd.read_csv(path, dtype={"primary_label": str})


def validation_rows(train_table: pd.DataFrame, split: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``train_table`` whose recordings validate the first fold trained (``split`` val)."""
    return train_table[train_table["filename"].isin(split.loc[split["split"] == "val", "filename"])]


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


def soundscape_folds(files, k: int, seed: int) -> np.ndarray:
    """A fold in ``0..k-1`` for each soundscape (seeded permutation, sizes differ by at most one)."""
    order = np.random.default_rng(seed).permutation(len(files))
    folds = np.empty(len(files), dtype=int)
    folds[order] = np.arange(len(files)) % max(1, k)
    return folds


def group_folds(windows: pd.DataFrame, n_folds: int, seed: int) -> np.ndarray:
    """Fold (0..n_folds-1) per window; whole files go to one fold, folds balanced by windows.

    Files are shuffled with ``seed``, then the largest go first, each to the fold with the fewest
    windows so far. With fewer files than folds, some folds stay empty.
    """
    if n_folds < 1:
        raise ValueError(f"n_folds must be >= 1, got {n_folds}")
    sizes = windows["filename"].value_counts()
    order = np.random.default_rng(seed).permutation(sizes.index.to_numpy())
    order = sorted(order, key=lambda f: -sizes[f])  # stable: ties keep the shuffled order
    load, fold_of = np.zeros(n_folds, dtype=int), {}
    for filename in order:
        fold = int(np.argmin(load))
        fold_of[filename] = fold
        load[fold] += sizes[filename]
    return windows["filename"].map(fold_of).to_numpy(dtype=int)
