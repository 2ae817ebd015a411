"""One recording's cached model outputs (the embedding cache's file format).

``<embedding_path>/train/<train.csv filename without its suffix>.npz`` for a training recording,
``<embedding_path>/soundscapes/<stem>.npz`` for a soundscape. Each holds the model windows laid
every ``hop`` seconds over the recording (``foundation.base.subwindow_starts``):

- ``emb`` float16 ``[m, d]``: the embeddings;
- ``logits`` float16 ``[m, C]``: the competition classes' logits through the class map (0 where
  a class is unmapped: ``mapped`` says which);
- ``fill`` float16 ``[m]``: the share of each window that is audio, not padding;
- ``hop``, ``window_seconds``, ``seconds`` (the recording's length), ``mapped`` bool ``[C]``.

``Record.window(start)`` pools the rows that cover the scored window starting at ``start``
seconds (mean of embeddings, max of logits: ``foundation.base.pool``).
"""
from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..util import atomic
from .base import pool, window_groups, window_offsets

KINDS = ("train", "soundscapes")


def record_path(embedding_path, kind: str, name) -> Path:
    """Where a recording's record goes: ``kind`` train (``name`` = train.csv's filename) or
    soundscapes (``name`` = the file name or stem)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    name = Path(str(name))
    return (Path(embedding_path) / kind / name.parent / name.stem).with_suffix(".npz")


@dataclass
class Record:
    emb: np.ndarray
    logits: np.ndarray
    fill: np.ndarray
    hop: float
    window_seconds: float
    seconds: float
    mapped: np.ndarray

    def starts(self, scored_seconds: float) -> np.ndarray:
        """Start seconds of the scored windows of this recording (at least one)."""
        n = max(1, int(np.ceil(self.seconds / scored_seconds - 1e-6)))
        return np.arange(n) * scored_seconds

    def windows(self, starts, scored_seconds: float = 5.0) -> tuple[np.ndarray, np.ndarray]:
        """(``[W, d]``, ``[W, C]``) pooled over the scored windows starting at ``starts`` (seconds,
        snapped to the grid)."""
        offsets = window_offsets(scored_seconds, self.window_seconds, self.hop)
        groups = window_groups(starts, offsets, self.hop, len(self.emb))
        return pool(self.emb, self.logits, groups, self.fill)

    def window(self, start: float, scored_seconds: float = 5.0) -> tuple[np.ndarray, np.ndarray]:
        e, z = self.windows([start], scored_seconds)
        return e[0], z[0]


def save_record(path, emb, logits, fill, hop, window_seconds, seconds, mapped) -> Path:
    """Written atomically: a killed run leaves the previous file or none."""
    with atomic.replacing(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, emb=np.asarray(emb, np.float16), logits=np.asarray(logits, np.float16),
                 fill=np.asarray(fill, np.float16), hop=np.float64(hop), window_seconds=np.float64(window_seconds),
                 seconds=np.float64(seconds), mapped=np.asarray(mapped, bool))
    return Path(path)


class RecordError(ValueError):
    """A damaged record; the message names the file."""


def load_record(path) -> Record:
    try:
        with np.load(path) as z:
            return Record(z["emb"], z["logits"], z["fill"], float(z["hop"]), float(z["window_seconds"]),
                          float(z["seconds"]), z["mapped"])
    except FileNotFoundError:
        raise
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise RecordError(f"{path}: damaged embedding record ({type(exc).__name__}: {exc}); delete it and "
                          "rerun the embedding stage, which writes it again") from exc


def valid_record(path) -> bool:
    try:
        load_record(path)
        return True
    except (FileNotFoundError, RecordError):
        return False
