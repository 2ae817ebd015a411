"""Reading the competition's tables with clear errors and a counted skip list.

Labels are always strings (``"1139490"``, never ``1139490.0``). Rows that cannot be used
(label not in the taxonomy, file missing, a name that leaves the audio folder: absolute or
``..``) are dropped and listed with their row number and reason; a symbolic link inside the audio
folder is followed wherever it points. Malformed ``secondary_labels`` are reported and read as
none.
"""
from __future__ import annotations

import ast
import csv
from pathlib import Path

import numpy as np
import pandas as pd

from .audio import AudioError, audio_info, resolve_audio_path

TAXONOMY_COLUMNS = ["primary_label", "inat_taxon_id", "scientific_name", "common_name", "class_name"]
TRAIN_COLUMNS = ["primary_label", "secondary_labels", "type", "filename", "collection", "rating",
                 "url", "latitude", "longitude", "scientific_name", "common_name", "author", "license"]
REQUIRED_TRAIN = ["primary_label", "secondary_labels", "filename"]
EBIRD_COLUMNS = {"SPECIES_CODE": "primary_label", "SCI_NAME": "scientific_name", "PRIMARY_COM_NAME": "common_name"}
DEFAULT_CLASS_NAME = "Aves"  # a taxonomy without class_name (2024's eBird file) holds birds only


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


def read_taxonomy(path, required=("primary_label", "class_name")) -> pd.DataFrame:
    df = _read_csv(path, list(required))
    dup = df["primary_label"][df["primary_label"].duplicated()].tolist()
    if dup or df["primary_label"].isna().any():
        raise TableError(f"{path}: primary_label must be unique and non-empty (duplicates: {dup[:5]})")
    return df


def submission_classes(path) -> list[str]:
    """The classes: ``sample_submission.csv``'s columns after ``row_id``, in order, as strings."""
    path = Path(path)
    if not path.is_file():
        raise TableError(f"{path}: file not found")
    with path.open(newline="") as f:
        header = next(csv.reader(f), [])
    if not header or header[0] != "row_id" or len(header) < 2:
        raise TableError(f"{path}: the header must be row_id followed by the class columns; found {header[:5]}")
    labels = header[1:]
    dup = sorted({c for c in labels if labels.count(c) > 1})
    if dup or any(not c.strip() for c in labels):
        raise TableError(f"{path}: class columns must be unique and non-empty (duplicates: {dup[:5]})")
    return labels


def read_competition_taxonomy(path, classes) -> tuple[pd.DataFrame, list[str]]:
    """One taxonomy row per class, in the classes' order, and notes on what was filled in.

    ``path`` is ``taxonomy.csv`` or the whole eBird taxonomy (``SPECIES_CODE``, ``SCI_NAME``,
    ``PRIMARY_COM_NAME``: renamed, filtered to ``classes``). ``class_name`` comes from the file,
    else it is ``"Aves"``; a class the file does not list gets a row with empty names (noted).
    """
    path = Path(path)
    head = pd.read_csv(path, nrows=0).columns if path.is_file() else []
    if "SPECIES_CODE" in head:
        df = _read_csv(path, list(EBIRD_COLUMNS)).rename(columns=EBIRD_COLUMNS)
        df["primary_label"] = df["primary_label"].astype(str)
        df = df.drop_duplicates("primary_label")
    else:
        df = read_taxonomy(path, required=("primary_label",))
    keep = [c for c in TAXONOMY_COLUMNS if c in df.columns]
    df = df[keep].set_index("primary_label")
    notes = []
    absent = [c for c in classes if c not in df.index]
    if absent:
        notes.append(f"{path.name}: {len(absent)} submission classes not listed, names left empty: {absent[:10]}")
    df = df.reindex(list(classes))
    if "class_name" not in df.columns:
        notes.append(f"{path.name}: no class_name column; every class is {DEFAULT_CLASS_NAME!r}")
    df["class_name"] = df.get("class_name", pd.Series(index=df.index, dtype=object)).fillna(DEFAULT_CLASS_NAME)
    out = df.reset_index().rename(columns={"index": "primary_label"})
    out["primary_label"] = out["primary_label"].astype(str)
    return out, notes


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
        if target.is_symlink():  # a link into the audio folder is followed; one to nothing is named
            return f"audio file missing (broken symbolic link to {target.readlink()})", None
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
