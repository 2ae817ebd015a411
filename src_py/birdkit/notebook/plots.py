"""Plots shown in the notebooks and saved as PNG in the run folder.

Every helper takes empty input (no rows, no values, no images): it draws an empty axis with a
note saying what is missing instead of failing inside pandas, seaborn or matplotlib.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns


def save(fig, run_dir, name: str) -> Path:
    folder = Path(run_dir) / "plots"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    fig.savefig(path, dpi=100, bbox_inches="tight")
    return path


def _note_empty(ax, what: str):
    """An empty axis that says what is missing (so a saved PNG explains itself)."""
    ax.text(0.5, 0.5, f"nothing to plot: {what}", ha="center", va="center", color="0.4",
            transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def top_species(counts: pd.Series, n=30):
    """The seed's bar plot: the ``n`` most common species (viridis, rotated labels)."""
    top = counts.head(n)
    fig, ax = plt.subplots(figsize=(14, 5))
    if top.empty:
        _note_empty(ax, "no recordings")
        ax.set(title="Species by number of recordings (none)", xlabel="primary_label", ylabel="recordings")
        return fig
    sns.barplot(x=top.index.astype(str), y=top.values, hue=top.index.astype(str), palette="viridis",
                legend=False, ax=ax)
    ax.tick_params(axis="x", rotation=90)
    ax.set(title=f"Top {len(top)} of {len(counts)} species by number of recordings",
           xlabel="primary_label", ylabel="recordings")
    return fig


def bar_counts(series: pd.Series, title: str, ylabel: str = "recordings"):
    fig, ax = plt.subplots(figsize=(max(6, 0.25 * len(series)), 3.5))
    if len(series) == 0:
        _note_empty(ax, f"no {ylabel}")
    else:
        series.plot.bar(ax=ax, color=sns.color_palette("viridis", len(series)))
    ax.set(title=title, ylabel=ylabel)
    return fig


def histogram(values, title: str, xlabel: str, bins=40, log=False):
    values = np.asarray(values, dtype=float).ravel()
    values = values[np.isfinite(values)]  # NaN/inf would make numpy's automatic bin range fail
    fig, ax = plt.subplots(figsize=(7, 3.5))
    if values.size == 0:
        _note_empty(ax, "no values")
    else:
        ax.hist(values, bins=bins, log=log, color="#3b528b")
    ax.set(title=title, xlabel=xlabel, ylabel="count")
    return fig


def locations(df: pd.DataFrame):
    fig, ax = plt.subplots(figsize=(6, 5))
    cols = [c for c in ("longitude", "latitude") if c in df.columns]
    known = df.dropna(subset=cols) if len(cols) == 2 else df.iloc[:0]
    if known.empty:
        _note_empty(ax, "no recording with a latitude and longitude")
    else:
        sns.scatterplot(data=known, x="longitude", y="latitude", s=12, ax=ax,
                        hue="class_name" if "class_name" in known.columns else None)
    ax.set(title="Recording locations (no map)", xlabel="longitude", ylabel="latitude")
    return fig


def spectrogram_grid(images, titles, sample_rate, hop_length, fmax):
    """Examples in the inferno colormap, in dB, titled with species and class (one colorbar each,
    laid out so that its label never runs into the next panel)."""
    if len(images) == 0:
        fig, ax = plt.subplots(figsize=(5.5, 3.6), layout="constrained")
        _note_empty(ax, "no spectrograms")
        return fig
    fig, axes = plt.subplots(1, len(images), figsize=(5.5 * len(images), 3.6), squeeze=False,
                             layout="constrained")
    for ax, db, title in zip(axes[0], images, titles):
        seconds = db.shape[1] * hop_length / sample_rate
        im = ax.imshow(db, origin="lower", aspect="auto", cmap="inferno", extent=[0, seconds, 0, db.shape[0]])
        ax.set(title=title, xlabel="seconds", ylabel="mel band")
        fig.colorbar(im, ax=ax, label="dB", fraction=0.05, pad=0.02)
    return fig


def history_curves(history: pd.DataFrame):
    """Loss, top-1 and the competition metric per epoch: whichever of them the run measured."""
    panels = [("loss", [c for c in ("train_loss", "val_loss") if c in history]),
              ("top-1 accuracy (primary)", [c for c in ("val_accuracy",) if c in history]),
              ("macro ROC-AUC (competition metric)", [c for c in ("val_auc", "val_soundscape_auc") if c in history])]
    panels = [(title, cols) for title, cols in panels if cols and history[cols].notna().any().any()]
    if not panels:
        fig, ax = plt.subplots(figsize=(5, 3.8), layout="constrained")
        _note_empty(ax, "no epoch recorded")
        return fig
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.8), squeeze=False, layout="constrained")
    for ax, (title, cols) in zip(axes[0], panels):
        history.plot(x="epoch", y=cols, ax=ax, marker="o", title=title)
    return fig


def window_heatmap(per_file: dict, classes, window_seconds: float = 5.0, top: int = 12, file=None):
    """One soundscape's predictions: its ``top`` species (by their highest window probability) x
    its windows, each cell a probability (viridis, 0-1). ``per_file``: path -> ``[windows,
    classes]`` (``InferenceResult.per_file``); ``file``: which one (default the first)."""
    path = file if file is not None else next(iter(per_file), None)
    probs = np.asarray(per_file[path], dtype=float) if path is not None else np.zeros((0, len(classes)))
    name = Path(path).name if path is not None else "no soundscape scored"
    fig, ax = plt.subplots(figsize=(max(6.0, 0.3 * len(probs) + 3), 0.28 * top + 1.6), layout="constrained")
    if probs.ndim != 2 or probs.size == 0:
        _note_empty(ax, "no scored window")
        ax.set(title=f"{name}: no window scored", xlabel="window end (s)", ylabel="species")
        return fig
    order = np.argsort(-probs.max(axis=0), kind="stable")[:top]
    image = ax.imshow(probs[:, order].T, aspect="auto", cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
    step = max(1, len(probs) // 12)
    ax.set_xticks(range(0, len(probs), step), [f"{window_seconds * (k + 1):g}" for k in range(0, len(probs), step)])
    ax.set_yticks(range(len(order)), [str(classes[k]) for k in order])
    ax.set(title=f"{name}: top {len(order)} species per {window_seconds:g}-s window", xlabel="window end (s)",
           ylabel="species")
    fig.colorbar(image, ax=ax, label="probability", fraction=0.05, pad=0.02)
    return fig
