"""A seeded, synthetic BirdCLEF 2025 competition folder, small enough for a laptop CPU.

``generate_demo_competition(out_dir)`` writes ``out_dir/birdclef-2025/`` in the real layout
(taxonomy.csv, train.csv, train_audio/, train_soundscapes/, test_soundscapes/,
sample_submission.csv, recording_location.txt) and the ground truth ``out_dir/solution.csv``
outside it. Species differ only by their call templates (pitch contour, base frequency,
rhythm, harmonics); every recording mixes jittered calls with wind, rain and insect-chorus
noise. The output is byte-identical for the same seed and parameters.

CLI: ``python -m birdkit_tools.demo_data --out data/demo [--seed N] [--scale X] [--n-test N]``
"""
from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
from scipy.signal import lfilter

SR = 32000
SOUNDSCAPE_S = 60
WINDOW_S = 5
MIN_OVERLAP_S = 0.5      # a call labels a window if it overlaps it this long (or all of it)
SPILL_S = 0.3            # soundscape calls may cross into a neighbouring window this far
FORMAT_VERSION = 2        # bump when the synthesis changes: old demo folders get rebuilt
COMPETITION = "birdclef-2025"
MARKER = ".complete"
TAXONOMY_COLUMNS = ["primary_label", "inat_taxon_id", "scientific_name", "common_name", "class_name"]
TRAIN_COLUMNS = ["primary_label", "secondary_labels", "type", "filename", "collection", "rating",
                 "url", "latitude", "longitude", "scientific_name", "common_name", "author", "license"]


@dataclass(frozen=True)
class Species:
    """A demo species: taxonomy fields, train recordings at scale 1, and its call template."""

    label: str
    class_name: str
    scientific_name: str
    common_name: str
    inat_taxon_id: int
    n_train: int
    shape: str                # pitch contour of a syllable: flat, up, down, v, hill
    f0: float                 # base frequency, Hz
    bend: float               # contour excursion, relative to f0
    syl_s: float              # syllable duration
    n_syl: int                # syllables per call
    gap_s: float              # silence between syllables
    step: float = 0.0         # relative pitch change from one syllable to the next
    fm_hz: float = 0.0        # frequency modulation (trills, buzzes)
    fm_depth: float = 0.0
    harmonics: tuple = (1.0,)


SPECIES = (  # sorted by label as strings, like the real taxonomy
    Species("1139490", "Insecta", "Demoptera stridulans", "Demo katydid", 1139490, 14,
            "flat", 9500, 0.0, 0.35, 4, 0.10, fm_hz=70, fm_depth=0.02),
    Species("126247", "Amphibia", "Demohyla tonkii", "Demo tink frog", 126247, 6,
            "up", 1100, 0.25, 0.07, 6, 0.12, harmonics=(1.0, 0.6, 0.4, 0.2)),
    Species("41663", "Mammalia", "Demouatta rugiens", "Demo howler monkey", 41663, 3,
            "hill", 350, 0.4, 0.70, 2, 0.25, harmonics=(1.0, 0.8, 0.6, 0.4, 0.3)),
    Species("amekes", "Aves", "Falco sparverius", "American Kestrel", 4665, 40,
            "down", 4200, 0.3, 0.10, 6, 0.05, harmonics=(1.0, 0.3)),
    Species("bkmtou1", "Aves", "Ramphastos ambiguus", "Black-mandibled Toucan", 18917, 30,
            "v", 1500, 0.3, 0.30, 2, 0.30, harmonics=(1.0, 0.7, 0.4)),
    Species("compau", "Aves", "Nyctidromus albicollis", "Common Pauraque", 19978, 24,
            "up", 2000, 0.6, 0.65, 1, 0.0, harmonics=(1.0, 0.2)),
    Species("grekis", "Aves", "Pitangus sulphuratus", "Great Kiskadee", 16782, 18,
            "flat", 2800, 0.0, 0.15, 3, 0.10, step=0.08, harmonics=(1.0, 0.5, 0.3)),
    Species("rtlhum", "Aves", "Amazilia tzacatl", "Rufous-tailed Hummingbird", 6337, 11,
            "down", 11000, 0.15, 0.05, 6, 0.07),
    Species("socfly1", "Aves", "Myiozetetes similis", "Social Flycatcher", 16925, 8,
            "flat", 5000, 0.0, 0.70, 1, 0.0, fm_hz=25, fm_depth=0.15, harmonics=(1.0, 0.3)),
    Species("trokin", "Aves", "Tyrannus melancholicus", "Tropical Kingbird", 16962, 4,
            "up", 6200, 0.3, 0.06, 7, 0.03, step=0.02),
    Species("whtdov", "Aves", "Leptotila verreauxi", "White-tipped Dove", 3544, 2,
            "hill", 650, 0.1, 0.90, 1, 0.0, harmonics=(1.0, 0.2)),
    Species("yehcar1", "Aves", "Milvago chimachima", "Yellow-headed Caracara", 5076, 1,
            "down", 3400, 0.35, 0.40, 2, 0.20, fm_hz=90, fm_depth=0.06, harmonics=(1.0, 0.6, 0.4)),
)

