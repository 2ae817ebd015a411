"""Model architectures: the waveform-in ``BirdModel``, its backbones (``registry``) and checkpoints."""
from .bird_model import (
    BirdModel,
    CheckpointError,
    build_model,
    contract_window_samples,
    load_checkpoint,
    make_contract,
    model_from_checkpoint,
    probabilities,
    save_checkpoint,
)
from .registry import BACKBONES, create_backbone

__all__ = ["BACKBONES", "BirdModel", "CheckpointError", "build_model", "contract_window_samples", "create_backbone",
           "load_checkpoint", "make_contract", "model_from_checkpoint", "probabilities", "save_checkpoint"]
