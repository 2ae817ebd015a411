"""Labelled soundscapes (``train_soundscapes_labels.csv``, BirdCLEF 2026) as scored 5-s windows.

The file has the columns ``filename,start,end,primary_label``: times as ``HH:MM:SS`` strings,
labels ``;``-separated, and (in the 2026 release) every row twice. ``read_soundscape_labels``
turns it into one row per 5-s window with a multi-hot target over the submission's classes:

>>> labelled = read_soundscape_labels("train_soundscapes_labels.csv", classes)
>>> labelled.windows[["filename", "stem", "start", "end", "row_id"]]   # row_id = <stem>_<end second>
>>> labelled.targets                                                   # float32 [N, C]
>>> folds = group_folds(labelled.windows, n_folds=5, seed=0)           # whole files per fold
>>> score_windows(submission, labelled, mask=folds == 0)               # the metric on fold 0's windows

Labels that are not classes are counted (``unknown``) and reported, never silently dropped.
``name_metadata`` reads site and hour from 2026 file names (``BC2026_Train_0039_S22_20211231_201500``);
any other name means "no metadata" (``None``).
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from ..metrics import macro_roc_auc

LABEL_COLUMNS = ["filename", "start", "end", "primary_label"]
WINDOW_SECONDS = 5.0
NAME_2026 = re.compile(r"^BC2026_(Train|Test)_(\d+)_S(\d+)_(\d{8})_(\d{6})$")
_CLOCK = re.compile(r"^(\d+):([0-5]?\d):([0-5]?\d(?:\.\d*)?)$")


class LabelsError(ValueError):
    """A labels file that cannot be read; the message names the file and the line."""


@dataclass
class LabelledSoundscapes:
    """5-s windows of labelled soundscapes and their targets over ``classes``."""

    windows: pd.DataFrame   # filename, stem, start, end (seconds), row_id, site, hour (None: no metadata)
    targets: np.ndarray     # float32 [len(windows), len(classes)], 1 = the class calls in the window
    classes: list
    unknown: dict = field(default_factory=dict)  # label -> windows it was named in (not a class)
    raw_rows: int = 0                            # rows in the file
    duplicate_rows: int = 0                      # rows that repeated a window already read (merged)

    def __len__(self) -> int:
        return len(self.windows)

    @property
    def files(self) -> list[str]:
        return sorted(self.windows["filename"].unique())

    def class_counts(self) -> pd.Series:
        """Windows per class (every class, 0 included), in the classes' order."""
        return pd.Series(self.targets.sum(axis=0).astype(int), index=list(self.classes), name="windows")

    def unknown_records(self) -> list[dict]:
        """The labels that are not classes, for a skip report."""
        return [{"label": label, "windows": n, "reason": "label not in sample_submission.csv (not a target)"}
                for label, n in sorted(self.unknown.items())]

    def summary(self) -> str:
        positives = int((self.targets.sum(axis=0) > 0).sum())
        return (f"{len(self)} labelled 5-s windows in {len(self.files)} files ({self.raw_rows} rows, "
                f"{self.duplicate_rows} duplicates merged); {positives} classes with a positive; "
                f"{len(self.unknown)} labels not in the classes")


def parse_time(text) -> float:
    """``"00:01:05"`` -> 65.0; plain seconds (``"65"``, ``65.0``) are accepted too."""
    value = str(text).strip()
    match = _CLOCK.match(value)
    if match:
        hours, minutes, seconds = match.groups()
        return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    return float(value)  # ValueError for anything else


def split_labels(text) -> list[str]:
    """``"22961;47158son01; brnowl"`` -> ``['22961', '47158son01', 'brnowl']``; empty -> ``[]``."""
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return []
    return [part.strip() for part in str(text).split(";") if part.strip()]


def _window_rows(path: Path, df: pd.DataFrame, window: float):
    """``(filename, start, end, labels)`` per 5-s window; a span of several windows is split."""
    for line, row in enumerate(df.itertuples(index=False), start=2):
        try:
            start, end = parse_time(row.start), parse_time(row.end)
        except ValueError:
            raise LabelsError(f"{path}, line {line}: start/end {row.start!r}/{row.end!r} are not "
                              "HH:MM:SS times") from None
        count = (end - start) / window
        if start < 0 or count < 0.5 or not _whole(count) or not _whole(start / window):
            raise LabelsError(f"{path}, line {line}: {row.start}-{row.end} is not a whole number of "
                              f"{window:g}-s windows on the {window:g}-s grid")
        labels = split_labels(row.primary_label)
        for k in range(int(round(count))):
            yield str(row.filename), start + k * window, start + (k + 1) * window, labels


