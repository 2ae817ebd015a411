"""Knowledge distillation from a pretrained bioacoustic model (BirdNET, Perch) into the suite's CNN.

The 2026 BirdCLEF winners distilled every backbone onto Perch's embeddings with a cosine loss.
Here the teacher is the embedding cache (``foundation.records``): each training crop starts on the
cache's grid (``foundation_hop_seconds``), so ``TeacherBank.lookup`` pools the grid rows of the
crop itself, with no model call during training. The ``Trainer`` adds
``distill_weight * cosine_distill_loss(projection(features), teacher embedding)`` and
``distill_kd_weight * kd_loss(logits, teacher logits, mapped)`` to the task loss; the projection
(``BirdModel.distill``) trains only, inference and export never see it.

An item without a teacher (a labelled soundscape chunk, ``WithoutTeacher``) carries a zero
embedding: it adds nothing to either loss (``weight`` 0).
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from .records import load_record, record_path

MISSING = ("run the embedding stage (25_embeddings) in this run folder first (on Kaggle: the embeddings kernel, "
           "attached to this one as a kernel source), set embedding_dir, or set distill_weight: 0 and "
           "distill_kd_weight: 0")


def _weighted_mean(per_row: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    if weight is None:
        return per_row.mean()
    weight = weight.to(per_row.dtype)
    return (per_row * weight).sum() / weight.sum().clamp_min(1e-8)


def cosine_distill_loss(student: torch.Tensor, teacher: torch.Tensor, weight: torch.Tensor | None = None):
    """Mean over the batch of ``1 - cos(student, teacher)`` (``[B, d]`` each); a zero teacher row
    gives 1 with no gradient (``eps``). ``weight [B]``: a weighted mean instead."""
    cos = F.cosine_similarity(student.float(), teacher.float(), dim=1, eps=1e-8)
    return _weighted_mean(1.0 - cos, weight)


def kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, mapped, weight: torch.Tensor | None = None):
    """BCE with logits of ``student_logits [B, C]`` against ``sigmoid(teacher_logits)`` over the
    ``mapped [C]`` columns only (the classes the teacher has logits for); 0 when none is mapped."""
    mapped = torch.as_tensor(np.asarray(mapped, dtype=bool), device=student_logits.device)
    if not bool(mapped.any()):
        return student_logits.sum() * 0.0
    s, t = student_logits.float()[:, mapped], teacher_logits.float()[:, mapped]
    per_row = F.binary_cross_entropy_with_logits(s, torch.sigmoid(t), reduction="none").mean(dim=1)
    return _weighted_mean(per_row, weight)


class TeacherBank:
    """The teacher's pooled outputs of training crops: record ``i`` is ``filenames[i]``'s
    (``record_path(embedding_path, "train", filename)``); ``lookup(i, start_seconds)`` gives
    (embedding ``[d]``, logits ``[C]``) float32 of the ``scored_seconds`` crop starting there.
    Records load lazily and stay cached (the last ``cache_records``)."""

    def __init__(self, embedding_path, filenames, scored_seconds: float, hop: float, cache_records: int = 4096):
        self.embedding_path, self.filenames = embedding_path, [str(f) for f in filenames]
        self.scored_seconds, self.hop, self.cache_records = float(scored_seconds), float(hop), cache_records
        self._records: OrderedDict = OrderedDict()
        self._first = None

    def __len__(self):
        return len(self.filenames)

    def path(self, i: int):
        return record_path(self.embedding_path, "train", self.filenames[i])

    def check(self) -> None:
        """Every record is there (before training starts); else the error names the first missing one."""
        missing = [i for i in range(len(self)) if not self.path(i).is_file()]
        if missing:
            i = missing[0]
            raise FileNotFoundError(f"no teacher embedding record {self.path(i)} for {self.filenames[i]} "
                                    f"({len(missing)} of {len(self)} training recordings have none); {MISSING}")

    def record(self, i: int):
        if i in self._records:
            self._records.move_to_end(i)
            return self._records[i]
        path = self.path(i)
        try:
            rec = load_record(path)
        except FileNotFoundError:
            raise FileNotFoundError(f"no teacher embedding record {path} for {self.filenames[i]}; {MISSING}") from None
        if abs(rec.hop - self.hop) > 1e-6:
            raise ValueError(f"{path}: the embedding cache's grid is {rec.hop:g} s, foundation_hop_seconds is "
                             f"{self.hop:g} s; set it to {rec.hop:g} or rerun the embedding stage")
        self._records[i] = rec
        if len(self._records) > self.cache_records:
            self._records.popitem(last=False)
        return rec

    def _first_record(self):
        if self._first is None:
            if not len(self):
                raise ValueError("a TeacherBank needs at least one training recording")
            self._first = self.record(0)
        return self._first

    @property
    def dim(self) -> int:
        """The teacher's embedding width (read from the first record)."""
        return int(self._first_record().emb.shape[1])

    @property
    def mapped(self) -> np.ndarray:
        """bool ``[C]``: the classes the teacher has logits for (the first record's)."""
        return np.asarray(self._first_record().mapped, dtype=bool)

    def lookup(self, i: int, start_seconds: float) -> tuple[np.ndarray, np.ndarray]:
        emb, logits = self.record(i).window(start_seconds, self.scored_seconds)
        return emb.astype(np.float32, copy=False), logits.astype(np.float32, copy=False)


class WithoutTeacher(Dataset):
    """Items of ``dataset`` (``(wave, targets, primary)``) with a zero teacher embedding ``[dim]``
    and zero logits ``[classes]`` appended, so they batch with a teacher's items and add nothing
    to the distillation losses."""

    def __init__(self, dataset, dim: int, classes: int):
        self.dataset, self.dim, self.classes = dataset, dim, classes

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, i):
        return (*self.dataset[i], torch.zeros(self.dim), torch.zeros(self.classes))


def teacher_present(teacher_emb: torch.Tensor) -> torch.Tensor:
    """``[B]`` float: 1 where the item has a teacher (a nonzero embedding), 0 where not."""
    return (teacher_emb != 0).any(dim=1).float()
