"""Finding the competition data, checkpoints and the code under Kaggle's input mounts.

Kaggle has moved its mounts (``/kaggle/input/birdclef-2025``, newer images
``/kaggle/input/competitions/birdclef-2025``), so nothing here hard-codes one: it searches.
"""
from __future__ import annotations

from pathlib import Path

COMPETITION_MARKERS = ("taxonomy.csv", "sample_submission.csv")


def is_competition_dir(path: Path) -> bool:
    return all((Path(path) / m).is_file() for m in COMPETITION_MARKERS)


def _search(root: Path, name: str, max_depth: int) -> list[Path]:
    """Files called ``name`` under ``root`` at most ``max_depth`` folders deep, sorted."""
    found = []
    for depth in range(max_depth + 1):
        found += sorted(root.glob("/".join(["*"] * depth + [name])))
    return found


def find_file(root, name: str, max_depth: int = 5) -> Path | None:
    """The first file called ``name`` under ``root`` (shallowest first), or None."""
    root = Path(root)
    found = _search(root, name, max_depth) if root.is_dir() else []
    return found[0] if found else None


def find_competition_dir(data_dir: str, kaggle_input: str) -> Path:
    """``data_dir`` when given (checked), else the folder under ``kaggle_input`` holding the data."""
    if data_dir:
        path = Path(data_dir)
        if not is_competition_dir(path):
            raise FileNotFoundError(f"data_dir {path} is not a competition folder: it needs "
                                    f"{', '.join(COMPETITION_MARKERS)}")
        return path
    root = Path(kaggle_input)
    hits = [p.parent for p in _search(root, "taxonomy.csv", 3) if is_competition_dir(p.parent)] if root.is_dir() else []
    if not hits:
        raise FileNotFoundError(f"no competition folder found under {root}; set the data_dir parameter "
                                "(the folder with taxonomy.csv, train.csv, train_audio/ ...)")
    return sorted(hits, key=lambda p: ("birdclef" not in str(p), len(p.parts)))[0]


def find_checkpoints(paths, run_dir, kaggle_input, name="best_model_improved.pth", rounds="last") -> list[Path]:
    """Explicit ``paths``; else the models the run's training listed (``checkpoints/ensemble.json``,
    the ``rounds`` of self-training: last or all) or its best checkpoint; else the same found under
    ``kaggle_input`` (a training kernel's output)."""
    from ..folds import ENSEMBLE_LIST, read_ensemble_list
    if paths:
        missing = [p for p in paths if not Path(p).is_file()]
        if missing:
            raise FileNotFoundError(f"checkpoint_paths not found: {missing}")
        return [Path(p) for p in paths]
    own = Path(run_dir) / "checkpoints"
    if read_ensemble_list(own, rounds):
        return read_ensemble_list(own, rounds)
    if (own / name).is_file():
        return [own / name]
    root = Path(kaggle_input)
    lists = _search(root, ENSEMBLE_LIST, 5) if root.is_dir() else []
    if lists:
        return read_ensemble_list(lists[0].parent, rounds)
    found = _search(root, name, 5) if root.is_dir() else []
    if not found:
        raise FileNotFoundError(f"no {ENSEMBLE_LIST} or {name} in {own} or under {root}; train first or set "
                                "checkpoint_paths")
    return found[:1]
