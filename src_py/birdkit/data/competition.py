"""Which BirdCLEF edition a folder holds, recognised by its files (never by the folder's name).

====  ======================  ========================  ================================  =========  =======
year  metadata table          taxonomy                  soundscapes                       test file  budget
====  ======================  ========================  ================================  =========  =======
2024  train_metadata.csv      eBird_Taxonomy_v2021.csv  unlabeled_soundscapes/            240 s      120 min
2025  train.csv (13 columns)  taxonomy.csv              train_soundscapes/                60 s       90 min
2026  train.csv (15 columns)  taxonomy.csv              train_soundscapes/ + labels file  60 s       90 min
====  ======================  ========================  ================================  =========  =======

2026 is told from 2025 by its metadata columns (``class_name``, ``inat_taxon_id``) or its
``BC2026_`` file names; ``train_soundscapes_labels.csv`` is used in any year that has one.
Every year: ``train_audio/<label>/<file>``, ``sample_submission.csv`` whose columns after
``row_id`` are the classes, ``test_soundscapes/`` (empty in the public download).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

SAMPLE_SUBMISSION = "sample_submission.csv"
METADATA_FILES = ("train.csv", "train_metadata.csv")
TAXONOMY_FILES = ("taxonomy.csv", "eBird_Taxonomy_v2021.csv")
SOUNDSCAPE_DIRS = ("train_soundscapes", "unlabeled_soundscapes")
LABELS_FILE = "train_soundscapes_labels.csv"
COLUMNS_2026 = ("class_name", "inat_taxon_id")   # train.csv columns new in 2026
NAME_PREFIX_2026 = "BC2026_"
# year -> (CPU time budget in minutes, seconds per test file, about how many hidden test files)
YEAR_FACTS = {2024: (120, 240, 1100), 2025: (90, 60, 700), 2026: (90, 60, 600)}


class CompetitionError(FileNotFoundError):
    """A folder that is no BirdCLEF layout; the message names the folder and what is missing."""


@dataclass(frozen=True)
class Layout:
    """Where a competition folder keeps each thing, and the facts of its year."""

    root: Path
    year: int
    metadata_csv: Path               # train.csv or train_metadata.csv
    taxonomy_csv: Path               # taxonomy.csv or eBird_Taxonomy_v2021.csv
    sample_submission_csv: Path
    audio_dir: Path                  # train_audio/
    soundscape_dir: Path | None      # train_soundscapes/ or unlabeled_soundscapes/; None if absent
    labels_csv: Path | None          # train_soundscapes_labels.csv; None if absent
    test_dir: Path                   # test_soundscapes/ (may be missing or empty: public data)
    time_budget_minutes: int         # Kaggle's CPU limit for the submission notebook
    test_file_seconds: int           # length of one test soundscape
    hidden_test_files: int           # about how many files Kaggle's rerun scores

    def describe(self) -> str:
        """One line for the notebooks: the year and the files it was recognised by."""
        parts = [self.metadata_csv.name, self.taxonomy_csv.name,
                 f"{self.soundscape_dir.name}/" if self.soundscape_dir else "no unlabelled soundscapes",
                 self.labels_csv.name if self.labels_csv else "no labelled soundscapes"]
        return (f"BirdCLEF {self.year} layout: {', '.join(parts)}; test files {self.test_file_seconds} s "
                f"({self.test_file_seconds // 5} windows), CPU budget {self.time_budget_minutes} min")


def _first(root: Path, names, is_dir=False) -> Path | None:
    for name in names:
        path = root / name
        if path.is_dir() if is_dir else path.is_file():
            return path
    return None


def missing_parts(comp_dir) -> list[str]:
    """What ``comp_dir`` lacks to be a competition folder of any year ([] = nothing)."""
    root = Path(comp_dir)
    if not root.is_dir():
        return [f"the folder itself ({root} does not exist)"]
    wanted = [((SAMPLE_SUBMISSION,), SAMPLE_SUBMISSION), (METADATA_FILES, " or ".join(METADATA_FILES)),
              (TAXONOMY_FILES, " or ".join(TAXONOMY_FILES))]
    return [text for names, text in wanted if _first(root, names) is None]


def is_competition_dir(path) -> bool:
    """A 2024, 2025 or 2026 folder: ``sample_submission.csv`` and a metadata table."""
    root = Path(path)
    return (root / SAMPLE_SUBMISSION).is_file() and _first(root, METADATA_FILES) is not None


def detect_layout(comp_dir) -> Layout:
    """The layout of ``comp_dir``; a folder of no known year raises ``CompetitionError``."""
    root = Path(comp_dir)
    missing = missing_parts(root)
    if missing:
        raise CompetitionError(f"{root} is not a competition folder (BirdCLEF 2024, 2025 or 2026 layout): "
                               f"it has no {'; no '.join(missing)}")
    metadata, taxonomy = _first(root, METADATA_FILES), _first(root, TAXONOMY_FILES)
    soundscapes = _first(root, SOUNDSCAPE_DIRS, is_dir=True)
    labels = root / LABELS_FILE if (root / LABELS_FILE).is_file() else None
    year = _year(root, metadata, taxonomy, soundscapes)
    budget, seconds, hidden = YEAR_FACTS[year]
    return Layout(root, year, metadata, taxonomy, root / SAMPLE_SUBMISSION, root / "train_audio", soundscapes,
                  labels, root / "test_soundscapes", budget, seconds, hidden)


def _year(root: Path, metadata: Path, taxonomy: Path, soundscapes: Path | None) -> int:
    if metadata.name == "train_metadata.csv" or taxonomy.name != "taxonomy.csv" or (
            soundscapes is not None and soundscapes.name == "unlabeled_soundscapes"):
        return 2024
    columns = set(pd.read_csv(metadata, nrows=0).columns)
    names = [_first_name(folder) for folder in (soundscapes, root / "test_soundscapes")]
    if set(COLUMNS_2026) & columns or any(n.startswith(NAME_PREFIX_2026) for n in names if n):
        return 2026
    return 2025


def _first_name(folder: Path | None) -> str | None:
    """The name of one audio file in ``folder`` without listing all of it (10,000 files on Kaggle)."""
    if folder is None or not folder.is_dir():
        return None
    with os.scandir(folder) as entries:
        return next((e.name for e in entries if e.name.endswith((".ogg", ".wav", ".flac"))), None)


def budget_minutes(layout: Layout, override: float = 0.0) -> float:
    """``Config.time_budget_minutes`` when set (> 0), else the year's limit."""
    return float(override) if override > 0 else float(layout.time_budget_minutes)
