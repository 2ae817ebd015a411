"""Noisy-student self-training on the unlabelled soundscapes (the largest lever of BirdCLEF 2025-26).

Round ``r``: the teacher (round ``r-1``'s models; round 0 is supervised training) scores every
unlabelled soundscape through the inference path and writes soft labels per 5-s window
(``checkpoints/round<r>/pseudo_labels.npz``); students train through the same ``Trainer``, each
labelled crop mixed (``pseudo_mix_prob``, ``pseudo_mix_weight``) with a pseudo-labelled chunk
whose targets are raised to ``1/pseudo_temperature``; the students become round ``r+1``'s teacher.
With ``pseudo_oof_folds`` k > 1 the soundscapes are split into k folds, student f never sees fold
f, and next round fold f is labelled by student f alone (out-of-fold labels). Everything a round
made stays in its folder; ``done.json`` marks a finished round, so a rerun resumes at the first
unfinished one (and a student resumes from its own ``last.pth``).
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .audio import AudioError, audio_info
from .folds import last_round, read_ensemble_list, train_fold, write_ensemble_list
from .infer import load_ensemble, predict_soundscapes
from .soundscapes import PseudoLabels
from .train import chunk_samples

PSEUDO_NAME, DONE_NAME = "pseudo_labels.npz", "done.json"


@dataclass
class PseudoSet:
    """Soft labels of unlabelled soundscapes: ``probs[i]`` is ``files[i]``'s ``[windows, classes]``,
    ``labelled_by[i]`` the checkpoints that produced it."""
    files: list
    probs: list
    labelled_by: list

    def save(self, path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez_compressed(tmp, files=np.array([str(f) for f in self.files]),
                            lengths=np.array([len(p) for p in self.probs]),
                            probs=np.concatenate(self.probs).astype(np.float16) if self.probs else np.zeros((0, 0)),
                            labelled_by=np.array([json.dumps([str(c) for c in b]) for b in self.labelled_by]))
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path) -> PseudoSet:
        z = np.load(path)
        probs = np.split(z["probs"].astype(np.float32), np.cumsum(z["lengths"])[:-1]) if len(z["lengths"]) else []
        return cls([Path(f) for f in z["files"]], probs, [json.loads(b) for b in z["labelled_by"]])

    def window_table(self, classes) -> pd.DataFrame:
        """One row per window: file, window, top probability and class."""
        rows = [(Path(f).name, w, float(p.max()), classes[int(p.argmax())])
                for f, probs in zip(self.files, self.probs) for w, p in enumerate(probs)]
        return pd.DataFrame(rows, columns=["filename", "window", "confidence", "top_class"])

    def windows_above(self, classes, threshold: float = 0.5) -> pd.Series:
        """Windows per class whose probability exceeds ``threshold``."""
        stacked = np.concatenate(self.probs) if self.probs else np.zeros((0, len(classes)))
        return pd.Series((stacked > threshold).sum(axis=0), index=list(classes)).sort_values(ascending=False)


def soundscape_folds(files, k: int, seed: int) -> np.ndarray:
    """A fold in ``0..k-1`` for each soundscape (seeded permutation, sizes differ by at most one)."""
    order = np.random.default_rng(seed).permutation(len(files))
    folds = np.empty(len(files), dtype=int)
    folds[order] = np.arange(len(files)) % max(1, k)
    return folds


def label_files(checkpoints, files, cfg, work_dir, progress=True) -> tuple[list, list, list]:
    """Teacher probabilities of ``files`` (raw: no smoothing or file-max rescaling); undecodable
    files are left out and returned as skip records."""
    gpu = torch.cuda.is_available()   # a training session's GPU scores the soundscapes with torch
    ensemble = load_ensemble(checkpoints, "torch" if gpu else cfg.backend, work_dir, cfg.threads,
                             cfg.frontend_in_graph, chunk_seconds=cfg.infer_chunk_seconds,
                             device="cuda" if gpu else "cpu")
    raw = dataclasses.replace(cfg, smoothing=0.0, file_max_rescale=0.0)
    try:
        result = predict_soundscapes(files, ensemble, raw, progress=progress)
    finally:
        ensemble.close()
    failed = {s["filename"] for s in result.skipped}
    sub = result.submission
    stems = sub["row_id"].str.rsplit("_", n=1).str[0]
    kept = [f for f in files if f.name not in failed]
    probs = [sub.loc[stems == f.stem, ensemble.classes].to_numpy(np.float32) for f in kept]
    return kept, probs, result.skipped


def pseudo_label(teachers: dict, files, file_folds, cfg, work_dir, progress=True) -> tuple[PseudoSet, list]:
    """``teachers``: {soundscape fold: checkpoints}; fold -1 labels every file."""
    out = PseudoSet([], [], [])
    skipped = []
    for fold, checkpoints in sorted(teachers.items()):
        chosen = [f for f, k in zip(files, file_folds) if fold == -1 or k == fold]
        if not chosen:
            continue
        kept, probs, bad = label_files(checkpoints, chosen, cfg, Path(work_dir) / f"teacher{fold}", progress)
        out.files += kept
        out.probs += probs
        out.labelled_by += [[str(c) for c in checkpoints]] * len(kept)
        skipped += bad
    return out, skipped


@dataclass
class RoundResult:
    round: int
    students: dict            # soundscape fold (-1: all files) -> list of FoldResult
    pseudo: PseudoSet
    skipped: list


def round_dir(cfg, r: int) -> Path:
    return cfg.checkpoint_dir / f"round{r}"


def teachers_for(cfg, r: int) -> dict:
    """Round ``r``'s teachers: round ``r-1``'s models; with out-of-fold students, per soundscape fold."""
    if r == 1 or cfg.pseudo_oof_folds <= 1:
        return {-1: read_ensemble_list(cfg.checkpoint_dir, "last")}
    done = json.loads((round_dir(cfg, r - 1) / DONE_NAME).read_text())
    return {int(k): [cfg.checkpoint_dir / p for p in v] for k, v in done["students"].items()}


def run_round(cfg, classes, train_table, r: int, files, progress=True, **data) -> RoundResult:
    """Pseudo-label with round ``r-1``'s models, then train round ``r``'s students (``data``: the
    factory's ``background``, ``soundscape_val``, ``soundscape_train``)."""
    folder = round_dir(cfg, r)
    k = cfg.pseudo_oof_folds if cfg.pseudo_oof_folds > 1 else 1
    file_folds = soundscape_folds(files, k, cfg.seed)
    pseudo_path, skipped = folder / PSEUDO_NAME, []
    if pseudo_path.is_file():
        pseudo = PseudoSet.load(pseudo_path)
    else:
        pseudo, skipped = pseudo_label(teachers_for(cfg, r), files, file_folds, cfg, folder / "export", progress)
        pseudo.save(pseudo_path)
    fold_of = {str(f): int(k) for f, k in zip(files, file_folds)}
    students, listed = {}, []
    for s_fold in (range(k) if k > 1 else [-1]):
        use = [i for i, f in enumerate(pseudo.files) if s_fold == -1 or fold_of.get(str(f)) != s_fold]
        bank = PseudoLabels([pseudo.files[i] for i in use], [pseudo.probs[i] for i in use], cfg.sample_rate,
                            cfg.window_samples, cfg.pseudo_temperature, chunk_samples(cfg))
        where = folder if s_fold == -1 else folder / f"oof{s_fold}"
        results = [train_fold(cfg, classes, train_table, fold, checkpoint_dir=where, progress=progress,
                              pseudo=bank, **data) for fold in cfg.train_folds]
        for result in results:
            (result.best.parent / "pseudo_files.json").write_text(json.dumps([str(pseudo.files[i]) for i in use]))
        students[s_fold], listed = results, listed + results
    write_ensemble_list(cfg.checkpoint_dir, listed, r)
    done = {"round": r, "students": {str(s): [str(x.best.relative_to(cfg.checkpoint_dir)) for x in res]
                                     for s, res in students.items()},
            "pseudo_files": len(pseudo.files), "skipped": skipped}
    (folder / DONE_NAME).write_text(json.dumps(done, indent=1))
    return RoundResult(r, students, pseudo, skipped)


def first_unfinished_round(cfg) -> int:
    r = 1
    while (round_dir(cfg, r) / DONE_NAME).is_file():
        r += 1
    return r


def import_teacher(cfg, found_list: Path) -> int:
    """Copy a training kernel's (or an earlier round kernel's) checkpoints into this run, so that
    this run's output holds every model it lists; returns the last round imported."""
    source = found_list.parent
    if source.resolve() != cfg.checkpoint_dir.resolve():
        shutil.copytree(source, cfg.checkpoint_dir, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("export", "*.tmp", "last.pth"))
        history = source.parent / "history.csv"   # the supervised epochs' duration (round estimate)
        if history.is_file() and not (cfg.run_path / "history.csv").is_file():
            shutil.copy(history, cfg.run_path / "history.csv")
    return last_round(cfg.checkpoint_dir)


def audio_minutes(files) -> float:
    """Minutes of audio in ``files`` from their headers (unreadable files count as none)."""
    total = 0.0
    for f in files:
        try:
            total += audio_info(f)[1]
        except AudioError:
            pass  # counted nowhere on purpose: pseudo-labelling reports every undecodable file itself
    return total / 60


def estimate_round_minutes(cfg, audio_minutes: float, seconds_per_audio_minute: float, epoch_seconds: float) -> dict:
    """A round's cost from what this session measured: pseudo-labelling at the teacher's rate, and
    the supervised epochs' duration for every student (mixing adds decoding; treat it as a floor)."""
    students = len(cfg.train_folds) * (cfg.pseudo_oof_folds if cfg.pseudo_oof_folds > 1 else 1)
    label = audio_minutes * seconds_per_audio_minute / 60
    train = epoch_seconds * cfg.epochs * students / 60
    return {"pseudo_label_min": label, "train_min": train, "students": students, "total_min": label + train}
