"""Plain markdown tables for the benchmarks and experiment reports (no extra dependency)."""
from __future__ import annotations

import pandas as pd


def markdown_table(table: pd.DataFrame, columns) -> list[str]:
    """Lines of a markdown table of ``columns`` (floats with two decimals)."""
    def cell(v):
        return f"{v:.2f}" if isinstance(v, float) else str(v)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    return lines + ["| " + " | ".join(cell(r[c]) for c in columns) + " |" for r in table.to_dict(orient="records")]
