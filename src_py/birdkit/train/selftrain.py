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
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..data.folds import soundscape_folds
from ..data.soundscapes import PseudoLabels
from ..ensemble_list import last_round, read_ensemble_list, write_ensemble_list
from ..infer import projection
from ..infer.budget import process_started
from ..infer.ensemble import TTA
from ..infer.predict import Plan, inference_plan, predict_soundscapes
from ..util import atomic
from .loop import chunk_samples
from .run import train_fold

if TYPE_CHECKING:
    from ..config import Config

PSEUDO_NAME, DONE_NAME = "pseudo_labels.npz", "done.json"


class PseudoLabelError(ValueError):
    """A pseudo-label file that does not read whole (cut, or not this format); the message names it."""


@dataclass
class PseudoSet:
    """Soft labels of unlabelled soundscapes: ``probs[i]`` is ``files[i]``'s ``[windows, classes]``,
    ``labelled_by[i]`` the checkpoints that produced it."""
    files: list
    probs: list
    labelled_by: list

    def save(self, path) -> Path:
        """Atomic write; probabilities are stored as float16, and this set's are rounded to what is
        stored, so a round that labelled trains on what a resumed round would load."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        self.probs = [np.asarray(p, dtype=np.float16).astype(np.float32) for p in self.probs]
        np.savez_compressed(tmp, files=np.array([str(f) for f in self.files]),
                            lengths=np.array([len(p) for p in self.probs]),
                            probs=np.concatenate(self.probs).astype(np.float16) if self.probs else np.zeros((0, 0)),
                            labelled_by=np.array([json.dumps([str(c) for c in b]) for b in self.labelled_by]))
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path) -> PseudoSet:
        """The set ``save`` wrote; a damaged file raises ``PseudoLabelError`` naming it (the zip's
        checksums and the stored lengths are checked, so a cut file never loads as a shorter set)."""
        if not Path(path).is_file():
            raise FileNotFoundError(f"no pseudo-label file {path}")
        try:
            with np.load(path) as z:
                files, lengths, stacked, by = z["files"], z["lengths"].astype(int), z["probs"], z["labelled_by"]
            if not len(files) == len(lengths) == len(by) or int(lengths.sum()) != len(stacked) or (lengths < 0).any():
                raise ValueError(f"{len(files)} files, {len(lengths)} lengths and {len(by)} teacher lists for "
                                 f"{len(stacked)} windows")
            probs = np.split(stacked.astype(np.float32), np.cumsum(lengths)[:-1]) if len(lengths) else []
            return cls([Path(f) for f in files], probs, [json.loads(b) for b in by])
        except Exception as exc:   # BadZipFile, zlib.error, EOFError, KeyError, ValueError: all mean damaged
            raise PseudoLabelError(f"{path}: damaged pseudo-label file ({type(exc).__name__}: {exc})") from exc

    @classmethod
    def load_whole(cls, path) -> PseudoSet | None:
        """The saved set, or None when there is none or it is damaged (said, so it is labelled again)."""
        try:
            return cls.load(path)
        except FileNotFoundError:
            return None
        except PseudoLabelError as exc:
            warnings.warn(f"{exc}; pseudo-labelling again", stacklevel=2)
            return None

    def window_table(self, classes) -> pd.DataFrame:
        """One row per window: file, window, top probability and class."""
        rows = [(Path(f).name, w, float(p.max()), classes[int(p.argmax())])
                for f, probs in zip(self.files, self.probs) for w, p in enumerate(probs)]
        return pd.DataFrame(rows, columns=["filename", "window", "confidence", "top_class"])

    def windows_above(self, classes, threshold: float = 0.5) -> pd.Series:
        """Windows per class whose probability exceeds ``threshold``."""
        stacked = np.concatenate(self.probs) if self.probs else np.zeros((0, len(classes)))
        return pd.Series((stacked > threshold).sum(axis=0), index=list(classes)).sort_values(ascending=False)


def teacher_plan(cfg: Config, n_files: int) -> Plan:
    """How the teacher scores the pool: on a training session's GPU where there is one, else as
    the submission would. A round's estimate (``estimate_first_round``) and the round use it."""
    return inference_plan(cfg, n_files, use_gpu=True)


