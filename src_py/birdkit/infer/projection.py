"""How long the hidden test set will take, measured before scoring it, and the budget check.

A few soundscapes are scored here, as the inference notebook scores them (decode, TTA views,
every member on the backend actually running); the rate per minute of audio, scaled from this
machine's cores to Kaggle's 4, gives the projection for the year's hidden test set
(``birdkit.data.competition``: 2025 about 700 one-minute files in 90 min; 2024 1,100 four-minute files
in 120). An ensemble projected above ``max_budget_share`` of the budget
is refused with the figure, before the real run spends the time (``strict_budget``; by default
the run sheds cost instead, ``birdkit.infer.budget``: ``plan_budget`` builds its plan).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..data.audio import AudioError, audio_info
from ..data.competition import budget_minutes
from .budget import KAGGLE_CORES, Budget
from .ensemble import TTA, score_file
from .predict import cpu_cores, inference_plan

if TYPE_CHECKING:
    from ..config import Config


class BudgetError(RuntimeError):
    """The configured ensemble would not finish inside the competition's CPU budget."""


@dataclass
class Projection:
    seconds_per_audio_minute: float   # wall seconds here per minute of audio
    cores_here: int
    test_audio_minutes: float
    budget_minutes: float
    backend: str
    members: int

    @property
    def kaggle_minutes(self) -> float:
        return self.seconds_per_audio_minute * self.cores_here / KAGGLE_CORES * self.test_audio_minutes / 60

    def describe(self) -> str:
        return (f"projected {self.kaggle_minutes:.1f} min for the hidden test set ({self.test_audio_minutes:g} min "
                f"of audio, Kaggle's {KAGGLE_CORES} cores) = {self.kaggle_minutes / self.budget_minutes:.0%} of the "
                f"{self.budget_minutes:g}-min budget; measured {self.seconds_per_audio_minute:.2f} s per audio minute "
                f"on {self.cores_here} core(s) here, {self.members} model(s) on {self.backend}")


def measure(ensemble, files, tta: TTA, max_files: int = 2) -> float:
    """Wall seconds per minute of audio for scoring up to ``max_files`` decodable files here."""
    seconds = audio = 0.0
    for path in files[:max_files]:
        try:
            minutes = audio_info(path)[1] / 60
        except AudioError:
            continue
        t0 = time.perf_counter()
        if score_file(path, ensemble, tta).error is None:
            seconds, audio = seconds + time.perf_counter() - t0, audio + minutes
    if not audio:
        raise BudgetError(f"none of {[p.name for p in files[:max_files]]} decodes: nothing to time")
    return seconds / audio


def project(ensemble, files, cfg: Config, layout) -> Projection:
    """The projection for ``layout``'s year (its hidden test set and budget; ``time_budget_minutes``
    overrides the budget)."""
    rate = measure(ensemble, files, TTA.from_config(cfg))
    test_minutes = layout.hidden_test_files * layout.test_file_seconds / 60
    return Projection(rate, cpu_cores(), test_minutes, budget_minutes(layout, cfg.time_budget_minutes),
                      ensemble.members[0].backend.name, len(ensemble.members))


def check_budget(projection: Projection, share: float) -> None:
    if projection.kaggle_minutes > share * projection.budget_minutes:
        raise BudgetError(f"{projection.describe()}: above the {share:.0%} allowed (max_budget_share); use fewer "
                          "models or TTA views, or a faster backend")


def audio_minutes(files) -> float:
    """Minutes of audio in ``files`` from their headers (unreadable files count as none: the
    scoring reports each one)."""
    total = 0.0
    for f in files:
        try:
            total += audio_info(f)[1]
        except AudioError:
            continue
    return total / 60


def plan_budget(ensemble, files, cfg: Config, layout, dry_run: bool) -> Budget:
    """The inference run's budget: the year's (or ``time_budget_minutes``), the hidden test set's
    audio (or these files', when they hold more and are the real test set), this run's workers."""
    hidden = layout.hidden_test_files * layout.test_file_seconds / 60
    test_minutes = hidden if dry_run else max(hidden, audio_minutes(files))
    workers = inference_plan(cfg, len(files), use_gpu=ensemble.on_gpu).workers   # as predict_soundscapes runs
    return Budget(budget_minutes=budget_minutes(layout, cfg.time_budget_minutes), share=cfg.max_budget_share,
                  audio_minutes=test_minutes, weights=[m.weight for m in ensemble.members],
                  tta=TTA.from_config(cfg), cores_here=cpu_cores(), workers=workers,
                  deadline_minutes=cfg.deadline_minutes, strict=cfg.strict_budget)
