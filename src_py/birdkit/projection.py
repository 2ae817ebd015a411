"""How long the hidden test set will take, measured before scoring it, and the budget check.

A few soundscapes are scored here, as the inference notebook scores them (decode, TTA views,
every member on the backend actually running); the rate per minute of audio, scaled from this
machine's cores to Kaggle's 4, gives the projection for the year's hidden test set
(``birdkit.competition``: 2025 about 700 one-minute files in 90 min; 2024 1,100 four-minute files
in 120). An ensemble projected above ``max_budget_share`` of the budget
is refused with the figure, before the real run spends the time.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from .audio import AudioError, audio_info
from .competition import budget_minutes
from .ensemble import TTA, score_file
from .infer import cpu_cores

KAGGLE_CORES = 4


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
        _, error, _ = score_file(path, ensemble, tta)
        if error is None:
            seconds, audio = seconds + time.perf_counter() - t0, audio + minutes
    if not audio:
        raise BudgetError(f"none of {[p.name for p in files[:max_files]]} decodes: nothing to time")
    return seconds / audio


def project(ensemble, files, cfg, layout) -> Projection:
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
