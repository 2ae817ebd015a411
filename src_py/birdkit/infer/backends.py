"""CPU backends for a ``BirdModel``: torch eager, ONNX Runtime, OpenVINO.

Every backend scores inference chunks ``[N, chunk_samples]`` (float32, whole 5-s windows) and
returns window logits ``[N * k, classes]``; ``from_images`` does the same from the images the
front end made, so an ensemble computes each log-mel once for all its models. For ONNX Runtime
and OpenVINO the graph is exported from the model itself. By default the compiled graph is
``window_logits`` (images in) and the log-mel front end runs in torch, whose FFT is several
times faster than the STFT operator of either runtime; ``frontend_in_graph`` compiles the whole
waveform-in graph instead (one file to ship, slower). A backend whose package is missing falls
back to torch, and says so in a banner.
"""
from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..models.heads import ExportSignature
from ..util.notice import FALLBACK_COST, shout


class WindowScorer(nn.Module):
    """The model after its front end: images of chunks -> window logits ``[N * k, classes]``."""

    def __init__(self, model, windows: int):
        super().__init__()
        self.model, self.windows = model, windows

    def forward(self, image):
        return self.model.window_logits(image, self.windows)


def export_onnx(module: nn.Module, example: torch.Tensor, path, signature: ExportSignature | None = None) -> Path:
    """ONNX graph of ``module`` named and with the open axes of the head's ``signature`` (default: input
    ``input``, output ``logits``, a dynamic batch axis), by torch's dynamo exporter."""
    path, signature = Path(path), signature or ExportSignature()
    path.parent.mkdir(parents=True, exist_ok=True)
    axes = {axis: torch.export.Dim(name, min=1, max=4096) for axis, name in signature.dynamic_axes}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), (example,), str(path), dynamo=True, opset_version=18,
                          input_names=[signature.input], output_names=list(signature.outputs),
                          dynamic_shapes={list(_forward_args(module))[0]: axes}, verbose=False)
    return path


def _forward_args(module):
    import inspect
    return inspect.signature(module.forward).parameters


GRAPH_SUFFIX = {"onnxruntime": ".onnx", "openvino": ".xml"}


def export_graph(module: nn.Module, example: torch.Tensor, name: str, path,
                 signature: ExportSignature | None = None) -> Path:
    """Write ``module`` as an ONNX file (onnxruntime) or OpenVINO IR (.xml + .bin, fp32)."""
    path, signature = Path(path).with_suffix(GRAPH_SUFFIX[name]), signature or ExportSignature()
    if name == "onnxruntime":
        return export_onnx(module, example, path, signature)
    import openvino as ov
    path.parent.mkdir(parents=True, exist_ok=True)
    open_axes = dict(signature.dynamic_axes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ov_model = ov.convert_model(module.eval(), example_input=example,
                                    input=[ov.PartialShape([-1 if i in open_axes else n
                                                            for i, n in enumerate(example.shape)])])
    ov.save_model(ov_model, str(path), compress_to_fp16=False)  # fp16 weights would break 1e-4
    return path


def load_graph(path, name: str, threads: int = 0):
    """A numpy -> numpy callable running an exported graph; ``threads`` 0 = the runtime's default."""
    if name == "onnxruntime":
        import onnxruntime as ort
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
        session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        input_name = session.get_inputs()[0].name
        return lambda x: session.run(None, {input_name: x})[0]
    import openvino as ov
    # no pinning: with pinning each worker process would put its thread on the same first core
    config = {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY", "ENABLE_CPU_PINNING": False}
    if threads:
        config["INFERENCE_NUM_THREADS"] = threads
    compiled = ov.Core().compile_model(str(path), "CPU", config)
    return lambda x: compiled(x)[0]


def _tensor(x) -> torch.Tensor:
    """A float32 tensor of an array or tensor (tensors stay on their device)."""
    if isinstance(x, torch.Tensor):
        return x.float()
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))


def _array(x) -> np.ndarray:
    return np.ascontiguousarray(x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x, dtype=np.float32)


class TorchBackend:
    """torch eager, on ``device`` (a GPU where the session has one: pseudo-labelling in a training
    kernel; Kaggle's submission kernels are CPU-only)."""
    name = "torch"
    frontend_in_graph = False

    def __init__(self, model, chunk_samples: int, device="cpu"):
        self.device = torch.device(device)
        self.model = model.eval().to(self.device)
        self.windows = model.windows_per_image(chunk_samples)

    @torch.no_grad()
    def from_images(self, images) -> np.ndarray:
        return _array(self.model.window_logits(_tensor(images).to(self.device), self.windows))

    @torch.no_grad()
    def __call__(self, chunks) -> np.ndarray:
        return _array(self.model(_tensor(chunks).to(self.device)))


class CompiledBackend:
    """ONNX Runtime or OpenVINO; ``frontend_in_graph`` picks the waveform-in graph.

    ``export=False`` loads the graph an earlier call wrote to ``work_dir`` (inference worker
    processes do this) and exports only when it is missing.
    """

    def __init__(self, model, name, chunk_samples, work_dir, threads=0, frontend_in_graph=False, export=True):
        self.name, self.model, self.frontend_in_graph = name, model.eval(), frontend_in_graph
        self.windows = model.windows_per_image(chunk_samples)
        chunks = torch.zeros(2, chunk_samples)
        module, example = model, chunks
        if not frontend_in_graph:
            with torch.no_grad():
                module, example = WindowScorer(model, self.windows), model.image(model.chunk_wave(chunks))
        path = Path(work_dir) / (("model" if frontend_in_graph else "windows") + GRAPH_SUFFIX[name])
        if export or not path.is_file():
            path = export_graph(module, example, name, path, model.export_signature)
        self.graph_path = path
        self.run = load_graph(path, name, threads)

    def from_images(self, images) -> np.ndarray:
        return self.run(_array(images))

    def __call__(self, chunks) -> np.ndarray:
        if self.frontend_in_graph:
            return self.run(_array(chunks))
        with torch.no_grad():
            image = self.model.image(self.model.chunk_wave(_tensor(chunks)))
        return self.from_images(image)


def available(name: str) -> bool:
    return name == "torch" or importlib.util.find_spec(name) is not None


def resolve_backend(name: str) -> str:
    """The backend that runs when ``name`` is asked for: ``name``, or "torch" when its package is missing."""
    return name if available(name) else "torch"


def make_backend(model, name: str, chunk_samples: int, work_dir, threads: int = 0, frontend_in_graph=False,
                 export=True, device="cpu"):
    """The backend called ``name``, or torch (with a banner) when its package is missing; ``.name`` says which."""
    if resolve_backend(name) != name:
        shout(f"INFERENCE BACKEND FALLBACK: {name} -> torch eager",
              f"{name!r} is not installed in this kernel (Kaggle's image has neither openvino nor onnxruntime)",
              f"inference runs on torch eager, {FALLBACK_COST}",
              "fix: attach the wheels dataset (make push-wheels) or set backend to torch")
        name = "torch"
    if name == "torch":
        return TorchBackend(model, chunk_samples, device)
    return CompiledBackend(model, name, chunk_samples, work_dir, threads, frontend_in_graph, export)
