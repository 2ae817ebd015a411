"""What every notebook does first: typed config, run folder, data folder, skip accounting."""
from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

from ..config import Config
from ..data.competition import Layout, detect_layout, missing_parts
from ..data.labels import LabelledSoundscapes, read_soundscape_labels
from ..data.tables import read_competition_taxonomy, read_train, submission_classes
from ..util import accelerator
from .paths import find_competition_dir, find_embeddings

TRAINING_STAGES = ("train", "self_training")


def start(namespace: dict, stage: str):
    """Build the config from the notebook's parameters, make the run folder, find the data.

    Returns ``(cfg, competition_dir)``; the resolved config is written to the run folder (a training
    stage that distils gets ``embedding_dir`` from ``paths.find_embeddings``: on Kaggle, the
    embeddings kernel's output). A GPU that
    the installed torch cannot use is an error (``birdkit.util.accelerator``). A name
    in the parameters cell that is not a ``Config`` field is an error. When the notebook ran before
    in this kernel (``cfg`` exists: later cells' variables are in ``namespace`` too), only a near
    miss of a field name is.
    """
    cfg = Config.from_namespace(namespace, strict=not isinstance(namespace.get("cfg"), Config))
    if stage in TRAINING_STAGES:   # a misspelt augmentation step fails here, not after pseudo-labelling
        from ..augment.registry import check_augment  # inference loads no augmentation code
        check_augment(cfg)
        if cfg.distils:   # the teacher: this run's cache or a kernel's
            teacher = find_embeddings(cfg)
            if teacher != cfg.embedding_path:
                cfg = dataclasses.replace(cfg, embedding_dir=str(teacher))
                print(f"[{stage}] teacher embeddings: {teacher}")
    cfg.run_path.mkdir(parents=True, exist_ok=True)
    cfg.save(cfg.run_path / "config.yaml")
    gpus = accelerator.check()  # a GPU this torch cannot run (P100 under cu128) fails here, not mid-training
    if cfg.data_dir and missing_parts(cfg.data_dir):  # name what is missing, for any year's layout
        detect_layout(cfg.data_dir)
    comp = find_competition_dir(cfg.data_dir, cfg.kaggle_input, cfg.competition)
    device = f"cuda ({', '.join(gpus)})" if gpus else "cpu"
    print(f"[{stage}] run folder {cfg.run_path} | data {comp} | device {device} | torch {torch.__version__}")
    print(f"[{stage}] {detect_layout(comp).describe()}")
    return cfg, comp


@dataclass
class Tables:
    taxonomy: pd.DataFrame  # one row per class, in the classes' order (class_name always set)
    classes: list           # sample_submission.csv's label columns, as strings
    train: pd.DataFrame     # usable rows of the metadata table, with ``secondary`` and ``path``
    report: list            # flagged rows of the metadata table (skipped, or kept with a note)
    layout: Layout | None = None                 # the year and where its files are
    labelled: LabelledSoundscapes | None = None  # train_soundscapes_labels.csv as 5-s windows, if any

    @property
    def rows_in_csv(self) -> int:
        return len(self.train) + sum(r["action"] == "skipped" for r in self.report)

    @property
    def untrained_classes(self) -> list[str]:
        """Classes without a single training recording (they keep their column and model output)."""
        present = set(self.train["primary_label"].astype(str))
        return [c for c in self.classes if c not in present]


def load_tables(comp: Path, run_dir: Path, check_files=True) -> Tables:
    """Layout, classes, taxonomy, validated metadata table and labelled soundscapes of any year;
    flagged rows are written and counted."""
    layout = detect_layout(comp)
    classes = submission_classes(layout.sample_submission_csv)
    taxonomy, notes = read_competition_taxonomy(layout.taxonomy_csv, classes)
    train, report = read_train(layout.metadata_csv, taxonomy, layout.audio_dir, check_files)
    write_skips(run_dir, "train_table", report)
    labelled = read_soundscape_labels(layout.labels_csv, classes) if layout.labels_csv else None
    if labelled is not None:
        write_skips(run_dir, "soundscape_labels", labelled.unknown_records())
    tables = Tables(taxonomy, classes, train, report, layout, labelled)
    untrained = tables.untrained_classes
    for note in notes + ([f"{len(untrained)} of {len(classes)} classes have no training recording "
                          f"(kept as columns): {untrained[:20]}"] if untrained else []):
        print(f"[tables] {note}")
    return tables


def write_skips(run_dir, stage: str, records: list[dict]) -> pd.DataFrame:
    """Save ``records`` to ``<run>/skips/<stage>.csv`` and print the count by reason."""
    df = pd.DataFrame(records, columns=sorted({k for r in records for k in r}) or ["reason"])
    folder = Path(run_dir) / "skips"
    folder.mkdir(parents=True, exist_ok=True)
    df.to_csv(folder / f"{stage}.csv", index=False)
    counts = Counter(r["reason"] for r in records)
    print(f"[{stage}] {len(records)} flagged" + "".join(f"\n  {n} x {reason}" for reason, n in counts.most_common()))
    return df