def _whole(x: float) -> bool:
    return abs(x - round(x)) < 1e-6


def read_soundscape_labels(path, classes, window_seconds: float = WINDOW_SECONDS) -> LabelledSoundscapes:
    """Parse ``train_soundscapes_labels.csv`` into merged 5-s windows with targets over ``classes``."""
    path = Path(path)
    if not path.is_file():
        raise LabelsError(f"{path}: file not found")
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in LABEL_COLUMNS if c not in df.columns]
    if missing:
        raise LabelsError(f"{path}: missing columns {missing}; found {list(df.columns)}")
    merged: dict[tuple, set] = {}
    seen = 0
    for filename, start, end, labels in _window_rows(path, df, window_seconds):
        merged.setdefault((filename, start, end), set()).update(labels)
        seen += 1
    return _labelled(merged, list(classes), raw_rows=len(df), duplicate_rows=seen - len(merged))


def _labelled(merged: dict, classes: list, raw_rows: int, duplicate_rows: int) -> LabelledSoundscapes:
    index = {c: i for i, c in enumerate(classes)}
    keys = sorted(merged)
    targets = np.zeros((len(keys), len(classes)), dtype=np.float32)
    unknown = Counter()
    for i, key in enumerate(keys):
        for label in merged[key]:
            if label in index:
                targets[i, index[label]] = 1.0
            else:
                unknown[label] += 1
    windows = pd.DataFrame(keys, columns=["filename", "start", "end"])
    windows["stem"] = [Path(f).stem for f in windows["filename"]]
    windows["row_id"] = [f"{stem}_{_seconds(end)}" for stem, end in zip(windows["stem"], windows["end"])]
    windows = add_name_metadata(windows[["filename", "stem", "start", "end", "row_id"]])
    return LabelledSoundscapes(windows, targets, classes, dict(unknown), raw_rows, duplicate_rows)


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def score_windows(submission: pd.DataFrame, labelled: LabelledSoundscapes, mask=None) -> float:
    """The competition metric (macro ROC-AUC over classes with a positive) of ``submission``'s
    rows for the labelled windows (matched by ``row_id``; ``mask`` picks windows, e.g. one fold)."""
    keep = np.ones(len(labelled), bool) if mask is None else np.asarray(mask, bool)
    ids = labelled.windows["row_id"][keep]
    rows = submission.set_index("row_id")
    missing = ids[~ids.isin(rows.index)]
    if len(missing):
        raise ValueError(f"submission lacks {len(missing)} labelled windows, e.g. {missing.iloc[:3].tolist()}")
    return macro_roc_auc(labelled.targets[keep], rows.loc[ids, list(labelled.classes)].to_numpy())


def name_metadata(filename) -> dict | None:
    """Site, date and hour from a 2026 name (``BC2026_Train_0039_S22_20211231_201500.ogg``).

    Returns ``{"split", "id", "site", "date", "hour", "minute"}`` (``site`` like ``"S22"``, ``hour``
    0-23, UTC); ``None`` for any name that does not follow the pattern or holds an impossible time.
    """
    match = NAME_2026.match(Path(str(filename)).stem)
    if not match:
        return None
    split, number, site, day, clock = match.groups()
    try:
        when = datetime.strptime(day + clock, "%Y%m%d%H%M%S")
    except ValueError:
        return None
    return {"split": split.lower(), "id": number, "site": f"S{site}", "date": when.date().isoformat(),
            "hour": when.hour, "minute": when.minute}


def add_name_metadata(df: pd.DataFrame, column: str = "filename") -> pd.DataFrame:
    """``df`` with ``site`` and ``hour`` from the names in ``column`` (None where a name has none)."""
    meta = [name_metadata(name) or {} for name in df[column]]
    return df.assign(site=pd.Series([m.get("site") for m in meta], index=df.index, dtype=object),
                     hour=pd.Series([m.get("hour") for m in meta], index=df.index, dtype="Int64"))
