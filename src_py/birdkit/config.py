"""One typed, frozen configuration built from a notebook's parameters.

The ``parameters`` cell of every notebook holds literals; ``Config.from_namespace(globals())``
picks the names that are fields here (papermill-injected values included), validates them and
derives the rest (window samples, frame count, class count comes from the taxonomy later).
"""
from __future__ import annotations

import dataclasses
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .windows import window_samples

CROP_POLICIES = ("first", "windows", "loudest")
LOSSES = ("bce", "ce")
BACKENDS = ("torch", "onnxruntime", "openvino")
DATA_SOURCES = ("cache", "audio")
TTA_AGGREGATIONS = ("mean", "max", "gmean")


@dataclass(frozen=True)
class Config:
    # where things are ("" = find it: Kaggle input mounts, else an error naming what is missing)
    data_dir: str = ""
    run_dir: str = "runs/interactive"
    solution_path: str = ""
    cache_dir: str = ""                 # "" -> <run_dir>/spectrograms
    checkpoint_paths: tuple = ()        # inference; empty -> <run_dir>/checkpoints/best_model_improved.pth
    kaggle_input: str = "/kaggle/input"
    # audio and log-mel front end (seed cell 2)
    sample_rate: int = 32000
    window_seconds: float = 5.0
    n_mels: int = 128
    fmin: float = 20.0
    fmax: float = 16000.0
    n_fft: int = 2048
    hop_length: int = 512
    # EDA
    rare_threshold: int = 10
    # spectrogram generation
    n_examples: int = 3                 # dataset check
    crop_policy: str = "windows"
    max_windows: int = 6
    write_png: bool = True
    workers: int = 0                    # 0 -> all cores
    max_files: int = 0                  # 0 -> every row of train.csv
    # model
    model_name: str = "efficientnet_b0"
    pretrained: bool = False
    pretrained_path: str = ""           # local weights file for the backbone
    in_chans: int = 3
    freq_channel: bool = False          # add a band-position channel for the backbone (CoordConv)
    drop_rate: float = 0.2
    # training (seed cell 7)
    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-4
    weight_decay: float = 1e-2
    warmup_epochs: float = 1.0
    loss: str = "bce"
    label_smoothing: float = 0.1
    secondary_weight: float = 0.5
    mixup_alpha: float = 0.2
    mixup_prob: float = 1.0
    specaugment: bool = True
    time_mask_frac: float = 0.2
    freq_mask_frac: float = 0.1
    sampler_power: float = 0.5
    data_source: str = "cache"
    val_fraction: float = 0.2
    n_folds: int = 5
    seed: int = 42
    num_workers: int = 0
    samples_per_epoch: int = 0          # 0 -> len(train split)
    resume: bool = True
    # TTA and inference (seed cells 8, 9)
    tta_views: int = 1
    tta_shift_seconds: float = 1.0
    tta_aggregation: str = "mean"
    backend: str = "torch"
    infer_workers: int = 0              # inference processes, one thread each; 0 = auto (one per core
                                        # from 64 files on), 1 = this process
    threads: int = 0                    # infer_workers 1: CPU threads of the backend; 0 = library default
    frontend_in_graph: bool = False     # onnxruntime/openvino: compile the waveform-in graph too
    smoothing: float = 0.0              # weight of neighbouring windows; 0 = off
    dry_run_soundscapes: int = 3        # empty test folder -> predict this many train soundscapes
    max_test_files: int = 0
    submission_path: str = ""           # "" -> <run_dir>/submission.csv

    # ---- derived values, never restated in parameters ----
    @property
    def window_samples(self) -> int:
        return window_samples(self.mel_settings())

    @property
    def n_frames(self) -> int:
        return self.window_samples // self.hop_length + 1

    @property
    def run_path(self) -> Path:
        return Path(self.run_dir)

    @property
    def cache_path(self) -> Path:
        return Path(self.cache_dir) if self.cache_dir else self.run_path / "spectrograms"

    @property
    def checkpoint_dir(self) -> Path:
        return self.run_path / "checkpoints"

    def mel_settings(self) -> dict:
        keys = ("sample_rate", "window_seconds", "n_mels", "fmin", "fmax", "n_fft", "hop_length")
        return {k: getattr(self, k) for k in keys}

    def to_dict(self) -> dict:
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_namespace(cls, namespace: dict) -> "Config":
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in namespace.items() if k in names}
        return cls.from_dict(values)

    @classmethod
    def from_dict(cls, values: dict) -> "Config":
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(fields))
        if unknown:
            raise ValueError(f"unknown config keys: {unknown}")
        values = dict(values)
        if "checkpoint_paths" in values:
            paths = values["checkpoint_paths"]
            values["checkpoint_paths"] = (paths,) if isinstance(paths, str) else tuple(paths or ())
        cfg = cls(**values)
        cfg.validate()
        return cfg

    @classmethod
    def from_yaml(cls, path, **overrides) -> "Config":
        values = yaml.safe_load(Path(path).read_text()) or {}
        values.update(overrides)
        return cls.from_dict(values)

    def validate(self) -> None:
        _choice("crop_policy", self.crop_policy, CROP_POLICIES)
        _choice("loss", self.loss, LOSSES)
        _choice("backend", self.backend, BACKENDS)
        _choice("data_source", self.data_source, DATA_SOURCES)
        _choice("tta_aggregation", self.tta_aggregation, TTA_AGGREGATIONS)
        if not 0 < self.fmin < self.fmax <= self.sample_rate / 2:
            raise ValueError(f"need 0 < fmin < fmax <= sample_rate/2, got fmin={self.fmin} fmax={self.fmax}")
        if self.window_seconds <= 0 or self.batch_size < 1 or self.epochs < 0:
            raise ValueError("window_seconds, batch_size and epochs must be positive")
        if not 0.0 <= self.val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in [0, 1), got {self.val_fraction}")
        if self.in_chans not in (1, 3):
            raise ValueError(f"in_chans must be 1 or 3, got {self.in_chans}")
        if self.tta_views < 1:
            raise ValueError(f"tta_views must be >= 1, got {self.tta_views}")
        if self.infer_workers < 0 or self.threads < 0:
            raise ValueError(f"infer_workers and threads must be >= 0, got {self.infer_workers}, {self.threads}")

    def save(self, path) -> Path:
        """Write the resolved config beside the outputs, with the git revision."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"config": self.to_dict(), "git_revision": git_revision()}
        path.write_text(yaml.safe_dump(payload, sort_keys=False))
        return path


def _choice(name, value, allowed):
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


def git_revision(cwd=None) -> str:
    """The current git revision (with '-dirty' when the tree has changes), or 'unknown'."""
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return rev + ("-dirty" if dirty else "")
