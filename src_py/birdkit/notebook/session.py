"""What every notebook does first: typed config, run folder, data folder, skip accounting."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

from .. import accelerator
from ..config import Config
from ..tables import class_list, read_taxonomy, read_train
from .paths import find_competition_dir


def start(namespace: dict, stage: str):
    """Build the config from the notebook's parameters, make the run folder, find the data.

    Returns ``(cfg, competition_dir)``; the resolved config is written to the run folder. A GPU that
    the installed torch cannot use is an error (``birdkit.accelerator``). A name
    in the parameters cell that is not a ``Config`` field is an error. When the notebook ran before
    in this kernel (``cfg`` exists: later cells' variables are in ``namespace`` too), only a near
    miss of a field name is.
    """
    cfg = Config.from_namespace(namespace, strict=not isinstance(namespace.get("cfg"), Config))
    cfg.run_path.mkdir(parents=True, exist_ok=True)
    cfg.save(cfg.run_path / "config.yaml")
    gpus = accelerator.check()  # a GPU this torch cannot run (P100 under cu128) fails here, not mid-training
    comp = find_competition_dir(cfg.data_dir, cfg.kaggle_input, cfg.competition)
    device = f"cuda ({', '.join(gpus)})" if gpus else "cpu"
    print(f"[{stage}] run folder {cfg.run_path} | data {comp} | device {device} | torch {torch.__version__}")
    return cfg, comp


@dataclass
class Tables:
    taxonomy: pd.DataFrame
    classes: list
    train: pd.DataFrame     # usable rows, with ``secondary`` and ``path``
    report: list            # flagged rows of train.csv (skipped, or kept with a note)

    @property
    def rows_in_csv(self) -> int:
        return len(self.train) + sum(r["action"] == "skipped" for r in self.report)


def load_tables(comp: Path, run_dir: Path, check_files=True) -> Tables:
    """taxonomy, classes, validated train table; flagged rows are written and counted."""
    taxonomy = read_taxonomy(comp / "taxonomy.csv")
    train, report = read_train(comp / "train.csv", taxonomy, comp / "train_audio", check_files)
    write_skips(run_dir, "train_table", report)
    return Tables(taxonomy, class_list(taxonomy), train, report)


def write_skips(run_dir, stage: str, records: list[dict]) -> pd.DataFrame:
    """Save ``records`` to ``<run>/skips/<stage>.csv`` and print the count by reason."""
    df = pd.DataFrame(records, columns=sorted({k for r in records for k in r}) or ["reason"])
    folder = Path(run_dir) / "skips"
    folder.mkdir(parents=True, exist_ok=True)
    df.to_csv(folder / f"{stage}.csv", index=False)
    counts = Counter(r["reason"] for r in records)
    print(f"[{stage}] {len(records)} flagged" + "".join(f"\n  {n} x {reason}" for reason, n in counts.most_common()))
    return df
