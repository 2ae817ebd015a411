"""Model architectures: the waveform-in ``BirdModel``, its heads, its backbones (``registry``),
and checkpoints that carry their input contract."""
from .bird_model import HEADS, BirdModel, probabilities
from .checkpoints import (
    CheckpointError,
    build_model,
    contract_chunk_samples,
    contract_window_samples,
    load_checkpoint,
    make_contract,
    model_from_checkpoint,
    model_from_contract,
    save_checkpoint,
)
from .heads import WINDOW_POOLS, SEDHead, pool_windows
from .registry import BACKBONES, create_backbone

__all__ = ["BACKBONES", "HEADS", "WINDOW_POOLS", "BirdModel", "CheckpointError", "SEDHead", "build_model",
           "contract_chunk_samples", "contract_window_samples", "create_backbone", "load_checkpoint",
           "make_contract", "model_from_checkpoint", "model_from_contract", "pool_windows", "probabilities",
           "save_checkpoint"]
