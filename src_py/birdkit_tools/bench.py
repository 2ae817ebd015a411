"""CPU inference benchmark (issue 5): per model and backend, milliseconds per 5-s window.

``python -m birdkit_tools.bench [--out runs/bench] [--files 8] [--models demo,efficientnet_b0,efficientnet_b3]
[--backends torch,onnxruntime,openvino] [--threads 2] [--repeats 3] [--quick]``. A benchmark, not a
test: random weights (timing does not depend on them), synthetic 60-s 32 kHz OGG soundscapes unless
``--audio-dir`` is given. Every figure is the best of ``--repeats`` runs (shared machines only ever
add time). ``COLUMNS`` says exactly what each figure measures.
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
import torch

from birdkit.audio import frame_windows, load_audio
from birdkit.backends import Classifier, CompiledBackend
from birdkit.config import Config
from birdkit.infer import cpu_cores, list_audio, load_ensemble, predict_soundscapes, worker_count
from birdkit.models import build_model, make_contract, save_checkpoint

CLASSES = [f"c{i:03d}" for i in range(206)]
DEMO_PARAMS = Path(__file__).resolve().parents[2] / "params" / "demo.yaml"
KAGGLE_FILES = 700  # projected workload: 700 one-minute test soundscapes
COLUMNS = {  # column -> meaning; every "_ms" figure is milliseconds per 5-s window, best of --repeats
    "model": "'demo' = params/demo.yaml; else a timm name at Config defaults (128 mels, 5 s, 3 chans)",
    "backend": "the backend that actually ran (a missing package falls back to torch)",
    "decode_ms": "birdkit.audio.load_audio of one file (decode, downmix, resample) / its windows; "
                 "median over files",
    "features_ms": "torch eager front end model.image(waves) (log-mel, dB, normalise, channels) on one "
                   "file's windows in one call, no_grad, --threads threads; median over files; the same "
                   "in every backend's row",
    "model_ms": "classifier only, normalised images -> logits on this backend (the compiled classifier "
                "graph for onnxruntime/openvino), one call per file, --threads threads; median over files",
    "wave_to_scores_ms": "the inference backend as submissions use it, waveforms -> logits (torch front end "
                         "+ compiled classifier), one call per file's windows, --threads threads; median "
                         "over files",
    "e2e_ms": "birdkit.infer.predict_soundscapes on all files as the inference notebook runs Kaggle's "
              "test set (infer_workers 0 with >= 64 files: one worker process per core, one thread each; "
              "decode, TTA views, sigmoid, rows); wall time / all windows; worker start-up excluded "
              "(see pool_start_s)",
    "e2e_1proc_ms": "the same in this process (infer_workers 1: decode thread + --threads threads)",
    "e2e_over_model": "e2e_ms / model_ms",
    "speedup_vs_torch": "the torch row's e2e_ms / this row's e2e_ms, same model, same pipeline",
    "speedup_vs_torch_1proc": "the torch row's e2e_1proc_ms / this row's e2e_ms",
    "audio_s_per_s": "seconds of audio scored per wall second, end to end (e2e_ms)",
    "proj_700_min": "projected wall minutes, end to end, for 700 one-minute soundscapes on this machine, "
                    "worker start-up included",
    "setup_s": "load_ensemble: checkpoint load + export/compile (not in e2e)",
    "pool_start_s": "first call with workers: start the worker processes (each loads the graphs) and "
                    "score one file per worker",
}


def write_soundscapes(folder, count: int, seconds: float = 60.0, sr: int = 32000) -> list[Path]:
    """``count`` synthetic OGG soundscapes: pink-ish noise plus a few chirping tones."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        rng = np.random.default_rng(i)
        n = int(seconds * sr)
        wave = 0.05 * np.cumsum(rng.normal(size=n)) / np.sqrt(n) + 0.02 * rng.normal(size=n)
        t = np.arange(n) / sr
        for _ in range(4):
            f0, rate, onset = rng.uniform(1500, 8000), rng.uniform(0.5, 3), rng.uniform(0, seconds)
            env = np.exp(-((t - onset) % 7.0) * 3)
            wave += 0.2 * env * np.sin(2 * np.pi * f0 * t + 50 * np.sin(2 * np.pi * rate * t))
        path = folder / f"bench_{seconds:g}s_{i:03d}.ogg"
        sf.write(str(path), np.clip(wave, -1, 1).astype(np.float32), sr, format="OGG", subtype="VORBIS")
        paths.append(path)
    return paths


