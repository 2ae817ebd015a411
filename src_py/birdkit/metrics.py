"""The competition metric: macro ROC-AUC over classes that have a positive (sklearn)."""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score


def macro_roc_auc(y_true, y_score) -> float:
    """Macro ROC-AUC over the columns with at least one positive (and one negative)."""
    y_true = np.asarray(y_true) > 0.5
    y_score = np.asarray(y_score, dtype=np.float64)
    keep = y_true.any(axis=0) & ~y_true.all(axis=0)
    if not keep.any():
        return float("nan")
    return float(roc_auc_score(y_true[:, keep], y_score[:, keep], average="macro"))


def top1_accuracy(primary_index, y_score) -> float:
    return float((np.asarray(y_score).argmax(axis=1) == np.asarray(primary_index)).mean())


class SubmissionError(ValueError):
    pass


def file_stems(row_ids: pd.Series) -> pd.Series:
    return row_ids.str.rsplit("_", n=1).str[0]


def score_submission(submission: pd.DataFrame, solution: pd.DataFrame, submitted_files_only=False) -> float:
    """Kaggle's way: align rows by ``row_id``, drop solution columns with no positive.

    ``submitted_files_only`` scores the files the submission covers (a run on a subset).
    """
    if submitted_files_only:
        solution = solution[file_stems(solution["row_id"]).isin(set(file_stems(submission["row_id"])))]
    labels = [c for c in solution.columns if c != "row_id"]
    missing_cols = [c for c in labels if c not in submission.columns]
    if missing_cols:
        raise SubmissionError(f"submission lacks {len(missing_cols)} label columns, e.g. {missing_cols[:5]}")
    sub = submission.set_index("row_id")
    sol = solution.set_index("row_id")
    missing_rows = sol.index.difference(sub.index)
    if len(missing_rows):
        raise SubmissionError(f"submission lacks {len(missing_rows)} rows, e.g. {list(missing_rows[:3])}")
    sub = sub.loc[sol.index, labels]
    values = sub.to_numpy(dtype=np.float64)
    if not np.isfinite(values).all():
        raise SubmissionError("submission holds non-finite values")
    positive = sol[labels].to_numpy().sum(axis=0) > 0
    return float(roc_auc_score(sol[labels].to_numpy()[:, positive], values[:, positive], average="macro"))
