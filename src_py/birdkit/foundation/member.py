"""A pretrained model as one member of the inference ensemble: its shallow head, or zero-shot.

``FoundationMember.window_probs(wave)`` scores one soundscape (at the model's own rate) per 5-s
window: the model windows at ``offsets`` inside every scored window (BirdNET 0, 1, 2 s) in
batches, pooled (mean of embeddings, max of logits), then

- ``head``: the shallow head's sigmoid of the pooled embedding (``foundation.head``);
- ``zeroshot``: the sigmoid of the pooled logits through the class map (per class, not a
  softmax over all labels). Unmapped classes have no score: ``class_mask`` is False there, and
  the ensemble average leaves this member out of those classes.

A member is rebuilt in an inference worker process from ``spec`` (plain values), with one thread.
TTA views are not applied to foundation members (their windows are pooled already).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .base import frames, pool, sigmoid, window_offsets
from .mapping import map_logits

KINDS = ("head", "zeroshot")


@dataclass
class FoundationMember:
    kind: str                         # head | zeroshot
    model: object                     # a FoundationModel
    class_indices: list               # per class: model label indices (class map)
    head: object = None               # a Head (kind head)
    hop_seconds: float = 1.0
    scored_seconds: float = 5.0
    weight: float = 1.0
    spec: dict = field(default_factory=dict)
    foundation = True                 # tells the ensemble this member takes waves at its own rate

    @property
    def sample_rate(self) -> int:
        return self.model.sample_rate

    @property
    def class_mask(self) -> np.ndarray:
        if self.kind == "head":
            return np.ones(len(self.class_indices), bool)
        return np.array([bool(ix) for ix in self.class_indices])

    @property
    def name(self) -> str:
        return f"{self.model.name} {self.kind}"

    @property
    def offsets(self) -> list:
        return window_offsets(self.scored_seconds, self.model.window_seconds, self.hop_seconds)

    @property
    def shared_key(self) -> tuple:
        """Members with the same key share one model call per file (head and zero-shot of one model)."""
        return id(self.model), tuple(self.offsets)

    def pooled(self, wave: np.ndarray, n_windows: int) -> tuple[np.ndarray, np.ndarray]:
        """(``[n_windows, d]``, ``[n_windows, labels]``): the model windows at ``offsets`` inside
        every scored window, in batches, pooled (mean of embeddings, max of logits)."""
        offsets = self.offsets
        starts_s = np.arange(n_windows) * self.scored_seconds
        subs = sorted({round(s + o, 6) for s in starts_s for o in offsets})
        row = {s: k for k, s in enumerate(subs)}
        x = frames(wave, [int(round(s * self.sample_rate)) for s in subs], self.model.window_samples)
        emb, logits = self.model.embed_logits(x)
        return pool(emb, logits, [[row[round(s + o, 6)] for o in offsets] for s in starts_s])

    def from_pooled(self, emb: np.ndarray, logits: np.ndarray) -> np.ndarray:
        """``[n_windows, classes]`` probabilities from ``pooled``'s output."""
        if self.kind == "head":
            return self.head.probs(emb)
        return (sigmoid(map_logits(logits, self.class_indices)) * self.class_mask).astype(np.float32)

    def window_probs(self, wave: np.ndarray, n_windows: int) -> np.ndarray:
        """``[n_windows, classes]`` probabilities of a soundscape decoded at ``sample_rate``."""
        return self.from_pooled(*self.pooled(wave, n_windows))


def member_spec(kind: str, cfg, classes, class_indices, head_path: str = "", weight: float = 1.0) -> dict:
    """What rebuilds the member (here and in a worker process): plain values only."""
    if kind not in KINDS:
        raise ValueError(f"foundation_members holds {KINDS}, not {kind!r}")
    return {"kind": kind, "model": cfg.foundation_model, "path": cfg.foundation_path, "classes": list(classes),
            "sample_rate": cfg.sample_rate,
            "labels_path": cfg.foundation_labels_path, "hop_seconds": cfg.foundation_hop_seconds,
            "batch": cfg.foundation_batch, "scored_seconds": cfg.window_seconds, "kaggle_input": cfg.kaggle_input,
            "class_indices": [list(map(int, ix)) for ix in class_indices], "head_path": str(head_path),
            "weight": float(weight)}


_MODELS: dict = {}   # one loaded model per (name, path, threads) in a process: head and zeroshot share it


def from_spec(spec: dict, threads: int = 0) -> FoundationMember:
    from . import load_model
    from .head import Head

    key = (spec["model"], spec["path"], spec.get("labels_path", ""), threads, spec["batch"])
    if key not in _MODELS:
        _MODELS[key] = load_model(spec["model"], spec["path"], spec.get("labels_path", ""), threads=threads,
                                  batch_size=spec["batch"], search_roots=(spec.get("kaggle_input", ""),))
    head = Head.load(spec["head_path"]) if spec["kind"] == "head" else None
    return FoundationMember(spec["kind"], _MODELS[key], spec["class_indices"], head, spec["hop_seconds"],
                            spec["scored_seconds"], spec.get("weight", 1.0), dict(spec))


def member_specs(cfg, taxonomy, classes, weights=(), head_roots=()) -> list:
    """The specs of ``cfg.foundation_members`` for ``classes`` (the class map made here, from the
    model's labels), each with its weight; the head is found in this run's checkpoints, else under
    ``head_roots`` (Kaggle: the training kernel's output under /kaggle/input)."""
    from . import from_config
    from .head import HEAD_NAME, head_path
    from .mapping import map_classes

    if not cfg.foundation_members:
        return []
    model = from_config(cfg)
    _MODELS[(cfg.foundation_model, cfg.foundation_path, cfg.foundation_labels_path, 0, cfg.foundation_batch)] = model
    class_map = map_classes(taxonomy, model.labels, cfg.foundation_genus_backoff)
    print(f"[foundation] {model.describe()}\n[foundation] class map: {class_map.summary()}")
    weights = list(weights) or [1.0] * len(cfg.foundation_members)
    specs = []
    for kind, weight in zip(cfg.foundation_members, weights):
        head = ""
        if kind == "head":
            head = head_path(cfg)
            if not head.is_file():
                head = next(iter(_search(head_roots, HEAD_NAME.format(model=cfg.foundation_model))), head)
            print(f"[foundation] head member: {head}")
        specs.append(member_spec(kind, cfg, classes, class_map.columns, str(head), weight))
    return specs


def _search(roots, name: str, depth: int = 6) -> list:
    """``name`` under each of ``roots`` at most ``depth`` folders deep, shallowest first."""
    from ..util.mounts import search

    return [p for root in roots if root for p in search(root, name, depth)]
