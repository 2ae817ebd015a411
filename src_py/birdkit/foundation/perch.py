"""Perch v2 (Google DeepMind, weights Apache-2.0): 32 kHz, 5-s windows (160,000 samples), a
1,536-d embedding and 14,795 logits (namespace ``inat2024_fsd50k``: iNaturalist 2024 species by
scientific name, and FSD50K sound classes such as ``Bicycle_bell``, which pass through as they are).

Weights come from a local file only: ``foundation_path``, or the first one found under
``search_roots`` (Kaggle's /kaggle/input):
- an ONNX port (Justin Chu's conversion of the Kaggle model, Hugging Face ``justinchuby/Perch-onnx``):
  ``perch_v2.onnx``, or ``perch_v2_no_dft.onnx`` (its DFT op turned into a MatMul, "slightly less
  accurate, 2e-4", for runtimes without DFT; preferred when both are there, as BirdCLEF notebooks
  did); run on onnxruntime, else OpenVINO;
- the headless (embedding-only) port (Hugging Face ``sammlapp/Perch_v2_headless``:
  ``perch_v2_embedding_only.onnx``, ``perch_v2_no_dft_embedding_only.onnx``): no logits, so
  ``logits`` gives ``[n, 0]`` and ``labels`` is empty (``describe`` says so);
- Kaggle's TF SavedModel ``google/bird-vocalization-classifier/tensorFlow2/perch_v2_cpu/1`` (a folder
  with ``saved_model.pb``, ``variables/``, ``assets/labels.csv``, ``assets/perch_v2_ebird_classes.csv``),
  which needs TensorFlow 2.20+ (Kaggle's image had 2.19 during BirdCLEF 2026).

The graphs, as found in stored copies of public pages and code (2026):
- ONNX: input ``inputs`` float ``['batch', 160000]``; outputs ``embedding`` [batch, 1536],
  ``spatial_embedding`` [batch, 16, 4, 1536], ``spectrogram`` [batch, 500, 128], ``label``
  [batch, 14795] (the ``justinchuby/Perch-onnx`` README's printed model information; the same in the
  ``Calotriton/perch-v2-onnx`` model card and perch-hoplite ``zoo/models_onnx.py``, whose input name
  defaults to ``inputs``). Its TFLite conversion is fixed at batch 1 (``serving_default_inputs:0``
  ``[1, 160000]``); not read here.
- SavedModel: ``signatures["serving_default"](inputs=x)`` -> a dict with ``embedding``,
  ``spatial_embedding``, ``label``, ``spectrogram`` (kitzeslab/bioacoustics-model-zoo ``perch_v2.py``;
  perch-hoplite ``zoo/taxonomy_model_tf.py``, which calls a signature batchable when its batch
  dimension is None). (The zoo's docstring gives the spatial embedding as 5 x 3; the ports print
  16 x 4. Not used here.)
- headless graph: its output names are documented nowhere found (UNVERIFIED); public code reads its
  first output as the [batch, 1536] embedding. So outputs are found by name (``embedding``,
  ``label``), else by shape (one probe call on a silent window at load): a 2-D output 1,536 wide is
  the embedding, one 14,795 wide the logits; with only a [batch, t, f, 1536] spatial embedding,
  its mean over t and f (how the PyTorch port ``DAS-DeepAudioSegmenter/perch2-torch-embed``
  documents the pooled embedding; UNVERIFIED against the real graph). The input: ``inputs``, else
  the one 160,000 wide, else the first.
- ``labels.csv``: the namespace ``inat2024_fsd50k`` in the first row, then one class per row, in
  output order, in the first column (perch-hoplite ``taxonomy/namespace.py`` ``ClassList.from_csv``;
  "14,795 class names, in output order, after a header line": Calotriton/perch-v2-onnx, sha256
  e4d5c039...; BirdCLEF notebooks read it with pandas as the column ``inat2024_fsd50k``, which a
  copy with an index column still has). ``perch_v2_ebird_classes.csv`` beside it: the same rows'
  eBird 2021 codes, ``no_ebird_code`` where there is none (read the same way; its header line,
  ``ebird2021`` in one project's code, is UNVERIFIED, so it is dropped by count, not by name).
- batching: the ONNX batch is dynamic; a graph with a fixed batch (as a TFLite-derived export would
  have) is run in chunks of that size, the last one padded with silence.

Pre-processing: each window is peak-normalised to 0.25, ``x * 0.25 / max|x|`` (a silent window stays
zero), as bioacoustics-model-zoo does (opensoundscape ``Audio.normalize(peak_level=0.25)``, a pure
rescale). perch-hoplite's ``normalize_audio`` subtracts each window's mean first; ``remove_mean=True``
does that too (off by default: the two differ only by a window's DC offset).
"""
from __future__ import annotations

