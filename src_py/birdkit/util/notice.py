"""Messages a reader of a notebook's log must not miss: a framed banner on stderr (red in Jupyter)."""
from __future__ import annotations

import sys

# What running on torch eager instead of a compiled backend costs (docs/measurements.md, `make bench`: end to end, same
# pipeline, 2 cores, demo / EfficientNet-B0 / B3)
FALLBACK_COST = "about 1.3-1.6x slower end to end than OpenVINO (make bench)"


def banner(title: str, *lines: str) -> str:
    """``title`` and ``lines`` framed by rows of ``!``; returned so tests and callers can reuse it."""
    rule = "!" * 100
    return "\n".join([rule, f"!! {title}", *(f"!!   {line}" for line in lines), rule])


def shout(title: str, *lines: str) -> str:
    """Print the banner on stderr (flushed before the next stdout line) and return it."""
    text = banner(title, *lines)
    sys.stdout.flush()
    print(text, file=sys.stderr, flush=True)
    return text
