"""Progress bars that read well everywhere: widgets in an interactive notebook that has ipywidgets,
else a plain text bar on stdout (never tqdm's "IProgress not found" warning, never red stderr
lines), updated at most every few seconds so a headless run stores few updates; the runner folds
the updates of one bar into its last state in the executed notebook and its HTML."""
from __future__ import annotations

import importlib.util
import sys

from tqdm.std import tqdm as text_tqdm

WIDGETS = importlib.util.find_spec("ipywidgets") is not None


def progress_bar(iterable=None, **kwargs):
    """``tqdm(iterable, **kwargs)``: notebook widgets when available, else text on stdout."""
    if WIDGETS and "ipykernel" in sys.modules:
        from tqdm.notebook import tqdm as widget_tqdm
        return widget_tqdm(iterable, **kwargs)
    kwargs.setdefault("mininterval", 5.0)
    kwargs.setdefault("file", sys.stdout)
    return text_tqdm(iterable, **kwargs)