import csv
import importlib
import importlib.util
from pathlib import Path

import numpy as np

from ..util.accelerator import cpu_cores
from .base import FoundationError, FoundationModel, Labels

MODEL_GLOB = "perch_v2*.onnx"
SAVED_MODEL = "saved_model.pb"
LABELS_FILE = "labels.csv"
EBIRD_FILE = "perch_v2_ebird_classes.csv"
NAMESPACE = "inat2024_fsd50k"
NO_EBIRD = "no_ebird_code"
INPUT, EMBEDDING, LOGITS, SPATIAL = "inputs", "embedding", "label", "spatial_embedding"
N_LABELS = 14795
PEAK = 0.25
RUNTIMES = ("auto", "onnxruntime", "openvino", "tensorflow")
TF_MIN = (2, 20)
LICENCE = "Apache-2.0 (Perch v2, Google DeepMind)"


def normalise(batch, peak: float = PEAK, remove_mean: bool = False) -> np.ndarray:
    """Each window (the last axis) scaled so that its peak is ``peak``: ``x * peak / max|x|``, float32.
    A silent (or non-finite) window comes back as zeros, never NaN."""
    x = np.array(batch, dtype=np.float32)
    if remove_mean:
        x -= x.mean(axis=-1, keepdims=True)
    top = np.abs(x).max(axis=-1, keepdims=True)
    return np.divide(x * np.float32(peak), top, out=np.zeros_like(x), where=np.isfinite(top) & (top > 0))


def _is_saved_model(p: Path) -> bool:
    return p.is_dir() and (p / SAVED_MODEL).is_file()


def _rank(p: Path):
    """Full graphs before headless ones, no-DFT before DFT, then by path."""
    name = p.name.lower()
    return ("embedding_only" in name or "headless" in name, "no_dft" not in name, str(p))


def search(roots) -> Path | None:
    """The first ``perch_v2*.onnx`` under ``roots`` (see ``_rank``), else a TF SavedModel folder whose
    path contains ``perch_v2``."""
    roots = [Path(r) for r in roots if r and Path(r).is_dir()]
    graphs = sorted((p for r in roots for p in r.rglob(MODEL_GLOB) if p.is_file()), key=_rank)
    if graphs:
        return graphs[0]
    saved = sorted(pb.parent for r in roots for pb in r.rglob(SAVED_MODEL) if "perch_v2" in str(pb.parent).lower())
    return saved[0] if saved else None


def find_model(path: str = "", search_roots=()) -> Path:
    """``foundation_path`` when given (an ``.onnx`` file, a SavedModel folder, or a folder to search),
    else the first Perch graph under ``search_roots``."""
    if path:
        p = Path(path)
        found = p if (p.is_file() or _is_saved_model(p)) else search([p]) if p.is_dir() else None
        if found is None:
            raise FoundationError(f"foundation_path: Perch model {p} does not exist (give a {MODEL_GLOB} file, the "
                                  f"TF SavedModel folder holding {SAVED_MODEL}, or leave it empty to search "
                                  "the inputs)")
        return found
    found = search(search_roots)
    if found is None:
        raise FoundationError(f"foundation_model perch: no {MODEL_GLOB} and no perch_v2 SavedModel found; set "
                              "foundation_path to the file" + (f" (searched {', '.join(map(str, search_roots))})"
                                                               if search_roots else ""))
    return found


def find_labels(model: Path, labels_path: str = "", search_roots=()) -> Path | None:
    """``foundation_labels_path`` when given (it must exist), else ``labels.csv`` beside the model (or in
    its ``assets/``), else the first one under ``search_roots`` in a path containing ``perch``."""
    if labels_path:
        p = Path(labels_path)
        if not p.is_file():
            raise FoundationError(f"foundation_labels_path: Perch label list {p} does not exist")
        return p
    base = model if model.is_dir() else model.parent
    for p in (base / LABELS_FILE, base / "assets" / LABELS_FILE):
        if p.is_file():
            return p
    roots = [Path(r) for r in search_roots if r and Path(r).is_dir()]
    return next(iter(sorted(p for r in roots for p in r.rglob(LABELS_FILE) if "perch" in str(p).lower())), None)


