"""A small stand-in for the Perch v2 ONNX port (tests only; not a test file), built with ``onnx.helper``.

The same input and outputs, names and shapes, as the real port (``justinchuby/Perch-onnx`` README):
input ``inputs`` float32 [N, 160000]; outputs ``embedding`` [N, 1536], ``spatial_embedding``
[N, 16, 4, 1536], ``spectrogram`` [N, 500, 128], ``label`` [N, 14795], in that order. Inside, a few
deterministic ops on fixed random weights: frames of 320 samples -> MatMul -> Tanh ("spectrogram"),
pooled into 16 x 4 cells -> MatMul -> Tanh ("spatial_embedding"), its mean ("embedding"), a dense
layer ("label"). Tanh makes every output depend on the input's scale, so only a graph fed
peak-normalised windows is scale-invariant. ``reference`` computes the same in numpy.

``build`` also makes the headless variant (no ``label``) and a fixed-batch one (``batch=1``);
``write_labels`` a ``labels.csv`` (namespace header, then 14,795 made-up scientific names, real ones
at ``KNOWN``) and a ``perch_v2_ebird_classes.csv`` beside it.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

WINDOW, FRAMES, HOP, MELS = 160_000, 500, 320, 128
T, F, D, N_LABELS = 16, 4, 1536, 14795
POOL = 31                                 # 16 x 31 = 496 of the 500 frames
KNOWN = {0: ("Parus major", "gretit1"), 1234: ("Turdus merula", "eurbla"), 7000: ("Car", "no_ebird_code"),
         N_LABELS - 1: ("Bicycle_bell", "no_ebird_code")}


def weights(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    normal = lambda shape, fan_in: (rng.standard_normal(shape, dtype=np.float32) * np.float32(3 / np.sqrt(fan_in)))
    return {"w_spec": normal((HOP, MELS), HOP), "w_cell": normal((MELS // F, D), MELS // F),
            "w_label": normal((D, N_LABELS), D), "b_label": normal((N_LABELS,), 1)}


def reference(x, w: dict) -> dict:
    """The stand-in's outputs for ``x`` [n, 160000], in numpy (float32)."""
    x = np.asarray(x, np.float32)
    n = len(x)
    spectrogram = np.tanh(x.reshape(n, FRAMES, HOP) @ w["w_spec"])
    cells = spectrogram[:, :T * POOL].reshape(n, T, POOL, MELS).mean(axis=2).reshape(n, T, F, MELS // F)
    spatial = np.tanh(cells @ w["w_cell"])
    embedding = spatial.mean(axis=(1, 2))
    return {"embedding": embedding, "spatial_embedding": spatial, "spectrogram": spectrogram,
            "label": embedding @ w["w_label"] + w["b_label"]}


def build(path, w: dict, head: bool = True, batch: int | None = None) -> Path:
    """Write the stand-in graph to ``path``: dynamic batch (``batch=None``, the dimension named
    ``batch``) or fixed; ``head=False``: the headless variant, without ``label``."""
    n = batch or "batch"
    const = lambda name, value: numpy_helper.from_array(np.asarray(value), name)
    inits = [const(k, v) for k, v in w.items() if head or k not in ("w_label", "b_label")]
    inits += [const("frames_shape", np.array([-1, FRAMES, HOP], np.int64)),
              const("cells_shape", np.array([-1, T, POOL, MELS], np.int64)),
              const("split_shape", np.array([-1, T, F, MELS // F], np.int64)),
              const("start", np.array([0], np.int64)), const("end", np.array([T * POOL], np.int64)),
              const("axis1", np.array([1], np.int64))]
    node = helper.make_node
    nodes = [node("Reshape", ["inputs", "frames_shape"], ["frames"]),
             node("MatMul", ["frames", "w_spec"], ["spec_lin"]),
             node("Tanh", ["spec_lin"], ["spectrogram"]),
             node("Slice", ["spectrogram", "start", "end", "axis1"], ["kept"]),
             node("Reshape", ["kept", "cells_shape"], ["grouped"]),
             node("ReduceMean", ["grouped"], ["pooled"], axes=[2], keepdims=0),
             node("Reshape", ["pooled", "split_shape"], ["cells"]),
             node("MatMul", ["cells", "w_cell"], ["cell_lin"]),
             node("Tanh", ["cell_lin"], ["spatial_embedding"]),
             node("ReduceMean", ["spatial_embedding"], ["embedding"], axes=[1, 2], keepdims=0)]
    outputs = [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, [n, D]),
               helper.make_tensor_value_info("spatial_embedding", TensorProto.FLOAT, [n, T, F, D]),
               helper.make_tensor_value_info("spectrogram", TensorProto.FLOAT, [n, FRAMES, MELS])]
    if head:
        nodes += [node("MatMul", ["embedding", "w_label"], ["label_lin"]),
                  node("Add", ["label_lin", "b_label"], ["label"])]
        outputs.append(helper.make_tensor_value_info("label", TensorProto.FLOAT, [n, N_LABELS]))
    graph = helper.make_graph(nodes, "perch_v2_standin",
                              [helper.make_tensor_value_info("inputs", TensorProto.FLOAT, [n, WINDOW])],
                              outputs, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="perch_standin")
    model.ir_version = 8
    onnx.checker.check_model(model)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def names() -> list[str]:
    out = [f"Genus{i // 7:04d} species{i % 7}" for i in range(N_LABELS)]
    for i, (name, _) in KNOWN.items():
        out[i] = name
    return out


def write_labels(folder, ebird: bool = True) -> Path:
    """``labels.csv`` (header ``inat2024_fsd50k``) and, with ``ebird``, ``perch_v2_ebird_classes.csv``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "labels.csv"
    path.write_text("\n".join(["inat2024_fsd50k", *names()]) + "\n", encoding="utf-8")
    if ebird:
        codes = ["no_ebird_code" if i % 3 else f"code{i}" for i in range(N_LABELS)]
        for i, (_, code) in KNOWN.items():
            codes[i] = code
        (folder / "perch_v2_ebird_classes.csv").write_text("\n".join(["ebird2021", *codes]) + "\n", encoding="utf-8")
    return path
