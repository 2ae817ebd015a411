"""Optional class priors by recording site or hour, learned from labelled soundscapes.

BirdCLEF 2026 names say where and when a soundscape was recorded
(``BC2026_Test_0001_S05_20250227_010002``), and its ``train_soundscapes_labels.csv`` says which
classes call in labelled windows of such files. ``learn_prior`` estimates, per site (or per hour
of the day), how much more or less often each class calls than over all labelled windows; it
smooths each site's rate towards the overall one (``strength`` pseudo-windows), and each hour's
over neighbouring hours (a circular Gaussian kernel). ``apply_prior`` shifts every window's
logit by ``weight`` times the log of that ratio, for files whose name carries the site or hour;
other files are left as they are. Parameters ``prior`` (off | site | hour) and ``prior_weight``;
off by default. docs/years.md reports what it does on the 2026 demo.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..data.labels import LabelledSoundscapes, name_metadata, read_soundscape_labels
from ..metrics import file_stems

STRENGTH = 12.0        # a site's rate is pulled towards the overall rate by this many windows
HOUR_SIGMA = 2.0       # hours: Gaussian kernel width (circular, in hours)
EPS = 1e-6


class PriorError(ValueError):
    """No prior can be learned (no labelled window whose file name carries a site or hour)."""


@dataclass
class ClassPrior:
    key: str                  # "site" or "hour"
    classes: list
    overall: np.ndarray       # [C] share of labelled windows where each class calls
    rates: pd.DataFrame       # index: sites or hours 0-23; columns: classes; smoothed shares
    windows: pd.Series        # labelled windows behind each row of ``rates``

    def log_ratio(self, group) -> np.ndarray:
        """[C] log(rate in ``group`` / overall rate); 0 for an unknown group or a class never seen."""
        if group is None or group not in self.rates.index:
            return np.zeros(len(self.classes))
        seen = self.overall > 0
        out = np.zeros(len(self.classes))
        out[seen] = np.log((self.rates.loc[group].to_numpy()[seen] + EPS) / (self.overall[seen] + EPS))
        return out


def learn_prior(labelled: LabelledSoundscapes, key: str, strength: float = STRENGTH) -> ClassPrior:
    """Per-``key`` ("site" or "hour") class rates from the labelled windows whose names carry it."""
    if key not in ("site", "hour"):
        raise ValueError(f"key must be 'site' or 'hour', got {key!r}")
    known = labelled.windows[key].notna().to_numpy()
    if not known.any():
        raise PriorError(f"no labelled soundscape's file name carries a {key} (2026 names do)")
    y, groups = labelled.targets[known].astype(np.float64), labelled.windows[key][known].to_numpy()
    overall = y.mean(axis=0)
    if key == "site":
        sums = pd.DataFrame(y).groupby(groups).sum()
        counts = pd.Series(groups).value_counts().reindex(sums.index)
        rates = (sums.to_numpy() + strength * overall) / (counts.to_numpy()[:, None] + strength)
        index = list(sums.index)
    else:
        hours = np.arange(24)
        diff = np.abs(hours[:, None] - groups.astype(float)[None, :])
        kernel = np.exp(-0.5 * (np.minimum(diff, 24 - diff) / HOUR_SIGMA) ** 2)   # [24, N]
        counts = pd.Series(kernel.sum(axis=1), index=hours)
        rates = (kernel @ y + strength * overall) / (counts.to_numpy()[:, None] + strength)
        index = list(hours)
    frame = pd.DataFrame(rates, index=index, columns=list(labelled.classes))
    return ClassPrior(key, list(labelled.classes), overall, frame, pd.Series(counts.to_numpy(), index=index))


def apply_prior(submission: pd.DataFrame, prior: ClassPrior, weight: float) -> tuple[pd.DataFrame, int]:
    """``submission`` with each window's logit moved by ``weight`` x the log ratio of its file's
    site or hour; returns it and how many rows had a site or hour the prior knows."""
    labels = [c for c in submission.columns if c != "row_id"]
    if labels != list(prior.classes):
        raise ValueError("the prior's classes differ from the submission's columns")
    groups = [(name_metadata(stem) or {}).get(prior.key) for stem in file_stems(submission["row_id"])]
    shift = np.stack([prior.log_ratio(g) for g in groups]) if groups else np.zeros((0, len(labels)))
    p = np.clip(submission[labels].to_numpy(dtype=np.float64), EPS, 1 - EPS)
    logits = np.log(p / (1 - p)) + weight * shift
    out = submission.copy()
    out[labels] = (1 / (1 + np.exp(-logits))).astype(np.float32)
    return out, int(sum(g is not None and g in prior.rates.index for g in groups))


def adjust_submission(submission, layout, key: str, weight: float) -> tuple[pd.DataFrame, str]:
    """The inference notebook's step: learn from ``layout``'s labels file and apply; a folder
    without one, or names without the key, leave the submission as it is (and say so)."""
    if key == "off" or weight == 0:
        return submission, f"prior {key!r} (weight {weight}): submission unchanged"
    if layout.labels_csv is None:
        return submission, f"prior {key!r}: no {layout.root.name}/train_soundscapes_labels.csv, submission unchanged"
    labelled = read_soundscape_labels(layout.labels_csv, [c for c in submission.columns if c != "row_id"])
    try:
        prior = learn_prior(labelled, key)
    except PriorError as exc:
        return submission, f"prior {key!r}: {exc}; submission unchanged"
    adjusted, matched = apply_prior(submission, prior, weight)
    return adjusted, (f"prior by {key} (weight {weight}) from {len(labelled)} labelled windows "
                      f"({len(prior.rates)} {key}s): applied to {matched} of {len(submission)} rows")