def model_config(spec: str, params=DEMO_PARAMS, model_name: str = "", tta_views: int = 1) -> Config:
    """'demo' -> params/demo.yaml, else a timm name at Config defaults; random weights, no smoothing."""
    over = {"model_name": model_name} if model_name else {}
    cfg = Config.from_yaml(params, **over) if spec == "demo" else Config(model_name=model_name or spec)
    return dataclasses.replace(cfg, pretrained=False, pretrained_path="", tta_views=tta_views, smoothing=0.0)


def classifier_call(backend, model):
    """images ``[N, C, mels, frames]`` -> logits: the compiled classifier graph ``backend`` itself
    runs (so nothing is exported twice), or torch eager for the torch backend."""
    if isinstance(backend, CompiledBackend) and not backend.frontend_in_graph:
        return backend.run
    head = Classifier(model).eval()
    return lambda x: torch_call(head, x)


@torch.no_grad()
def torch_call(module, x):
    return module(torch.from_numpy(x)).numpy()


def _timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


def _best(repeats, fn, *args):
    """(output, fastest wall seconds) of ``repeats`` calls."""
    runs = [_timed(fn, *args) for _ in range(max(1, repeats))]
    return runs[0][0], min(sec for _, sec in runs)


def bench_model(spec, files, backends, work_dir, threads=2, model_name="", params=DEMO_PARAMS, tta_views=1,
                repeats=3):
    """One row per backend for one model config (see ``COLUMNS``)."""
    cfg = model_config(spec, params, model_name, tta_views)
    torch.manual_seed(0)
    model = build_model(cfg, CLASSES).eval()
    work = Path(work_dir) / spec
    ckpt = save_checkpoint(work / "model.pth", model, make_contract(cfg, CLASSES))
    decode, waves = [], []
    for path in files:
        wave, sec = _best(repeats, load_audio, path, cfg.sample_rate)
        waves.append(frame_windows(wave, cfg.window_samples))
        decode.append(sec / len(waves[-1]))
    features, images = [], []
    with torch.no_grad():
        model.image(torch.from_numpy(waves[0]))  # warm-up
        for w in waves:
            img, sec = _best(repeats, model.image, torch.from_numpy(w))
            images.append(np.ascontiguousarray(img.numpy(), dtype=np.float32))
            features.append(sec / len(w))
    n_total = sum(len(w) for w in waves)
    rows = []
    for name in backends:
        ensemble, setup = _timed(load_ensemble, [ckpt], name, work / name, threads)
        backend = ensemble.backends[0]
        head = classifier_call(backend, model)
        backend(waves[0]), head(images[0])  # warm-up
        wave_ms = [_best(repeats, backend, w)[1] / len(w) * 1e3 for w in waves]
        model_ms = [_best(repeats, head, im)[1] / len(im) * 1e3 for im in images]
        e2e, workers_used = {}, worker_count(cpu_cores(), len(files))
        for key, workers in (("one", 1), ("pool", workers_used)):
            run_cfg = dataclasses.replace(cfg, infer_workers=workers)
            _, start = _timed(predict_soundscapes, files[:workers], ensemble, run_cfg, None, False)  # warm-up
            result, e2e[key] = _best(repeats, predict_soundscapes, files, ensemble, run_cfg, None, False)
            if result.skipped or len(result.submission) != n_total:
                raise RuntimeError(f"end-to-end run skipped files or lost rows: {result.skipped}")
        ensemble.close()
        e2e_ms, rate = e2e["pool"] / n_total * 1e3, n_total * cfg.window_seconds / e2e["pool"]
        row = {"model": spec if not model_name else f"{spec}:{model_name}", "backend": backend.name,
               "decode_ms": statistics.median(decode) * 1e3, "features_ms": statistics.median(features) * 1e3,
               "model_ms": statistics.median(model_ms), "wave_to_scores_ms": statistics.median(wave_ms),
               "e2e_ms": e2e_ms, "e2e_1proc_ms": e2e["one"] / n_total * 1e3}
        row.update(e2e_over_model=e2e_ms / row["model_ms"], speedup_vs_torch=np.nan,
                   speedup_vs_torch_1proc=np.nan, audio_s_per_s=rate,
                   proj_700_min=(KAGGLE_FILES * 60.0 / rate + start) / 60.0, setup_s=setup, pool_start_s=start,
                   files=len(files), windows=n_total, threads=threads, workers=workers_used,
                   repeats=repeats, tta_views=cfg.tta_views, timm_name=cfg.model_name, n_mels=cfg.n_mels,
                   in_chans=cfg.in_chans)
        rows.append(row)
        print(f"  {row['model']:>16} {row['backend']:>12}: e2e {e2e_ms:7.1f} ms/window "
              f"(in-process {row['e2e_1proc_ms']:.1f}), wave->scores {row['wave_to_scores_ms']:7.1f}, "
              f"model {row['model_ms']:7.1f}", flush=True)
    torch_row = next((t for t in rows if t["backend"] == "torch"), None)
    for r in rows:
        if torch_row:
            r["speedup_vs_torch"] = torch_row["e2e_ms"] / r["e2e_ms"]
            r["speedup_vs_torch_1proc"] = torch_row["e2e_1proc_ms"] / r["e2e_ms"]
    return rows


