"""Tables behind the EDA notebook."""
from __future__ import annotations

import pandas as pd

from ..tables import durations  # noqa: F401  (the EDA notebook's header scan)


def with_taxonomy(train: pd.DataFrame, taxonomy: pd.DataFrame) -> pd.DataFrame:
    cols = [c for c in ("primary_label", "class_name") if c in taxonomy.columns]
    return train.merge(taxonomy[cols], on="primary_label", how="left")


def rarest(counts: pd.Series, taxonomy: pd.DataFrame, n=5) -> pd.DataFrame:
    names = taxonomy.set_index("primary_label")
    tail = counts.tail(n).sort_values()
    out = pd.DataFrame({"primary_label": tail.index, "recordings": tail.values})
    for col in ("common_name", "class_name"):
        if col in names.columns:
            out[col] = names.loc[tail.index, col].values
    return out


def rare_species(counts: pd.Series, classes, threshold: int) -> pd.Series:
    """Every taxonomy class with fewer than ``threshold`` recordings (missing ones count 0)."""
    full = counts.reindex(list(classes), fill_value=0)
    return full[full < threshold].sort_values()
