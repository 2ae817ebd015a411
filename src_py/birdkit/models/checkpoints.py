"""Building a ``BirdModel`` from a config or from a checkpoint, and checkpoints themselves.

A checkpoint carries its input contract (classes in order, mel settings, the model spec: backbone,
head, scored window, training crop, how windows are read from frames; normalisation, loss, the
config, the package version and git revision) and loads with ``torch.load(weights_only=True)``,
which refuses pickled code. The spec's fields are also kept at the contract's top level, where
contracts written before the spec kept them (``ModelSpec.from_contract`` reads those).
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch

from .. import __version__
from ..util import atomic
from ..util.provenance import git_revision
from ..util.units import seconds_to_samples
from .bird_model import BirdModel
from .frontend import MelSettings
from .spec import ModelSpec

if TYPE_CHECKING:
    from ..config import Config

NORMALISATION = ("per-example dB log-mel to [0, 1]: the top_db dB below the peak (min-max without top_db), "
                 "after subtracting each band's mean when mel.band_norm")


# the spec's fields that contracts before the spec kept at their top level (and still do)
TOP_LEVEL = ("model_name", "in_chans", "freq_channel", "head", "window_pool", "freq_pool", "train_seconds",
             "window_seconds")


def build_model(cfg: Config, classes, distill_dim: int = 0) -> BirdModel:
    """``distill_dim``: the teacher's embedding width when training distils (0 = no projection)."""
    return BirdModel(ModelSpec.from_config(cfg, distill_dim), cfg.mel, classes)


def make_contract(cfg: Config, classes, distill_dim: int = 0) -> dict:
    spec = ModelSpec.from_config(cfg, distill_dim).as_dict()
    return {"classes": list(classes), **{k: spec[k] for k in TOP_LEVEL}, "spec": spec,
            "mel": cfg.mel.as_dict(), "normalisation": NORMALISATION, "loss": cfg.loss,
            "package_version": __version__, "git_revision": git_revision(), "config": cfg.to_dict()}


def contract_window_samples(contract: dict) -> int:
    """Samples in one scored window (contracts before 0.2 kept window_seconds inside ``mel``)."""
    seconds = contract.get("window_seconds", contract["mel"].get("window_seconds", 5.0))
    return seconds_to_samples(seconds, contract["mel"]["sample_rate"])


def contract_chunk_samples(contract: dict, chunk_seconds: float = 0.0) -> int:
    """Samples per inference forward pass, the head's answer: whole windows, ``chunk_seconds`` or the
    training crop for an SED model (one window for a classifier, which scores windows one by one anyway)."""
    return ModelSpec.from_contract(contract).chunk_samples(contract["mel"]["sample_rate"], chunk_seconds)


def save_checkpoint(path, model, contract, **state) -> Path:
    """Atomic write (``<name>.tmp``, then renamed): a half-written checkpoint is never taken for a
    finished one; a run killed while saving keeps the previous checkpoint."""
    path = Path(path)
    with atomic.replacing(path, tmp=path.with_name(path.name + ".tmp")) as tmp:
        torch.save({"state_dict": model.state_dict(), "contract": contract, **state}, tmp)
    return path


class CheckpointError(Exception):
    pass


def load_checkpoint(path) -> dict:
    """Load safely (no pickled code runs); errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError for crafted pickles, RuntimeError for corrupt zips
        raise CheckpointError(f"refusing to load {path}: {type(exc).__name__}: {exc}") from exc
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt or "contract" not in ckpt:
        raise CheckpointError(f"{path} is not a birdkit checkpoint (no state_dict/contract)")
    return ckpt


def model_from_contract(c: dict) -> BirdModel:
    return BirdModel(ModelSpec.from_contract(c).for_inference(), MelSettings.from_dict(c["mel"]), c["classes"])


def model_from_checkpoint(path) -> tuple[BirdModel, dict]:
    ckpt = load_checkpoint(path)
    model, state = model_from_contract(ckpt["contract"]), ckpt["state_dict"]
    if ModelSpec.from_contract(ckpt["contract"]).distill_dim:   # the projection trained only
        state = {k: v for k, v in state.items() if not k.startswith("distill.")}
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: weights do not fit the model its contract describes: {exc}") from exc
    return model.eval(), ckpt["contract"]