def label_files(checkpoints, files, cfg: Config, work_dir, progress=True, foundation=()) -> tuple[list, list, list]:
    """Teacher probabilities of ``files`` (raw: no smoothing or file-max rescaling); undecodable
    files are left out and returned as skip records. ``foundation``: pretrained-model members
    (``birdkit.foundation.member`` specs) that join the teacher."""
    ensemble = teacher_plan(cfg, len(files)).load(cfg, checkpoints, work_dir, foundation=foundation)
    raw = dataclasses.replace(cfg, smoothing=0.0, file_max_rescale=0.0)
    try:
        result = predict_soundscapes(files, ensemble, raw, progress=progress)
    finally:
        ensemble.close()
    kept = [f for f in files if f in result.per_file]
    return kept, [result.per_file[f] for f in kept], result.skipped


def pseudo_label(teachers: dict, files, file_folds, cfg: Config, work_dir, progress=True,
                 foundation=()) -> tuple[PseudoSet, list]:
    """``teachers``: {soundscape fold: checkpoints}; fold -1 labels every file. ``foundation``
    members join every fold's teacher."""
    out = PseudoSet([], [], [])
    skipped = []
    for fold, checkpoints in sorted(teachers.items()):
        chosen = [f for f, k in zip(files, file_folds) if fold == -1 or k == fold]
        if not chosen:
            continue
        kept, probs, bad = label_files(checkpoints, chosen, cfg, Path(work_dir) / f"teacher{fold}", progress,
                                       foundation)
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


def round_dir(cfg: Config, r: int) -> Path:
    return cfg.checkpoint_dir / f"round{r}"


def teachers_for(cfg: Config, r: int) -> dict:
    """Round ``r``'s teachers: round ``r-1``'s models; with out-of-fold students, per soundscape fold."""
    if r == 1 or cfg.pseudo_oof_folds <= 1:
        return {-1: read_ensemble_list(cfg.checkpoint_dir, "last")}
    done = json.loads((round_dir(cfg, r - 1) / DONE_NAME).read_text())
    return {int(k): [cfg.checkpoint_dir / p for p in v] for k, v in done["students"].items()}


def run_round(cfg: Config, classes, train_table, r: int, files, progress=True, foundation=(), **data) -> RoundResult:
    """Pseudo-label with round ``r-1``'s models (and the ``foundation`` members: pretrained-model
    specs), then train round ``r``'s students (``data``: the factory's ``background``,
    ``soundscape_val``, ``soundscape_train``)."""
    folder = round_dir(cfg, r)
    k = cfg.pseudo_oof_folds if cfg.pseudo_oof_folds > 1 else 1
    file_folds = soundscape_folds(files, k, cfg.seed)
    pseudo_path, skipped = folder / PSEUDO_NAME, []
    pseudo = PseudoSet.load_whole(pseudo_path)   # None: not labelled yet, or a damaged file
    if pseudo is None:
        pseudo, skipped = pseudo_label(teachers_for(cfg, r), files, file_folds, cfg, folder / "export", progress,
                                       foundation)
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
            atomic.write_text(result.best.parent / "pseudo_files.json", json.dumps([str(pseudo.files[i]) for i in use]))
        students[s_fold], listed = results, listed + results
    write_ensemble_list(cfg.checkpoint_dir, listed, r)
    done = {"round": r, "students": {str(s): [str(x.best.relative_to(cfg.checkpoint_dir)) for x in res]
                                     for s, res in students.items()},
            "pseudo_files": len(pseudo.files), "skipped": skipped}
    atomic.write_text(folder / DONE_NAME, json.dumps(done, indent=1))
    return RoundResult(r, students, pseudo, skipped)


