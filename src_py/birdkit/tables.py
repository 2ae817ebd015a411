"""Reading the competition's tables with clear errors and a counted skip list.

Labels are always strings (``"1139490"``, never ``1139490.0``). Rows that cannot be used
(label not in the taxonomy, file missing, path outside the audio folder) are dropped and
listed with their row number and reason; malformed ``secondary_labels`` are reported and read
as none.
"""
from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd

from .audio import AudioError, audio_info, resolve_audio_path

TAXONOMY_COLUMNS = ["primary_label", "inat_taxon_id", "scientific_name", "common_name", "class_name"]
TRAIN_COLUMNS = ["primary_label", "secondary_labels", "type", "filename", "collection", "rating",
                 "url", "latitude", "longitude", "scientific_name", "common_name", "author", "license"]
REQUIRED_TRAIN = ["primary_label", "secondary_labels", "filename"]


class TableError(ValueError):
    pass


def _read_csv(path, required) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise TableError(f"{path}: file not found")
    df = pd.read_csv(path, dtype={"primary_label": str}, keep_default_na=False, na_values=[""])
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise TableError(f"{path}: missing columns {missing}; found {list(df.columns)}")
    return df


def read_taxonomy(path) -> pd.DataFrame:
    df = _read_csv(path, ["primary_label", "class_name"])
    dup = df["primary_label"][df["primary_label"].duplicated()].tolist()
    if dup or df["primary_label"].isna().any():
        raise TableError(f"{path}: primary_label must be unique and non-empty (duplicates: {dup[:5]})")
    return df


def class_list(taxonomy: pd.DataFrame) -> list[str]:
    """All taxonomy labels sorted as strings: the order of sample_submission's columns."""
    return sorted(taxonomy["primary_label"].astype(str))


def label_map(classes) -> dict[str, int]:
    return {label: i for i, label in enumerate(classes)}


def parse_label_list(text) -> list[str]:
    """``"['a', 'b']"`` -> ``['a', 'b']``; ``"['']"``/empty -> ``[]``; raises ValueError if malformed."""
    if text is None or (isinstance(text, float) and np.isnan(text)) or str(text).strip() == "":
        return []
    value = ast.literal_eval(str(text))
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"not a list: {text!r}")
    return [str(v) for v in value if str(v).strip()]


def read_train(path, taxonomy: pd.DataFrame, audio_root, check_files=True):
    """Validated train.csv and the list of skipped/flagged rows (``row`` is the CSV line number).

    Returns ``(df, report)``; ``df`` gains ``secondary`` (a list of known labels) and ``path``.
    """
    df = _read_csv(path, REQUIRED_TRAIN)
    known = set(taxonomy["primary_label"].astype(str))
    report, keep, secondaries, paths = [], [], [], []
    for i, row in enumerate(df.itertuples(index=False)):
        line = i + 2  # header is line 1
        reason, target = _check_row(row, known, audio_root, check_files)
        if reason:
            report.append({"row": line, "filename": row.filename, "reason": reason, "action": "skipped"})
            continue
        try:
            secondary = [s for s in parse_label_list(row.secondary_labels) if s in known]
        except (ValueError, SyntaxError):
            report.append({"row": line, "filename": row.filename, "action": "kept",
                           "reason": f"malformed secondary_labels {row.secondary_labels!r} read as none"})
            secondary = []
        keep.append(i)
        secondaries.append(secondary)
        paths.append(str(target))
    out = df.iloc[keep].reset_index(drop=True)
    out["secondary"] = secondaries
    out["path"] = paths
    return out, report


def _check_row(row, known, audio_root, check_files):
    if str(row.primary_label) not in known:
        return f"primary_label {row.primary_label!r} not in taxonomy", None
    try:
        target = resolve_audio_path(audio_root, row.filename)
    except AudioError as exc:
        return f"unsafe filename ({exc.detail})", None
    if check_files and not target.is_file():
        return "audio file missing", None
    return None, target


def make_targets(df: pd.DataFrame, classes, secondary_weight: float) -> np.ndarray:
    """Multi-label targets ``[N, C]``: 1 for the primary label, ``secondary_weight`` for secondaries."""
    index = label_map(classes)
    y = np.zeros((len(df), len(classes)), dtype=np.float32)
    for i, (primary, secondary) in enumerate(zip(df["primary_label"], df["secondary"])):
        for label in secondary:
            y[i, index[label]] = max(y[i, index[label]], secondary_weight)
        y[i, index[str(primary)]] = 1.0
    return y


def check_submission_columns(sample_submission: pd.DataFrame, classes, source="sample_submission.csv"):
    """The model's class list must equal the submission's label columns, in order."""
    columns = [c for c in sample_submission.columns if c != "row_id"]
    if columns != list(classes):
        missing = [c for c in columns if c not in classes]
        extra = [c for c in classes if c not in columns]
        raise TableError(f"{source}: label columns disagree with the model's classes "
                         f"({len(columns)} vs {len(classes)}; not in model: {missing[:5]}; "
                         f"not in submission: {extra[:5]}; same set, other order: "
                         f"{not missing and not extra})")
    return columns


def durations(train: pd.DataFrame):
    """Seconds and sample rate of each file from its header; unreadable files reported."""
    rows, bad = [], []
    for filename, path in zip(train["filename"], train["path"]):
        try:
            sr, seconds = audio_info(path)
            rows.append({"filename": filename, "sample_rate": sr, "seconds": seconds})
        except AudioError as exc:
            bad.append({"filename": filename, "reason": exc.reason, "error": exc.detail})
    return pd.DataFrame(rows, columns=["filename", "sample_rate", "seconds"]), bad