def _column(path: Path, width: int, header: str | None, what: str) -> list[str]:
    """The first column of a one-class-per-row csv (or the column named ``header``), its header line
    dropped: ``width`` values, in output order."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = [r for r in csv.reader(f) if any(c.strip() for c in r)]
    first = [c.strip() for c in rows[0]] if rows else []
    col = first.index(header) if header and header in first else 0
    values = [r[col].strip() if col < len(r) else "" for r in rows]
    if len(values) == width + 1:
        return values[1:]
    if len(values) == width and values[0] != header:
        return values
    raise FoundationError(f"foundation_labels_path: {what} {path} has {len(values)} rows, but the Perch graph has "
                          f"{width} logits (expected a header line and one class per row)")


def read_labels(path: Path, width: int) -> Labels:
    """``labels.csv`` -> ``Labels``: the codes are the scientific names (FSD50K classes as they are);
    eBird codes from ``perch_v2_ebird_classes.csv`` beside it, where it is there."""
    codes = _column(path, width, NAMESPACE, "label list")
    ebird_path = Path(path).with_name(EBIRD_FILE)
    ebird = ([c if c != NO_EBIRD else "" for c in _column(ebird_path, width, None, "eBird class list")]
             if ebird_path.is_file() else [""] * width)
    return Labels(codes=codes, scientific=list(codes), common=[""] * width, ebird=ebird)


def pick_runtime(path: Path, runtime: str = "auto") -> str:
    if runtime not in RUNTIMES:
        raise ValueError(f"Perch runtime must be one of {RUNTIMES}, got {runtime!r}")
    if _is_saved_model(path):
        if runtime not in ("auto", "tensorflow"):
            raise FoundationError(f"foundation_path: {path} is a TF SavedModel; {runtime} runs the ONNX ports")
        if importlib.util.find_spec("tensorflow") is None:
            raise FoundationError(f"foundation_path: {path} is Perch's TF SavedModel, which needs TensorFlow "
                                  f"{'.'.join(map(str, TF_MIN))}+ (pip install 'tensorflow>=2.20'), or give an "
                                  f"ONNX port ({MODEL_GLOB})")
        return "tensorflow"
    if runtime == "tensorflow":
        raise FoundationError(f"foundation_path: {path} is not a TF SavedModel folder (no {SAVED_MODEL})")
    wanted = ("onnxruntime", "openvino") if runtime == "auto" else (runtime,)
    for name in wanted:
        if importlib.util.find_spec(name) is not None:
            return name
    raise FoundationError(f"foundation_path: {path} is an ONNX graph, and {' / '.join(wanted)} is not installed "
                          "(pip install onnxruntime or openvino)")


def _dims(shape) -> tuple:
    return tuple(d if isinstance(d, int) and d > 0 else None for d in (shape or ()))


class Perch(FoundationModel):
    name = "perch"
    sample_rate = 32000
    window_samples = 160000
    embedding_size = 1536
    licence = LICENCE

    def __init__(self, path: str = "", labels_path: str = "", runtime: str = "auto", threads: int = 0,
                 batch_size: int = 32, search_roots=(), remove_mean: bool = False):
        self.path = find_model(path, search_roots)
        self.runtime = pick_runtime(self.path, runtime)
        self.threads = threads or cpu_cores()
        self.batch_size = batch_size
        self.remove_mean = remove_mean
        self._call = self._model = self.labels_path = None
        self._open()
        self._inspect()
        if self._logits is None:
            self.labels = Labels(codes=[], scientific=[], common=[], ebird=[])
            return
        found = find_labels(self.path, labels_path, search_roots)
        if found is None:
            raise FoundationError(f"foundation_labels_path: no {LABELS_FILE} beside the Perch model {self.path}: give "
                                  f"the model's assets/{LABELS_FILE} ({N_LABELS} classes after a header line)")
        self.labels_path = found
        self.labels = read_labels(found, self._widths[self._logits])

    # ---- runtimes: each sets self._call(names, x) -> {name: array}, self._inputs / self._outputs (name -> dims)
    def _open(self):
        getattr(self, f"_open_{self.runtime}")()
        self._input = (INPUT if INPUT in self._inputs else
                       next((n for n, d in self._inputs.items() if d and d[-1] == self.window_samples),
                            next(iter(self._inputs))))
        dims = self._inputs[self._input]
        if len(dims) != 2 or dims[-1] not in (None, self.window_samples):
            raise FoundationError(f"foundation_path: {self.path} takes {list(dims)}, not [batch, "
                                  f"{self.window_samples}]: not a Perch v2 graph")
        self._fixed = dims[0]   # None: any batch size

    def _open_onnxruntime(self):
        import onnxruntime as ort
        opts = ort.SessionOptions()
        opts.intra_op_num_threads, opts.inter_op_num_threads = self.threads, 1
        session = ort.InferenceSession(str(self.path), opts, providers=["CPUExecutionProvider"])
        self._model = session
        self._inputs = {i.name: _dims(i.shape) for i in session.get_inputs()}
        self._outputs = {o.name: _dims(o.shape) for o in session.get_outputs()}
        self._call = lambda names, x: dict(zip(names, session.run(names, {self._input: x})))

    def _open_openvino(self):
        import openvino as ov
        # f32: the CPU plugin would otherwise pick bf16 where the CPU has it; no pinning (worker processes)
        config = {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY", "ENABLE_CPU_PINNING": False,
                  "INFERENCE_NUM_THREADS": self.threads}
        compiled = ov.Core().compile_model(str(self.path), "CPU", config)
        request = compiled.create_infer_request()
        self._model = compiled
        shape = lambda port: tuple(d.get_length() if d.is_static else None for d in port.get_partial_shape())
        self._inputs = {p.get_any_name(): shape(p) for p in compiled.inputs}
        self._outputs = {p.get_any_name(): shape(p) for p in compiled.outputs}
        ports = {n: p for p in compiled.outputs for n in p.get_names()}

        def call(names, x):
            result = request.infer({self._input: x})
            return {n: np.array(result[ports[n]], dtype=np.float32) for n in names}
        self._call = call

    def _open_tensorflow(self):
        tf = importlib.import_module("tensorflow")
        version = tuple(int(v) for v in tf.__version__.split(".")[:2] if v.isdigit())
        if version < TF_MIN:
            raise FoundationError(f"foundation_path: {self.path} is Perch's TF SavedModel, which needs TensorFlow "
                                  f"2.20+; this kernel has {tf.__version__}. Give an ONNX port ({MODEL_GLOB}) instead")
        try:
            tf.config.threading.set_intra_op_parallelism_threads(self.threads)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:   # TensorFlow already started in this process: its threads stay as they are
            pass
        self._model = tf.saved_model.load(str(self.path))
        signature = self._model.signatures["serving_default"]
        specs = signature.structured_input_signature[1]
        self._inputs = {k: _dims(v.shape.as_list()) for k, v in specs.items()}
        self._outputs = {k: _dims(v.shape.as_list()) for k, v in signature.structured_outputs.items()}

        def call(names, x):
            out = signature(**{self._input: tf.constant(x)})
            return {n: np.asarray(out[n].numpy(), dtype=np.float32) for n in names}
        self._call = call

    def _inspect(self):
        """Which outputs are the embedding and the logits: by name, else by the shapes of a probe call."""
        probe = self._call(list(self._outputs), np.zeros((self._fixed or 1, self.window_samples), np.float32))
        shapes = {n: np.shape(v)[1:] for n, v in probe.items()}
        self._widths = {n: s[-1] for n, s in shapes.items() if s}
        two_d = [n for n, s in shapes.items() if len(s) == 1]
        emb = (EMBEDDING if EMBEDDING in shapes else
               next((n for n in two_d if shapes[n][0] == self.embedding_size), None))
        spatial = None
        if emb is None:
            spatial = next((n for n in sorted(shapes, key=lambda n: n != SPATIAL)
                            if len(shapes[n]) == 3 and shapes[n][-1] == self.embedding_size), None)
        if emb is None and spatial is None:
            raise FoundationError(f"foundation_path: {self.path} has no {EMBEDDING!r} output ({shapes}): not a Perch "
                                  "v2 graph")
        self._embedding, self._pool = (emb, False) if emb else (spatial, True)
        self.embedding_size = self._widths[self._embedding]
        self._logits = (LOGITS if LOGITS in shapes and len(shapes[LOGITS]) == 1 else
                        next((n for n in two_d if n != emb and shapes[n][0] == N_LABELS), None))

    def __getstate__(self):   # a worker process opens its own session
        state = dict(self.__dict__)
        state["_call"] = state["_model"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._open()

    @property
    def headless(self) -> bool:
        return self._logits is None

    def _forward(self, x: np.ndarray) -> dict:
        names = [self._embedding] + ([self._logits] if self._logits else [])
        if not self._fixed:
            return self._call(names, x)
        parts = []
        for i in range(0, len(x), self._fixed):
            chunk = x[i:i + self._fixed]
            pad = np.zeros((self._fixed - len(chunk), x.shape[1]), np.float32)
            out = self._call(names, np.concatenate([chunk, pad]) if len(pad) else chunk)
            parts.append({n: v[:len(chunk)] for n, v in out.items()})
        return {n: np.concatenate([p[n] for p in parts]) for n in names}

    def _run(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = normalise(batch, remove_mean=self.remove_mean)
        out = self._forward(x)
        emb = out[self._embedding]
        if self._pool:
            emb = emb.mean(axis=(1, 2))
        logits = out[self._logits] if self._logits else np.zeros((len(x), 0), np.float32)
        return np.asarray(emb, np.float32), np.asarray(logits, np.float32)

    def describe(self) -> str:
        batch = f", fixed batch {self._fixed}" if self._fixed else ""
        head = "; headless graph (embedding only): no logits, no labels" if self.headless else ""
        return super().describe() + f"; {self.path.name} on {self.runtime}, {self.threads} threads{batch}{head}"
