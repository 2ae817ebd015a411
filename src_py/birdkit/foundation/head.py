"""A shallow head on cached embeddings: one logistic regression per class, trained in seconds.

Features are standardised (the training windows' mean and standard deviation), then every class's
logistic regression is fitted at once: the mean binary cross-entropy over windows and classes
plus ``||W||^2 / (2 C n)`` (scikit-learn's ``C`` convention, ``foundation_head_c``), minimised by
full-batch L-BFGS (``torch.optim.LBFGS``) from zero: deterministic, and soft targets (secondary
labels) are kept. A class without a positive window gets a constant low score.

Training windows: each training recording's scored windows (the ones training reads: the first
``max_windows``), with its targets; labelled soundscape windows join them
(``foundation_head_soundscapes``) outside the validation files. The head is saved as plain arrays
(``.npz``), so it loads on any scikit-learn or torch version.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from ..util import atomic
from .base import sigmoid

HEAD_NAME = "{model}_head.npz"   # beside the checkpoints: it travels with them to the inference kernel


@dataclass
class Head:
    mean: np.ndarray       # [d]
    scale: np.ndarray      # [d]
    coef: np.ndarray       # [C, d]
    intercept: np.ndarray  # [C]
    classes: list

    def logits(self, emb: np.ndarray) -> np.ndarray:
        x = (np.asarray(emb, np.float32) - self.mean) / self.scale
        return x @ self.coef.T + self.intercept

    def probs(self, emb: np.ndarray) -> np.ndarray:
        return sigmoid(self.logits(emb)).astype(np.float32)

    def save(self, path) -> Path:
        with atomic.replacing(path) as tmp, open(tmp, "wb") as f:
            np.savez(f, mean=self.mean, scale=self.scale, coef=self.coef,
                     intercept=self.intercept, classes=np.array(self.classes, dtype=str))
        return Path(path)

    @classmethod
    def load(cls, path) -> Head:
        if not Path(path).is_file():
            raise FileNotFoundError(f"no foundation head {path}: run 25_embeddings (it trains the head) or drop "
                                    "'head' from foundation_members")
        with np.load(path) as z:
            return cls(z["mean"], z["scale"], z["coef"], z["intercept"], [str(c) for c in z["classes"]])


def fit_head(x: np.ndarray, y: np.ndarray, classes, c: float = 1.0, max_iter: int = 200) -> Head:
    """``x`` ``[n, d]`` embeddings, ``y`` ``[n, C]`` targets in [0, 1] -> a ``Head``."""
    x = np.asarray(x, np.float32)
    y = np.asarray(y, np.float32)
    if len(x) == 0:
        raise ValueError("no training windows for the foundation head (no embedded training recording)")
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    xt = torch.from_numpy((x - mean) / scale)
    yt = torch.from_numpy(y)
    w = torch.zeros(y.shape[1], x.shape[1], requires_grad=True)
    b = torch.zeros(y.shape[1], requires_grad=True)
    penalty = 1.0 / (2.0 * c * len(x))
    opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=max_iter, history_size=20, line_search_fn="strong_wolfe",
                            tolerance_grad=1e-6, tolerance_change=1e-9)

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(xt @ w.T + b, yt) * y.shape[1]
        loss = loss + penalty * (w ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    coef, intercept = w.detach().numpy().copy(), b.detach().numpy().copy()
    empty = y.max(axis=0) <= 0
    coef[empty], intercept[empty] = 0.0, -10.0   # no positive window: a constant low score
    return Head(mean.astype(np.float32), scale.astype(np.float32), coef.astype(np.float32),
                intercept.astype(np.float32), list(classes))


def head_path(cfg) -> Path:
    return cfg.checkpoint_dir / HEAD_NAME.format(model=cfg.foundation_model)


class Windows(NamedTuple):
    emb: np.ndarray       # [n, d] pooled embeddings
    logits: np.ndarray    # [n, C] pooled class-mapped logits (zero-shot)
    targets: np.ndarray   # [n, C]
    skipped: list         # skip records (recordings without a record)


def focal_windows(df, classes, cfg) -> Windows:
    """The first ``max_windows`` scored windows of each training recording's record, each with its
    recording's targets."""
    from ..data.tables import make_targets
    from .records import RecordError, load_record, record_path

    targets = make_targets(df, classes, cfg.secondary_weight)
    xs, zs, ys, skipped = [], [], [], []
    for i, name in enumerate(df["filename"]):
        try:
            rec = load_record(record_path(cfg.embedding_path, "train", name))
        except (FileNotFoundError, RecordError) as exc:
            skipped.append({"filename": name, "reason": "no embedding record", "error": str(exc)})
            continue
        e, z = rec.windows(rec.starts(cfg.window_seconds)[: max(1, cfg.max_windows)], cfg.window_seconds)
        xs.append(e)
        zs.append(z)
        ys.append(np.repeat(targets[i][None], len(e), axis=0))
    return _stack(xs, zs, ys, skipped)


def soundscape_windows(windows, targets, cfg) -> Windows:
    """Labelled soundscape windows (``windows``: filename, start), in their order; a file without a
    record is skipped (with its windows)."""
    from .records import RecordError, load_record, record_path

    xs, zs, ys, skipped = [], [], [], []
    for name, idx in windows.groupby("filename", sort=False).indices.items():
        try:
            rec = load_record(record_path(cfg.embedding_path, "soundscapes", name))
        except (FileNotFoundError, RecordError) as exc:
            skipped.append({"filename": name, "reason": "no embedding record", "error": str(exc)})
            continue
        e, z = rec.windows(windows["start"].to_numpy()[idx], cfg.window_seconds)
        xs.append(e)
        zs.append(z)
        ys.append(np.asarray(targets)[idx])
    return _stack(xs, zs, ys, skipped)


def _stack(xs, zs, ys, skipped) -> Windows:
    if not xs:
        empty = np.zeros((0, 0), np.float32)
        return Windows(empty, empty, empty, skipped)
    return Windows(np.concatenate(xs), np.concatenate(zs), np.concatenate(ys), skipped)


def combine_windows(a: Windows, b: Windows) -> Windows:
    if not len(b.emb):
        return a._replace(skipped=a.skipped + b.skipped)
    if not len(a.emb):
        return b._replace(skipped=a.skipped + b.skipped)
    return Windows(*(np.concatenate([u, v]) for u, v in zip(a[:3], b[:3])), a.skipped + b.skipped)
