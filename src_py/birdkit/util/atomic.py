"""Atomic file writes: every file a stage publishes is written to a temporary name beside it and
then renamed over it (``os.replace``, atomic on one file system), so a run killed part-way leaves
the previous file or none, never half of one; what a killed write leaves is its temporary file
(``.tmp-<pid>-<name>``), which no reader takes for the real one.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path


def tmp_name(path, suffix: str = "") -> Path:
    """The temporary name ``path`` is written under: ``.tmp-<pid>-<name><suffix>`` beside it."""
    path = Path(path)
    return path.with_name(f".tmp-{os.getpid()}-{path.name}{suffix}")


@contextlib.contextmanager
def replacing(path, suffix: str = "", tmp=None):
    """``with replacing(path) as tmp: write(tmp)``: ``tmp`` replaces ``path`` once the block ends
    without an error, and is removed when it raises. ``suffix``: for writers that append their
    own extension (``np.savez`` adds ``.npz``); ``tmp``: another temporary name."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tmp) if tmp is not None else tmp_name(path, suffix)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes(path, data: bytes) -> Path:
    with replacing(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path, text: str) -> Path:
    with replacing(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_csv(path, frame, **to_csv) -> Path:
    """``frame.to_csv(path, index=False)``, atomically."""
    with replacing(path) as tmp:
        frame.to_csv(tmp, **{"index": False, **to_csv})
    return Path(path)