_SHAPES = {"flat": lambda u: 0.0 * u, "up": lambda u: u, "down": lambda u: 1.0 - u,
           "v": lambda u: np.abs(2.0 * u - 1.0), "hill": lambda u: 1.0 - np.abs(2.0 * u - 1.0)}
_AUTHORS = ["Ana Restrepo", "Luis Gómez", "Marta Quintero", "Jorge Salazar", "Paula Ortiz",
            "Demo Recordist", "Camila Rojas"]
_BIRD_TYPES = [[""], ["call"], ["song"], ["call", "song"], ["alarm call"], ["flight call"]]
_OTHER_TYPES = [[""], ["call"], ["song"]]
LOCATION_TEXT = ("Demo data (synthetic audio) modelled on El Silencio Natural Reserve, "
                 "Vichada, Colombia: lowland dry forest, savanna and wetlands.\n")


def _rng(seed: int, kind: str, index: int = 0) -> np.random.Generator:
    """Independent generator per (seed, kind, index): files do not depend on write order."""
    return np.random.default_rng([seed, zlib.crc32(kind.encode()), index])


# ---------------------------------------------------------------- synthesis
def synth_call(sp: Species, rng) -> np.ndarray:
    """One call of ``sp`` with ±5 % pitch and ±10 % timing jitter; active RMS 1."""
    pitch, stretch = 1 + rng.uniform(-0.05, 0.05), 1 + rng.uniform(-0.1, 0.1)
    syl, gap = sp.syl_s * stretch, sp.gap_s * stretch
    period = syl + gap
    t = np.arange(int(round((sp.n_syl * period - gap) * SR))) / SR
    k = np.minimum(t // period, sp.n_syl - 1)
    tau = t - k * period
    u = np.clip(tau / syl, 0.0, 1.0)
    freq = sp.f0 * pitch * (1 + sp.step * k) * (1 + sp.bend * _SHAPES[sp.shape](u))
    if sp.fm_depth:
        freq = freq * (1 + sp.fm_depth * np.sin(2 * np.pi * sp.fm_hz * t))
    phase = 2 * np.pi * np.cumsum(freq) / SR
    top = freq.max()
    wave = sum(a * np.sin(h * phase) for h, a in enumerate(sp.harmonics, 1) if h * top < 0.47 * SR)
    env = np.where(tau < syl, np.sin(np.pi * u) ** 2, 0.0)
    call = wave * env
    return call / (np.sqrt(np.mean(call[env > 0.1] ** 2)) + 1e-9)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.float32(np.sqrt(np.mean(np.square(x, dtype=np.float64))) + 1e-12)


def _slow_curve(rng, n: int, knot_s: float, lo: float, hi: float) -> np.ndarray:
    """Random values every ``knot_s`` seconds, linearly joined (at 1 ms steps), in [lo, hi]."""
    knots = rng.uniform(lo, hi, int(n / SR / knot_s) + 2)
    coarse = np.interp(np.arange(0, n, 32), np.linspace(0, n, knots.size), knots)
    return np.repeat(coarse.astype(np.float32), 32)[:n]


def _iir(b, a, x: np.ndarray) -> np.ndarray:
    """``lfilter`` kept in float32 (noise does not need float64, and it is twice as fast)."""
    return lfilter(np.asarray(b, np.float32), np.asarray(a, np.float32), x)


def _white(rng, n: int) -> np.ndarray:
    """Uniform white noise of unit variance (cheaper than Gaussian, same spectrum)."""
    return (rng.random(n, dtype=np.float32) - np.float32(0.5)) * np.float32(12 ** 0.5)


def wind_noise(rng, n: int) -> np.ndarray:
    """Low-passed brownian noise with slow gusts."""
    low = _iir([0.1], [1.0, -0.9], _iir([1.0], [1.0, -0.99], _white(rng, n)))
    return _unit((low - low.mean()) * _slow_curve(rng, n, 1.5, 0.1, 1.0))


def rain_noise(rng, n: int) -> np.ndarray:
    """White-ish hiss plus random droplet clicks."""
    hiss = _iir([1.0, -0.6], [1.0], _white(rng, n))
    drops = np.zeros(n, np.float32)
    idx = rng.integers(0, n, int(rng.uniform(5, 40) * n / SR))
    drops[idx] = rng.uniform(0.5, 3.0, idx.size) * rng.choice([-1.0, 1.0], idx.size)
    r, w = 0.995, 2 * np.pi * rng.uniform(1500, 6000) / SR   # each drop rings for a few ms
    clicks = _iir([1.0], [1.0, -2 * r * np.cos(w), r * r], drops)
    return _unit(_unit(hiss) + 1.5 * _unit(clicks))


def chorus_noise(rng, n: int) -> np.ndarray:
    """Continuous insect chorus: a narrow noise band at 3.5-9 kHz, pulsing at 30-60 Hz."""
    w, r = 2 * np.pi * rng.uniform(3500, 9000) / SR, 1 - 2 * np.pi * rng.uniform(40, 150) / SR
    resonator = [1.0, -2 * r * np.cos(w), r * r]
    band = _iir([1.0], resonator, _iir([1.0], resonator, _white(rng, n)))
    t = np.arange(n, dtype=np.float32) / np.float32(SR)
    am = np.sin(np.float32(2 * np.pi * rng.uniform(30, 60)) * t + np.float32(rng.uniform(0, 6.3)))
    return _unit(band * (0.55 + 0.45 * am) ** 2 * _slow_curve(rng, n, 4.0, 0.5, 1.0))


def background(rng, n: int) -> np.ndarray:
    """Random mixture of wind, rain and chorus over a faint white floor; RMS 1."""
    mix = 0.05 * _white(rng, n) + np.float32(rng.uniform(0.3, 1.0)) * wind_noise(rng, n)
    if rng.random() < 0.35:
        mix += np.float32(rng.uniform(0.3, 1.0)) * rain_noise(rng, n)
    if rng.random() < 0.5:
        mix += np.float32(rng.uniform(0.1, 0.35)) * chorus_noise(rng, n)
    return _unit(mix)


def _add(track: np.ndarray, call: np.ndarray, start: int) -> None:
    end = min(track.size, start + call.size)
    track[start:end] += call[: end - start]


def _finish(calls: np.ndarray, rng, snr_db: float) -> np.ndarray:
    """Calls (active RMS ~1) plus background at ``snr_db``, peak-normalised to 0.7."""
    mix = calls + background(rng, calls.size) * np.float32(10 ** (-snr_db / 20))
    return (0.7 * mix / np.abs(mix).max()).astype(np.float32)


def render_train(rec: dict, rng) -> np.ndarray:
    """A train recording: calls of the primary species at random times, maybe a quiet other.

    One recording in five (of 8 s or more) stays silent for its first 5 s.
    """
    track = np.zeros(int(rec["seconds"] * SR), np.float32)
    first = WINDOW_S * SR if rec["seconds"] >= 8 and rng.random() < 0.2 else 0
    for _ in range(1 + rng.poisson((track.size - first) / SR / 2.5)):
        call = synth_call(SPECIES[rec["species"]], rng) * rng.uniform(0.6, 1.0)
        _add(track, call, int(rng.integers(first, max(first + 1, track.size - call.size))))
    if rec["secondary"] is not None:
        call = synth_call(SPECIES[rec["secondary"]], rng) * 10 ** (-rng.uniform(12, 20) / 20)
        _add(track, call, int(rng.integers(0, max(1, track.size - call.size))))
    return _finish(track, rng, rng.uniform(0, 15))


def plan_windows(rng, pool, must=(), n_windows=SOUNDSCAPE_S // WINDOW_S) -> list[list[int]]:
    """Species calling in each 5-s window: 0-3 from ``pool``, one window empty, ``must`` all used."""
    counts = rng.choice(4, n_windows, p=[0.2, 0.35, 0.3, 0.15])
    plan = [sorted(rng.choice(pool, min(c, len(pool)), replace=False).tolist()) for c in counts]
    empty = int(rng.integers(n_windows))
    plan[empty] = []
    for s in must:
        if not any(s in w for w in plan):
            others = [i for i in range(n_windows) if i != empty]
            free = [i for i in others if len(plan[i]) < 3] or others
            plan[int(rng.choice(free))].append(int(s))
    return plan


def render_soundscape(rng, pool, must=()) -> tuple[np.ndarray, list]:
    """A 60-s soundscape and its call events ``(species, start_s, end_s)``."""
    track, events = np.zeros(SOUNDSCAPE_S * SR, np.float32), []
    for w, species in enumerate(plan_windows(rng, pool, must)):
        for s in species:
            for _ in range(int(rng.integers(1, 3))):
                call = synth_call(SPECIES[s], rng) * 10 ** (-rng.uniform(0, 6) / 20)
                dur = call.size / SR
                lo = max(0.0, w * WINDOW_S - SPILL_S)
                hi = min(SOUNDSCAPE_S - dur, (w + 1) * WINDOW_S - dur + SPILL_S)
                start = rng.uniform(lo, max(lo, hi))
                _add(track, call, int(start * SR))
                events.append((s, start, start + dur))
    return _finish(track, rng, rng.uniform(5, 15)), events


def window_labels(events, n_species: int) -> np.ndarray:
    """(12, n_species) 0/1: a call overlaps the window by MIN_OVERLAP_S (or its whole length)."""
    y = np.zeros((SOUNDSCAPE_S // WINDOW_S, n_species), dtype=np.int64)
    for s, start, end in events:
        for w in range(y.shape[0]):
            overlap = min(end, (w + 1) * WINDOW_S) - max(start, w * WINDOW_S)
            if overlap >= min(MIN_OVERLAP_S, end - start - 1e-6):
                y[w, s] = 1
    return y


# ---------------------------------------------------------------- ogg output
_BITREV = bytes(int(f"{i:08b}"[::-1], 2) for i in range(256))


def _ogg_crc(page: bytes) -> int:
    """Ogg's CRC-32 (poly 0x04C11DB7, MSB first, init 0) via zlib's reflected CRC."""
    raw = zlib.crc32(page.translate(_BITREV), 0xFFFFFFFF) ^ 0xFFFFFFFF
    return int(f"{raw:032b}"[::-1], 2)


def set_ogg_serial(data: bytes, serial: int) -> bytes:
    """Replace libsndfile's random Ogg stream serial so that files are reproducible."""
    buf, pos = bytearray(data), 0
    while pos < len(buf):
        if buf[pos:pos + 4] != b"OggS":
            raise ValueError(f"not an Ogg page at byte {pos}")
        n_seg = buf[pos + 26]
        end = pos + 27 + n_seg + sum(buf[pos + 27:pos + 27 + n_seg])
        buf[pos + 14:pos + 18] = serial.to_bytes(4, "little")
        buf[pos + 22:pos + 26] = bytes(4)
        buf[pos + 22:pos + 26] = _ogg_crc(bytes(buf[pos:end])).to_bytes(4, "little")
        pos = end
    return bytes(buf)


def write_ogg(path: Path, audio: np.ndarray) -> None:
    """32 kHz mono OGG Vorbis, with a serial derived from the file name."""
    mem = io.BytesIO()
    sf.write(mem, audio, SR, format="OGG", subtype="VORBIS")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(set_ogg_serial(mem.getvalue(), zlib.crc32(path.name.encode()) & 0x7FFFFFFF))


# ---------------------------------------------------------------- tables
def taxonomy_table() -> pd.DataFrame:
    rows = [(s.label, s.inat_taxon_id, s.scientific_name, s.common_name, s.class_name) for s in SPECIES]
    return pd.DataFrame(rows, columns=TAXONOMY_COLUMNS)


def _unique_id(rng, used: set, collection: str) -> str:
    digits = {"XC": 6, "iNat": 6, "CSA": 5}[collection]
    while True:
        rec_id = f"{collection}{int(rng.integers(10 ** (digits - 1), 10 ** digits))}"
        if rec_id not in used:
            used.add(rec_id)
            return rec_id


def _url(collection: str, rec_id: str) -> str:
    num = rec_id.removeprefix(collection)
    return {"XC": f"https://xeno-canto.org/{num}",
            "iNat": f"https://static.inaturalist.org/sounds/{num}.wav",
            "CSA": f"https://colecciones.humboldt.org.co/rec/sonidos/IAvH-CSA-{num}.wav"}[collection]


def _train_row(rng, sp_idx: int, used: set) -> dict:
    """One train.csv row plus the hidden fields the renderer needs."""
    sp = SPECIES[sp_idx]
    bird = sp.class_name == "Aves"
    collection = str(rng.choice(["XC", "iNat", "CSA"], p=[0.7, 0.25, 0.05] if bird else [0.3, 0.5, 0.2]))
    rec_id = _unique_id(rng, used, collection)
    others = [i for i in range(len(SPECIES)) if i != sp_idx]
    secondary = int(rng.choice(others)) if rng.random() < 0.3 else None
    types = _BIRD_TYPES if bird else _OTHER_TYPES
    short = rng.random() < 0.1
    return {
        "primary_label": sp.label,
        "secondary_labels": str([SPECIES[secondary].label] if secondary is not None else [""]),
        "type": str(types[int(rng.integers(len(types)))]),
        "filename": f"{sp.label}/{rec_id}.ogg", "collection": collection,
        "rating": 0.0 if rng.random() < 0.15 else float(rng.choice(np.arange(2.5, 5.5, 0.5))),
        "url": _url(collection, rec_id),
        "latitude": round(float(rng.normal(5.0, 2.0)), 4),
        "longitude": round(float(rng.normal(-73.0, 2.0)), 4),
        "scientific_name": sp.scientific_name, "common_name": sp.common_name,
        "author": _AUTHORS[int(rng.integers(len(_AUTHORS)))], "license": "cc-by-nc-sa 4.0",
        "species": sp_idx, "secondary": secondary,
        "seconds": round(float(rng.uniform(2, 4) if short else rng.uniform(5, 13)), 2),
    }


def plan_train(seed: int, scale: float) -> list[dict]:
    """Rows of train.csv (long-tailed counts x scale, at least 1 each), sorted by filename."""
    rng, used = _rng(seed, "train-plan"), set()
    rows = [_train_row(rng, i, used) for i, sp in enumerate(SPECIES)
            for _ in range(max(1, int(round(sp.n_train * scale))))]
    if all(r["secondary"] is None for r in rows):  # guarantee one secondary label
        rows[0]["secondary"] = (rows[0]["species"] + 1) % len(SPECIES)
        rows[0]["secondary_labels"] = str([SPECIES[rows[0]["secondary"]].label])
    return sorted(rows, key=lambda r: r["filename"])


def plan_test_pools(rng, n_test: int) -> list[tuple[list[int], list[int]]]:
    """(pool, must) per test file: every species with >1 train recording is in some ``must``."""
    cover = [i for i, sp in enumerate(SPECIES) if sp.n_train > 1]
    perm = rng.permutation(cover)
    pools = []
    for f in range(n_test):
        must = sorted(perm[f::n_test].tolist())
        extra = [int(s) for s in rng.permutation(cover) if s not in must][: max(0, 5 - len(must))]
        pools.append((sorted(must + extra), must))
    return pools


def _soundscape_names(rng, n_train_ss: int, n_test: int) -> tuple[list[str], list[str]]:
    train = set()
    while len(train) < n_train_ss:
        day = np.datetime64("2023-04-01") + int(rng.integers(0, 90))
        train.add(f"H{int(rng.integers(1, 21)):02d}_{str(day).replace('-', '')}_"
                  f"{int(rng.integers(0, 24)):02d}{int(rng.integers(0, 6)) * 10:02d}00")
    test = [f"soundscape_{i}" for i in rng.choice(np.arange(10000, 999999), n_test, replace=False)]
    return sorted(train), sorted(test)


def submission_tables(test_stems, labels) -> tuple[pd.DataFrame, pd.DataFrame]:
    """sample_submission (1/n_species everywhere) and solution (0/1) for the test windows."""
    columns = [sp.label for sp in SPECIES]
    row_ids = [f"{stem}_{end}" for stem in test_stems for end in range(WINDOW_S, SOUNDSCAPE_S + 1, WINDOW_S)]
    y = np.concatenate(labels) if labels else np.zeros((0, len(columns)), dtype=np.int64)
    sample = pd.DataFrame(np.full(y.shape, 1.0 / len(columns)), columns=columns)
    solution = pd.DataFrame(y, columns=columns)
    sample.insert(0, "row_id", row_ids)
    solution.insert(0, "row_id", row_ids)
    return sample, solution


# ---------------------------------------------------------------- folder
def _audio_jobs(seed, rows, train_ss, test_stems, pools, comp: Path) -> list:
    jobs = [(comp / "train_audio" / r["filename"], "train", i, r) for i, r in enumerate(rows)]
    jobs += [(comp / "train_soundscapes" / f"{s}.ogg", "train_ss", i, None) for i, s in enumerate(train_ss)]
    jobs += [(comp / "test_soundscapes" / f"{s}.ogg", "test", i, pools[i]) for i, s in enumerate(test_stems)]
    return [(path, _rng(seed, kind, i), kind, arg) for path, kind, i, arg in jobs]


def _run_job(job):
    """Render and write one file; returns window labels for test soundscapes, else None."""
    path, rng, kind, arg = job
    if kind == "train":
        write_ogg(path, render_train(arg, rng))
        return None
    pool, must = arg if kind == "test" else (list(range(len(SPECIES))), [])
    audio, events = render_soundscape(rng, pool, must)
    write_ogg(path, audio)
    return window_labels(events, len(SPECIES)) if kind == "test" else None


def _write_all(tmp: Path, seed, n_test, n_train_ss, scale) -> dict:
    comp = tmp / COMPETITION
    rows = plan_train(seed, scale)
    names_rng = _rng(seed, "soundscape-plan")
    train_ss, test_stems = _soundscape_names(names_rng, n_train_ss, n_test)
    pools = plan_test_pools(names_rng, n_test)
    for sub in ("train_audio", "train_soundscapes", "test_soundscapes"):
        (comp / sub).mkdir(parents=True, exist_ok=True)
    jobs = _audio_jobs(seed, rows, train_ss, test_stems, pools, comp)
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        results = list(pool.map(_run_job, jobs))
    taxonomy_table().to_csv(comp / "taxonomy.csv", index=False)
    pd.DataFrame(rows)[TRAIN_COLUMNS].to_csv(comp / "train.csv", index=False)
    sample, solution = submission_tables(test_stems, [r for r in results if r is not None])
    sample.to_csv(comp / "sample_submission.csv", index=False)
    solution.to_csv(tmp / "solution.csv", index=False)
    (comp / "recording_location.txt").write_text(LOCATION_TEXT)
    return {"n_species": len(SPECIES), "n_train": len(rows), "n_test": n_test}


def _read_marker(path: Path):
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def generate_demo_competition(out_dir, *, seed=2025, n_test=8, n_train_soundscapes=3,
                              scale=1.0, overwrite=False) -> dict:
    """Write ``out_dir/birdclef-2025/`` and ``out_dir/solution.csv``; reuse them if complete."""
    t0, out = time.perf_counter(), Path(out_dir)
    params = {"version": FORMAT_VERSION, "seed": int(seed), "n_test": int(n_test),
              "n_train_soundscapes": int(n_train_soundscapes), "scale": float(scale)}
    comp, solution, marker = out / COMPETITION, out / "solution.csv", out / MARKER
    info = {"competition_dir": str(comp), "solution_path": str(solution)}
    found = _read_marker(marker)
    if (not overwrite and found and found.get("params") == params
            and comp.is_dir() and solution.is_file()):
        return {**info, **found["counts"], "seconds": time.perf_counter() - t0, "reused": True}
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f".tmp-demo-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    counts = _write_all(tmp, **{k: params[k] for k in ("seed", "n_test", "scale")},
                        n_train_ss=params["n_train_soundscapes"])
    marker.unlink(missing_ok=True)
    shutil.rmtree(comp, ignore_errors=True)
    os.replace(tmp / COMPETITION, comp)
    os.replace(tmp / "solution.csv", solution)
    tmp.rmdir()
    (out / f"{MARKER}.tmp").write_text(json.dumps({"params": params, "counts": counts}, indent=1))
    os.replace(out / f"{MARKER}.tmp", marker)
    return {**info, **counts, "seconds": time.perf_counter() - t0, "reused": False}


def folder_mb(path) -> float:
    """Total size of the files under ``path``, in MB."""
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file()) / 1e6


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description="Write a synthetic BirdCLEF 2025 competition folder.")
    parser.add_argument("--out", required=True, help="folder that will hold birdclef-2025/ and solution.csv")
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies train recordings per species")
    parser.add_argument("--n-test", type=int, default=8)
    parser.add_argument("--n-train-soundscapes", type=int, default=3)
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    info = generate_demo_competition(args.out, seed=args.seed, n_test=args.n_test, scale=args.scale,
                                     n_train_soundscapes=args.n_train_soundscapes, overwrite=args.overwrite)
    state = "reused existing" if info["reused"] else "wrote"
    print(f"{state} {info['competition_dir']} ({folder_mb(info['competition_dir']):.1f} MB): "
          f"{info['n_species']} species, {info['n_train']} train recordings, {info['n_test']} test "
          f"soundscapes, {args.n_train_soundscapes} train soundscapes")
    print(f"ground truth: {info['solution_path']}")
    print(f"took {info['seconds']:.1f} s")
    return info


if __name__ == "__main__":
    main()
