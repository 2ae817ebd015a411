"""A bounded search of mounted folders (Kaggle's ``/kaggle/input``): a few levels deep, never a walk
of a competition's 28,000 recordings."""
from __future__ import annotations

from pathlib import Path


def search(root, name: str, max_depth: int) -> list[Path]:
    """Paths matching ``name`` (a glob, may hold ``/``) under ``root`` at most ``max_depth`` folders
    deep, shallowest first; ``[]`` when ``root`` is not a folder."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = []
    for depth in range(max_depth + 1):
        found += sorted(root.glob("/".join(["*"] * depth + [name])))
    return found
