"""Where an output came from: the git revision of the code that wrote it."""
from __future__ import annotations

import subprocess
from pathlib import Path


def git_revision(cwd=None) -> str:
    """The current git revision (with '-dirty' when the tree has changes), or 'unknown'."""
    cwd = cwd or Path(__file__).resolve().parent
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return rev + ("-dirty" if dirty else "")
