"""What the embedding notebook (25_embeddings) does with a pretrained model: map the classes,
fill the embedding cache, train the shallow head and compare it with zero-shot on validation."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..data.folds import soundscape_split, split_table
from ..foundation import from_config
from ..foundation.embed import describe, embed_jobs, soundscape_jobs, training_jobs, write_summary
from ..foundation.head import combine_windows, fit_head, focal_windows, head_path, soundscape_windows
from ..foundation.mapping import map_classes
from ..metrics import macro_roc_auc
from .session import write_skips

if TYPE_CHECKING:
    from ..config import Config


def model_and_map(cfg: Config, tables):
    """The loaded model (all cores) and its class map, written to ``<run>/foundation_class_map.csv``."""
    model = from_config(cfg)
    print(model.describe())
    class_map = map_classes(tables.taxonomy, model.labels, cfg.foundation_genus_backoff)
    print(f"class map: {class_map.summary()} -> {class_map.write(cfg.run_dir)}")
    return model, class_map


def embed_everything(cfg: Config, model, class_map, inputs) -> dict:
    """Every usable training recording and soundscape (labelled ones, and the unlabelled ones up to
    ``max_pseudo_files``) into the cache; skips written to ``skips/embeddings_*.csv``."""
    unlabelled = inputs.unlabelled[: cfg.max_pseudo_files] if cfg.max_pseudo_files else inputs.unlabelled
    labelled = []
    if inputs.labelled is not None and inputs.soundscape_dir is not None:
        labelled = [inputs.soundscape_dir / f for f in sorted(inputs.labelled[0]["filename"].unique())]
    out = {}
    for what, jobs in (("train", training_jobs(inputs.train, cfg)),
                       ("soundscapes", soundscape_jobs(labelled + list(unlabelled), cfg))):
        summary = embed_jobs(jobs, model, class_map.columns, cfg)
        write_summary(cfg.embedding_path, what, summary)
        write_skips(cfg.run_dir, f"embeddings_{what}", summary["skips"])
        print(describe(summary, what))
        out[what] = summary
    return out


@dataclass
class HeadReport:
    head: object
    train_windows: int
    val_windows: int
    val_source: str          # labelled soundscapes | focal fold | none
    val_auc_head: float = float("nan")
    val_auc_zeroshot: float = float("nan")   # over the mapped classes only

    def describe(self) -> str:
        return (f"foundation head: {self.train_windows} training windows; validation on {self.val_windows} "
                f"{self.val_source} windows: head {self.val_auc_head:.4f}, zero-shot (mapped classes) "
                f"{self.val_auc_zeroshot:.4f}")


def train_head(cfg: Config, tables, inputs, class_map) -> HeadReport:
    """Fit the head on the training folds' focal windows (plus labelled soundscape windows outside
    the validation files), validate on the labelled validation windows, else the focal
    validation fold; saved as ``checkpoints/<model>_head.npz``."""
    classes = tables.classes
    train_df, val_df = inputs.train, inputs.train.iloc[:0]
    if cfg.val_fold >= 0:
        train_df, val_df, _ = split_table(inputs.train, cfg.n_folds, cfg.seed, cfg.val_fold)
    train = focal_windows(train_df, classes, cfg)
    val, source = None, "none"
    if inputs.labelled is not None:
        windows, targets = inputs.labelled
        val_idx, train_idx = soundscape_split(inputs.file_folds, cfg.val_fold, cfg.foundation_head_soundscapes)
        if cfg.foundation_head_soundscapes and len(train_idx):
            train = combine_windows(train, soundscape_windows(windows.iloc[train_idx], targets[train_idx], cfg))
        if len(val_idx):
            val, source = soundscape_windows(windows.iloc[val_idx], targets[val_idx], cfg), "labelled soundscape"
    if val is None and len(val_df):
        val, source = focal_windows(val_df, classes, cfg), "focal validation-fold"
    write_skips(cfg.run_dir, "foundation_head", train.skipped + (val.skipped if val else []))
    head = fit_head(train.emb, train.targets, classes, cfg.foundation_head_c)
    head.save(head_path(cfg))
    report = HeadReport(head, len(train.emb), len(val.emb) if val else 0, source)
    if val is not None and len(val.emb):
        report.val_auc_head = macro_roc_auc(val.targets, head.probs(val.emb))
        mapped = class_map.mapped
        if mapped.any():
            report.val_auc_zeroshot = macro_roc_auc(val.targets[:, mapped], val.logits[:, mapped])
    return report
