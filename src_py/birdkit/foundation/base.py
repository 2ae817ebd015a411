"""What every pretrained audio model gives the suite, and how its windows cover a scored window.

A ``FoundationModel`` has a sample rate, a window length (its own: BirdNET 3 s, Perch 5 s), an
embedding width and a label list with scientific names. ``embed_logits(waves [n, window])``
returns both the embeddings ``[n, d]`` and the logits ``[n, labels]`` of a batch, in batches of
``batch_size``, on every core the runtime is given. Weights always come from a local file.

A scored 5-s window is covered by the model's windows at ``offsets`` (seconds from the window's
start: BirdNET 0, 1 and 2 s; Perch 0 s); ``pool`` takes the mean of their embeddings and the
max of their logits. ``subwindow_starts`` lays such windows over a whole recording on a
``hop``-second grid, which is what the embedding cache stores: a scored window starting at any
multiple of ``hop`` then pools the grid's rows, with no second model call.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


class FoundationError(ValueError):
    """A pretrained model that cannot be used: a missing file, runtime or label list. The message
    names the parameter and the file."""


@dataclass
class Labels:
    """A model's outputs: label codes (as the model writes them), scientific and common names, and
    eBird codes where the model has them ("" where not)."""
    codes: list
    scientific: list
    common: list = field(default_factory=list)
    ebird: list = field(default_factory=list)

    def __len__(self):
        return len(self.codes)


class FoundationModel:
    """The interface; ``BirdNet`` and ``Perch`` implement ``_run``."""
    name = "foundation"
    sample_rate: int
    window_samples: int
    embedding_size: int
    labels: Labels
    licence = ""
    batch_size = 32

    @property
    def window_seconds(self) -> float:
        return self.window_samples / self.sample_rate

    def embed_logits(self, waves) -> tuple[np.ndarray, np.ndarray]:
        """``[n, window_samples]`` float32 at ``sample_rate`` -> (embeddings ``[n, d]``, logits
        ``[n, labels]``), float32, in batches of ``batch_size``."""
        waves = np.asarray(waves, dtype=np.float32)
        if waves.ndim != 2 or waves.shape[1] != self.window_samples:
            raise ValueError(f"{self.name} takes [n, {self.window_samples}] windows at {self.sample_rate} Hz, "
                             f"got {list(waves.shape)}")
        if not len(waves):
            return (np.zeros((0, self.embedding_size), np.float32), np.zeros((0, len(self.labels)), np.float32))
        parts = [self._run(np.ascontiguousarray(waves[i:i + self.batch_size]))
                 for i in range(0, len(waves), self.batch_size)]
        return (np.concatenate([p[0] for p in parts]).astype(np.float32, copy=False),
                np.concatenate([p[1] for p in parts]).astype(np.float32, copy=False))

    def embed(self, waves) -> np.ndarray:
        return self.embed_logits(waves)[0]

    def logits(self, waves) -> np.ndarray:
        return self.embed_logits(waves)[1]

    def _run(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def offsets(self, scored_seconds: float, hop_seconds: float) -> list[float]:
        """Where this model's windows start inside one scored window: every ``hop_seconds`` while
        the model window fits (BirdNET in 5 s at a 1-s hop: 0, 1, 2); at least the start."""
        return window_offsets(scored_seconds, self.window_seconds, hop_seconds)

    def describe(self) -> str:
        return (f"{self.name}: {self.sample_rate} Hz, {self.window_seconds:g}-s windows, {self.embedding_size}-d "
                f"embedding, {len(self.labels)} labels" + (f"; weights {self.licence}" if self.licence else ""))


def sigmoid(z):
    """Per-class probabilities of logits (clipped: no overflow warning on a far logit)."""
    return 1.0 / (1.0 + np.exp(-np.clip(z, -60, 60)))


def window_offsets(scored_seconds: float, window_seconds: float, hop_seconds: float) -> list[float]:
    if hop_seconds <= 0:
        raise ValueError(f"foundation_hop_seconds must be > 0, got {hop_seconds}")
    span = max(scored_seconds - window_seconds, 0.0)
    n = int(np.floor(span / hop_seconds + 1e-6)) + 1
    return [round(k * hop_seconds, 6) for k in range(n)]


def subwindow_starts(n_samples: int, sample_rate: int, window_samples: int, hop_seconds: float) -> np.ndarray:
    """Start samples of the model windows laid every ``hop_seconds`` over a recording of
    ``n_samples`` (the last one may run past the end: it is zero-padded); at least one."""
    hop = int(round(hop_seconds * sample_rate))
    if hop <= 0:
        raise ValueError(f"foundation_hop_seconds must be > 0, got {hop_seconds}")
    last = max(n_samples - window_samples, 0)
    return hop * np.arange(-(-last // hop) + 1)


def frames(wave: np.ndarray, starts, window_samples: int) -> np.ndarray:
    """``[len(starts), window_samples]``: the windows at ``starts``, zero-padded past the end."""
    need = int(max(starts)) + window_samples if len(starts) else window_samples
    padded = np.pad(np.asarray(wave, dtype=np.float32), (0, max(0, need - len(wave))))
    return np.stack([padded[s:s + window_samples] for s in starts]) if len(starts) else padded[None, :0]


def filled(n_samples: int, starts, window_samples: int) -> np.ndarray:
    """The share of each window at ``starts`` that holds audio (not padding), in [0, 1]."""
    starts = np.asarray(starts)
    return np.clip((n_samples - starts) / window_samples, 0.0, 1.0).astype(np.float32)


def pool(emb: np.ndarray, logits: np.ndarray, groups, fill=None, min_fill: float = 0.2):
    """Scored windows from model windows: ``groups[w]`` lists the rows (of ``emb`` ``[m, d]`` and
    ``logits`` ``[m, L]``) covering window ``w``. Embeddings: their mean; logits: their max. Rows
    under ``min_fill`` audio (padding past a short clip's end) are left out, unless none is
    left. Returns (``[W, d]``, ``[W, L]``)."""
    out_e, out_z = [], []
    for rows in groups:
        rows = np.asarray(rows, dtype=int)
        if fill is not None and len(rows) > 1:
            keep = rows[np.asarray(fill)[rows] >= min_fill]
            rows = keep if len(keep) else rows[:1]
        out_e.append(emb[rows].astype(np.float32).mean(axis=0))
        out_z.append(logits[rows].astype(np.float32).max(axis=0))
    d, k = emb.shape[1], logits.shape[1]
    return (np.stack(out_e) if out_e else np.zeros((0, d), np.float32),
            np.stack(out_z) if out_z else np.zeros((0, k), np.float32))


def window_groups(window_starts_s, offsets_s, grid_hop_s: float, n_rows: int) -> list:
    """Rows of a ``grid_hop_s`` grid that cover scored windows starting at ``window_starts_s``
    (seconds) with model windows at ``offsets_s`` inside each: row ``(start + offset) / hop``,
    clipped to the grid."""
    out = []
    for s in window_starts_s:
        rows = sorted({min(int(round((s + o) / grid_hop_s)), n_rows - 1) for o in offsets_s})
        out.append(rows)
    return out
