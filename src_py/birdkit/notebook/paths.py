"""Finding the competition data, checkpoints and the code under Kaggle's input mounts.

Kaggle has moved its mounts (``/kaggle/input/birdclef-2025``, newer images
``/kaggle/input/competitions/birdclef-2025``), so nothing here hard-codes one: it searches.
"""
from __future__ import annotations

from pathlib import Path

COMPETITION_MARKERS = ("taxonomy.csv", "sample_submission.csv")


def is_competition_dir(path: Path) -> bool:
    """Any year's layout (2024, 2025, 2026): ``birdkit.competition`` decides."""
    from ..competition import is_competition_dir as any_year

    return any_year(path)


def _search(root: Path, name: str, max_depth: int) -> list[Path]:
    """Files called ``name`` under ``root`` at most ``max_depth`` folders deep, sorted."""
    found = []
    for depth in range(max_depth + 1):
        found += sorted(root.glob("/".join(["*"] * depth + [name])))
    return found


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


def find_checkpoints(paths, run_dir, kaggle_input, name="best_model_improved.pth") -> list[Path]:
    """Explicit ``paths``, else the run's own best checkpoint, else any under ``kaggle_input``."""
    if paths:
        missing = [p for p in paths if not Path(p).is_file()]
        if missing:
            raise FileNotFoundError(f"checkpoint_paths not found: {missing}")
        return [Path(p) for p in paths]
    own = Path(run_dir) / "checkpoints" / name
    if own.is_file():
        return [own]
    root = Path(kaggle_input)
    found = _search(root, name, 4) if root.is_dir() else []
    if not found:
        raise FileNotFoundError(f"no {name} in {own.parent} or under {root}; train first or set checkpoint_paths")
    return found[:1]
