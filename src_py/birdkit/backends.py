"""CPU backends for a ``BirdModel``: torch eager, ONNX Runtime, OpenVINO.

All take waveforms ``[N, samples]`` (float32) and return logits ``[N, classes]``; the mel front
end is inside the exported graph. A backend whose package is missing falls back to torch, and
says so.
"""
from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import numpy as np
import torch


class TorchBackend:
    name = "torch"

    def __init__(self, model):
        self.model = model.eval()

    @torch.no_grad()
    def __call__(self, waves: np.ndarray) -> np.ndarray:
        return self.model(torch.from_numpy(np.ascontiguousarray(waves, dtype=np.float32))).numpy()


def export_onnx(model, path, window_samples: int) -> Path:
    """Waveform-in ONNX graph with a dynamic batch axis (torch's dynamo exporter)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    example = torch.zeros(2, window_samples)
    batch = torch.export.Dim("batch", min=1, max=4096)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model.eval(), (example,), str(path), dynamo=True, opset_version=18,
                          input_names=["wave"], output_names=["logits"],
                          dynamic_shapes={"wave": {0: batch}}, verbose=False)
    return path


class OnnxRuntimeBackend:
    name = "onnxruntime"

    def __init__(self, model, window_samples, onnx_path, threads=0):
        import onnxruntime as ort
        export_onnx(model, onnx_path, window_samples)
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])

    def __call__(self, waves):
        return self.session.run(None, {"wave": np.ascontiguousarray(waves, dtype=np.float32)})[0]


class OpenVinoBackend:
    name = "openvino"

    def __init__(self, model, window_samples, threads=0):
        import openvino as ov
        example = torch.zeros(2, window_samples)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ov_model = ov.convert_model(model.eval(), example_input=example,
                                        input=[ov.PartialShape([-1, window_samples])])
        config = {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY"}
        if threads:
            config["INFERENCE_NUM_THREADS"] = threads
        self.compiled = ov.Core().compile_model(ov_model, "CPU", config)

    def __call__(self, waves):
        return self.compiled(np.ascontiguousarray(waves, dtype=np.float32))[0]


def available(name: str) -> bool:
    return name == "torch" or importlib.util.find_spec(name) is not None


def make_backend(model, name: str, window_samples: int, work_dir, threads: int = 0):
    """The backend called ``name``, or torch (with a printed note) when its package is missing."""
    if not available(name):
        print(f"backend {name!r} is not installed here; falling back to torch eager")
        name = "torch"
    if name == "onnxruntime":
        return OnnxRuntimeBackend(model, window_samples, Path(work_dir) / "model.onnx", threads)
    if name == "openvino":
        return OpenVinoBackend(model, window_samples, threads)
    return TorchBackend(model)
