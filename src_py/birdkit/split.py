"""Stratified K-fold index; fold ``val_fold`` is the 80/20 validation split (5 folds)."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

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
