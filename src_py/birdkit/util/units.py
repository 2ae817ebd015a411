"""Units: seconds and samples."""
from __future__ import annotations


def seconds_to_samples(seconds: float, sample_rate: int) -> int:
    """Samples in ``seconds`` of audio at ``sample_rate`` (one place for the rounding)."""
    return int(round(sample_rate * seconds))
