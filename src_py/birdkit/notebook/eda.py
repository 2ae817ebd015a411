"""Tables behind the EDA notebook (any BirdCLEF year)."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd

from ..data.labels import add_name_metadata
from ..data.tables import TableError, durations  # noqa: F401  (durations: the EDA notebook's header scan)
from ..infer.predict import list_audio


class NoRecordingsError(TableError):
    """The metadata table left no usable recording: there is nothing to explore or train on."""


def require_recordings(tables, run_dir=None) -> None:
    """Stop with the audio folder and the flagged rows counted by reason when ``tables.train`` is
    empty (every row skipped, or a table without rows), instead of a plotting error further down."""
    if len(tables.train):
        return
    layout = tables.layout
    audio = layout.audio_dir if layout is not None else "the audio folder"
    csv = layout.metadata_csv if layout is not None else "the metadata table"
    skipped = [r["reason"] for r in tables.report if r["action"] == "skipped"]
    if not skipped:
        raise NoRecordingsError(f"no usable recording: {csv} has no rows (audio folder {audio})")
    counts = Counter(skipped).most_common()
    shown = "".join(f"\n  {n} x {reason}" for reason, n in counts[:10])
    more = f"\n  ... and {len(counts) - 10} other reasons" if len(counts) > 10 else ""
    listed = f" (every row is listed in {Path(run_dir) / 'skips' / 'train_table.csv'})" if run_dir else ""
    raise NoRecordingsError(f"no usable recording in {audio}: all {len(skipped)} rows of {csv} were "
                            f"skipped{listed}, by reason:{shown}{more}")


def with_taxonomy(train: pd.DataFrame, taxonomy: pd.DataFrame) -> pd.DataFrame:
    """``train`` with the taxonomy's ``class_name`` (2026's train.csv has its own: the taxonomy's wins)."""
    cols = [c for c in ("primary_label", "class_name") if c in taxonomy.columns]
    return train.drop(columns=[c for c in cols[1:] if c in train.columns]).merge(
        taxonomy[cols], on="primary_label", how="left")


def rarest(counts: pd.Series, taxonomy: pd.DataFrame, n=5) -> pd.DataFrame:
    names = taxonomy.set_index("primary_label")
    tail = counts.tail(n).sort_values()
    out = pd.DataFrame({"primary_label": tail.index, "recordings": tail.values})
    for col in ("common_name", "class_name"):
        if col in names.columns:
            out[col] = names.loc[tail.index, col].values
    return out


def rare_species(counts: pd.Series, classes, threshold: int) -> pd.Series:
    """Every taxonomy class with fewer than ``threshold`` recordings (missing ones count 0)."""
    full = counts.reindex(list(classes), fill_value=0)
    return full[full < threshold].sort_values()


# ---- any year: classes without training audio, labelled soundscapes, file-name metadata ----

def labelled_per_class(labelled, taxonomy: pd.DataFrame) -> pd.DataFrame:
    """Labelled 5-s windows per class (classes with at least one), most first, with class_name."""
    counts = labelled.class_counts()
    counts = counts[counts > 0].sort_values(ascending=False, kind="stable")
    names = taxonomy.set_index("primary_label")["class_name"]
    return pd.DataFrame({"primary_label": counts.index, "windows": counts.values,
                         "class_name": names.reindex(counts.index).values})


def only_in_soundscapes(tables) -> list[str]:
    """Classes with labelled soundscape windows but no training recording."""
    if tables.labelled is None:
        return []
    counts = tables.labelled.class_counts()
    return [c for c in tables.untrained_classes if counts[c] > 0]


def soundscape_files(layout) -> pd.DataFrame:
    """Every soundscape file (unlabelled and test) with the site and hour its name carries, if any."""
    folders = [("train", layout.soundscape_dir), ("test", layout.test_dir)]
    rows = [{"set": kind, "filename": p.name} for kind, folder in folders if folder for p in list_audio(folder)]
    return add_name_metadata(pd.DataFrame(rows, columns=["set", "filename"]))


def counts_by(df: pd.DataFrame, key: str) -> pd.Series:
    """Rows per value of ``key`` (site or hour), sorted by value; empty when no name carried one."""
    counts = df[key].dropna().value_counts().sort_index()
    counts.index = [int(v) if key == "hour" else v for v in counts.index]  # 5, not np.int64(5), when printed
    return counts