def run_bench(out, files=8, models=("demo", "efficientnet_b0", "efficientnet_b3"),
              backends=("torch", "onnxruntime", "openvino"), threads=2, seconds=60.0, audio_dir="",
              model_name="", params=DEMO_PARAMS, tta_views=1, repeats=3) -> pd.DataFrame:
    """Run every (model, backend) pair; write bench.md/.csv/.json under ``out``; return the table."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(threads)
    paths = list_audio(audio_dir)[:files] if audio_dir else write_soundscapes(out / "audio", files, seconds)
    if not paths:
        raise FileNotFoundError(f"no audio files in {audio_dir}")
    rows = []
    for spec in models:
        rows += bench_model(spec, paths, backends, out / "work", threads, model_name, params, tta_views, repeats)
    table = pd.DataFrame(rows)
    info = machine_info(threads, paths)
    table.to_csv(out / "bench.csv", index=False)
    (out / "bench.md").write_text(render(table, info))
    (out / "bench.json").write_text(json.dumps({"machine": info, "columns": COLUMNS,
                                                "rows": table.to_dict(orient="records")}, indent=1, default=str))
    return table


def machine_info(threads, paths) -> dict:
    info = {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "cpu_count": os.cpu_count(), "processor": platform.processor() or platform.machine(),
            "platform": platform.platform(), "python": platform.python_version(),
            "load_avg_1m_at_end": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
            "threads": threads, "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "audio": [str(p) for p in paths]}
    for pkg in ("onnxruntime", "openvino"):
        try:
            info[pkg] = __import__(pkg).__version__
        except ImportError:
            info[pkg] = "not installed"
    return info


SHOWN = ["model", "backend", "decode_ms", "features_ms", "model_ms", "wave_to_scores_ms", "e2e_ms", "e2e_1proc_ms",
         "e2e_over_model", "speedup_vs_torch", "speedup_vs_torch_1proc", "audio_s_per_s", "proj_700_min",
         "setup_s", "pool_start_s"]


def render(table: pd.DataFrame, info: dict) -> str:
    """Markdown: the table, then what each column means and the machine."""
    def cell(v):
        return f"{v:.2f}" if isinstance(v, float) else str(v)
    lines = ["| " + " | ".join(SHOWN) + " |", "|" + "---|" * len(SHOWN)]
    lines += ["| " + " | ".join(cell(r[c]) for c in SHOWN) + " |" for r in table.to_dict(orient="records")]
    notes = [f"- `{k}`: {v}" for k, v in COLUMNS.items()]
    machine = ", ".join(f"{k} {info[k]}" for k in ("date", "cpu_count", "threads", "torch", "onnxruntime",
                                                   "openvino", "load_avg_1m_at_end"))
    return "\n".join(lines + ["", f"{len(info['audio'])} files; {machine}", ""] + notes) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="runs/bench")
    p.add_argument("--files", type=int, default=8, help="a multiple of the core count keeps workers busy")
    p.add_argument("--models", default="demo,efficientnet_b0,efficientnet_b3")
    p.add_argument("--backends", default="torch,onnxruntime,openvino")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seconds", type=float, default=60.0, help="length of the synthetic soundscapes")
    p.add_argument("--audio-dir", default="", help="benchmark these files instead of synthetic ones")
    p.add_argument("--params", default=str(DEMO_PARAMS), help="the 'demo' model config")
    p.add_argument("--tta-views", type=int, default=1)
    p.add_argument("--repeats", type=int, default=3, help="report the best of this many runs")
    p.add_argument("--quick", action="store_true", help="1 file, demo model only (smoke check)")
    a = p.parse_args(argv)
    files, models = (1, ["demo"]) if a.quick else (a.files, a.models.split(","))
    run_bench(a.out, files, models, a.backends.split(","), a.threads, a.seconds, a.audio_dir,
              params=a.params, tta_views=a.tta_views, repeats=a.repeats)
    print((Path(a.out) / "bench.md").read_text())
    print(f"wrote {a.out}/bench.md, bench.csv, bench.json")


if __name__ == "__main__":
    main()