def round_done(cfg: Config, r: int) -> bool:
    """Round ``r`` finished: its ``done.json`` is there and reads (a damaged one reruns the round)."""
    path = round_dir(cfg, r) / DONE_NAME
    try:
        json.loads(path.read_text())
    except FileNotFoundError:
        return False
    except (OSError, ValueError):
        print(f"[self-training] {path} is damaged: round {r} runs again")
        return False
    return True


def first_unfinished_round(cfg: Config) -> int:
    r = 1
    while round_done(cfg, r):
        r += 1
    return r


def import_teacher(cfg: Config, found_list: Path) -> int:
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


def estimate_round_minutes(cfg: Config, audio_minutes: float, seconds_per_audio_minute: float,
                           epoch_seconds: float) -> dict:
    """A round's cost from what this session measured: pseudo-labelling at the teacher's rate, and
    the supervised epochs' duration for every student (mixing adds decoding; treat it as a floor)."""
    students = len(cfg.train_folds) * (cfg.pseudo_oof_folds if cfg.pseudo_oof_folds > 1 else 1)
    label = audio_minutes * seconds_per_audio_minute / 60
    train = epoch_seconds * cfg.epochs * students / 60
    return {"pseudo_label_min": label, "train_min": train, "students": students, "total_min": label + train}


def estimate_first_round(cfg: Config, files, foundation=()) -> dict:
    """``estimate_round_minutes`` for the first round to run, measured here: the last round's
    models scoring two of ``files`` with the plan the round will use (``teacher_plan``), and the
    supervised epochs' mean duration (``history.csv``; 0 without it). Adds the ``plan``, the
    ``rate`` (seconds per audio minute), the ``audio_minutes`` and the ``epoch_seconds``."""
    plan = teacher_plan(cfg, len(files))
    teacher = plan.load(cfg, read_ensemble_list(cfg.checkpoint_dir, "last"), cfg.run_path / "export",
                        foundation=foundation)
    try:
        rate = projection.measure(teacher, files, TTA.from_config(cfg))
    finally:
        teacher.close()
    history = cfg.run_path / "history.csv"
    epoch_seconds = float(pd.read_csv(history)["seconds"].mean()) if history.is_file() else 0.0
    minutes = projection.audio_minutes(files)
    return {**estimate_round_minutes(cfg, minutes, rate, epoch_seconds), "plan": plan, "rate": rate,
            "audio_minutes": minutes, "epoch_seconds": epoch_seconds}


class RoundClock:
    """Which self-training rounds fit the session: before each round, the minutes since the
    notebook started plus the round's estimate (the first round's from measurements, then the
    longest round run so far) against ``budget_minutes`` (0 = no limit)."""

    def __init__(self, budget_minutes: float, first_estimate_minutes: float, clock=time.time, started=None):
        self.budget, self.estimate, self.clock = budget_minutes, first_estimate_minutes, clock
        self.started = process_started(clock) if started is None else started
        self._round_started = None

    def minute(self) -> float:
        return (self.clock() - self.started) / 60

    def fits(self, r: int) -> tuple[bool, str]:
        now = self.minute()
        self._round_started = now
        if not self.budget:
            return True, f"round {r}: starts at minute {now:.1f}, estimated {self.estimate:.1f} min (no session limit)"
        if now + self.estimate > self.budget:
            return False, (f"round {r} skipped: at minute {now:.1f} its estimated {self.estimate:.1f} min would end "
                           f"past the {self.budget:g}-min session (session_budget_minutes); this round and later "
                           "ones are left for another session (a rerun resumes here)")
        return True, (f"round {r}: starts at minute {now:.1f}, estimated {self.estimate:.1f} min, ends by minute "
                      f"{now + self.estimate:.1f} of {self.budget:g}")

    def finished(self, r: int) -> float:
        """Record round ``r``'s duration; later rounds are estimated at the longest so far."""
        took = self.minute() - self._round_started
        self.estimate = max(self.estimate, took) if self.estimate else took
        return took
