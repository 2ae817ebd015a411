"""A ``submission.csv`` that is valid at every moment of the inference run.

Before scoring starts, every row of every test file is written with a stated fallback: each
class's share of the training recordings (``label_prior``). As files are scored their rows
replace the fallback ones, and the whole file is rewritten atomically (a temporary file, then
``os.replace``) every ``every_seconds`` and at the end, so a kill at any moment leaves the last
complete file: the fallback rows at the least. A file that fails to decode or score, or that the
watchdog left unscored, keeps its fallback rows.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..data.audio import AudioError, audio_info
from ..data.windows import n_windows, row_ids
from ..util import atomic

if TYPE_CHECKING:
    from ..config import Config

FALLBACK_SECONDS = 60.0  # an undecodable test file with no readable header: rows of a 60-s soundscape
WRITE_EVERY_SECONDS = 60.0


@dataclass(frozen=True)
class OutputPaths:
    """What the inference notebook writes."""
    submission: Path   # submission_path, or <run_dir>/submission.csv
    seed_view: Path    # beside it: the seed's view (filename, predicted_species, confidence)
    score: Path        # <run_dir>/score.txt: the metric against solution_path (the runner prints it)


def output_paths(cfg: Config) -> OutputPaths:
    submission = Path(cfg.submission_path) if cfg.submission_path else cfg.run_path / "submission.csv"
    return OutputPaths(submission, submission.with_name("submission_seed_view.csv"), cfg.run_path / "score.txt")


def label_prior(metadata_csv, classes) -> tuple[np.ndarray, str]:
    """Each class's share of the training recordings (primary labels; a class with none counts
    half a recording), and a sentence that says so; uniform when the table cannot be read."""
    try:
        labels = pd.read_csv(metadata_csv, usecols=["primary_label"], dtype=str)["primary_label"]
    except (OSError, ValueError) as exc:
        uniform = np.full(len(classes), 1.0 / max(len(classes), 1), dtype=np.float32)
        return uniform, f"fallback rows: uniform 1/{len(classes)} ({metadata_csv} unreadable: {exc})"
    counts = labels.value_counts().reindex(list(classes), fill_value=0).to_numpy(dtype=np.float64)
    prior = np.maximum(counts, 0.5) / max(len(labels), 1)
    return prior.astype(np.float32), (f"fallback rows: each class's share of the {len(labels)} training "
                                      f"recordings in {Path(metadata_csv).name}")


def fallback_seconds(path, default: float = FALLBACK_SECONDS) -> float:
    """Length of an undecodable file: from its header when that reads (and claims 0-60 min), else
    ``default`` (the year's test file length, ``Layout.test_file_seconds``)."""
    try:
        seconds = audio_info(path)[1]
    except AudioError:
        return float(default)
    return seconds if 0 < seconds <= 3600 else float(default)


def window_frame(stem: str, probs: np.ndarray, classes, window_seconds: float) -> pd.DataFrame:
    """One file's rows: ``row_id`` then one column per class."""
    frame = pd.DataFrame(probs.astype(np.float32), columns=list(classes))
    frame.insert(0, "row_id", row_ids(stem, len(probs), window_seconds))
    return frame


def fallback_frame(path, classes, prior, sample_rate: int, window: int, file_seconds: float) -> pd.DataFrame:
    """``prior`` in every ``window``-sample window of ``path`` (its header's length, else
    ``file_seconds``)."""
    count = n_windows(int(fallback_seconds(path, file_seconds) * sample_rate), window)
    return window_frame(Path(path).stem, np.tile(np.asarray(prior, np.float32), (count, 1)), classes,
                        window / sample_rate)


def fallback_submission(files, classes, prior, sample_rate: int, window: int, file_seconds: float) -> pd.DataFrame:
    """Every row of every file in ``files``, each holding ``prior``: the submission before scoring."""
    frames = [fallback_frame(f, classes, prior, sample_rate, window, file_seconds) for f in files]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["row_id"] + list(classes))


class SubmissionWriter:
    """Keeps ``path`` a complete submission: ``start`` writes the fallback rows, ``maybe_write``
    rewrites it at most every ``every_seconds``, ``write`` now."""

    def __init__(self, path, every_seconds: float = WRITE_EVERY_SECONDS, clock=time.monotonic):
        self.path, self.every, self.clock = Path(path), every_seconds, clock
        self.last, self.writes = None, 0

    def write(self, frame: pd.DataFrame) -> Path:
        atomic.write_csv(self.path, frame)
        self.last, self.writes = self.clock(), self.writes + 1
        return self.path

    def maybe_write(self, make_frame) -> bool:
        """Rewrite with ``make_frame()`` when ``every_seconds`` passed since the last write."""
        if self.last is not None and self.clock() - self.last < self.every:
            return False
        self.write(make_frame())
        return True
