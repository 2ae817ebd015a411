"""Model architectures: the waveform-in ``BirdModel`` built from a ``ModelSpec``, its heads and
backbones (the ``registry`` tables), and checkpoints that carry their input contract."""
from .bird_model import BirdModel, probabilities
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
from .heads import WINDOW_POOLS, ClassifierHead, ExportSignature, Head, SEDHead, pool_windows
from .registry import BACKBONES, HEADS, create_backbone
from .spec import ModelSpec

__all__ = ["BACKBONES", "HEADS", "WINDOW_POOLS", "BirdModel", "CheckpointError", "ClassifierHead", "ExportSignature",
           "Head", "ModelSpec", "SEDHead", "build_model", "contract_chunk_samples", "contract_window_samples",
           "create_backbone", "load_checkpoint", "make_contract", "model_from_checkpoint", "model_from_contract",
           "pool_windows", "probabilities", "save_checkpoint"]
