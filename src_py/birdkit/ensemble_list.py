"""``checkpoints/ensemble.json``: which checkpoints a run's ensemble holds, per self-training round.

Training writes it (``birdkit.train.run``, ``birdkit.train.selftrain``); inference and the
self-training notebook read it. Written atomically; a damaged file is an ``EnsembleListError``
naming it, never read as a shorter list. Also the name of a fold's best checkpoint (``best.pth``;
``best_model_improved.pth`` from older runs is still found).
"""
from __future__ import annotations

import json
from pathlib import Path

from .util import atomic

ENSEMBLE_LIST = "ensemble.json"
BEST_NAME = "best.pth"                      # a fold's best checkpoint, as training writes it
OLD_BEST_NAME = "best_model_improved.pth"   # the name runs and Kaggle outputs made before still hold
BEST_NAMES = (BEST_NAME, OLD_BEST_NAME)     # the order every search tries them in


def best_checkpoint(folder) -> Path:
    """A fold folder's best checkpoint: ``best.pth``, else the old ``best_model_improved.pth`` of a
    run made before the rename, else (nothing written yet) where ``best.pth`` goes."""
    folder = Path(folder)
    return next((folder / n for n in BEST_NAMES if (folder / n).is_file()), folder / BEST_NAME)


def write_ensemble_list(checkpoint_dir, results: list, round_: int = 0) -> Path:
    """``checkpoints/ensemble.json``: the best checkpoint of every model trained in this run, by
    self-training round (0 = supervised). Writing round ``r`` replaces that round's entries."""
    checkpoint_dir = Path(checkpoint_dir)
    path = checkpoint_dir / ENSEMBLE_LIST
    kept = [m for m in _members(checkpoint_dir) if m.get("round", 0) != round_]
    entries = [{"round": round_, "fold": r.fold, "checkpoint": str(r.best.relative_to(checkpoint_dir))}
               for r in results]
    atomic.write_text(path, json.dumps({"members": sorted(kept + entries, key=lambda m: m.get("round", 0))},
                                       indent=1))
    return path


class EnsembleListError(ValueError):
    """An ``ensemble.json`` that does not read as a list of members; the message names it."""


def _members(checkpoint_dir) -> list[dict]:
    path = Path(checkpoint_dir) / ENSEMBLE_LIST
    if not path.is_file():
        return []
    try:
        members = json.loads(path.read_text())["members"]
        if not isinstance(members, list) or not all(isinstance(m, dict) and "checkpoint" in m for m in members):
            raise ValueError("members is not a list of {round, fold, checkpoint}")
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise EnsembleListError(f"{path} is damaged ({type(exc).__name__}: {exc}); it lists every round's "
                                "models, so no single stage rebuilds it: restore it, or delete it (and the "
                                "rounds' done.json) and rerun training and self-training, which reuse "
                                "finished models from their last.pth") from exc
    return members


def read_ensemble_list(checkpoint_dir, rounds: str = "last") -> list[Path]:
    """The checkpoints ``write_ensemble_list`` recorded: those of the last round (``last``) or of
    every round (``all``: folds x rounds). Empty when there is no list."""
    members = _members(checkpoint_dir)
    if rounds == "last" and members:
        last = max(m.get("round", 0) for m in members)
        members = [m for m in members if m.get("round", 0) == last]
    return [Path(checkpoint_dir) / m["checkpoint"] for m in members]


def last_round(checkpoint_dir) -> int:
    """The highest round listed (0: supervised only; -1: no list)."""
    members = _members(checkpoint_dir)
    return max((m.get("round", 0) for m in members), default=-1)
