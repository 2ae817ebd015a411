"""Planning and writing a demo competition folder (any year, any design), reproducibly.

Every file has its own random generator, derived from (seed, kind, index), so the output does
not depend on the order files are written in and is byte-identical for the same parameters.
"""
from __future__ import annotations

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

from . import layouts as lay
from .designs import DESIGNS, Design
from .oggio import write_ogg
from .sound import WINDOW_S, render_field, render_soundscape, render_train, window_labels

FORMAT_VERSION = 3        # bump when the synthesis changes: old demo folders get rebuilt
MARKER = ".complete"
LABELS_FILE = "train_soundscapes_labels.csv"


def competition_name(year: int) -> str:
    return f"birdclef-{year}"


def _rng(seed: int, kind: str, index: int = 0) -> np.random.Generator:
    """Independent generator per (seed, kind, index): files do not depend on write order."""
    return np.random.default_rng([seed, zlib.crc32(kind.encode()), index])


@dataclass(frozen=True)
class Scape:
    """One soundscape to render: where it goes, how long, where and when, what calls in it."""

    kind: str                 # train_ss | labelled | test
    index: int
    stem: str
    seconds: int
    must: tuple = ()          # species that call in it at least once
    pool: tuple = ()          # classic: species drawn uniformly
    weights: tuple = ()       # field: species drawn by prevalence (site x hour)


# ---------------------------------------------------------------- training recordings
def plan_train(seed: int, scale: float, species, year: int, design: Design) -> list[dict]:
    """Metadata rows (long-tailed counts x scale, at least 1 unless a class has none), by filename."""
    rng, used = _rng(seed, "train-plan"), set()
    rows = [lay.train_row(rng, i, species, used, year) for i, sp in enumerate(species) if sp.n_train > 0
            for _ in range(max(1, int(round(sp.n_train * scale))))]
    if all(r["secondary"] is None for r in rows):  # guarantee one secondary label
        rows[0]["secondary"] = (rows[0]["species"] + 1) % len(species)
        rows[0]["secondary_labels"] = str([species[rows[0]["secondary"]].label])
    rows = sorted(rows, key=lambda r: r["filename"])
    if design.rate_44k_share or design.stereo_share:
        fmt = _rng(seed, "train-format")
        for r in rows:
            r["sample_rate"] = 44100 if fmt.random() < design.rate_44k_share else 32000
            r["channels"] = 2 if fmt.random() < design.stereo_share else 1
    return rows


# ---------------------------------------------------------------- soundscapes
def _cover(species) -> list[int]:
    """Species every test set must hold: all but singletons (classes without audio included)."""
    return [i for i, sp in enumerate(species) if sp.n_train != 1]


def plan_test_pools(rng, n_test: int, species) -> list[tuple[list[int], list[int]]]:
    """(pool, must) per classic test file: every covered species is in some ``must``."""
    cover = _cover(species)
    perm = rng.permutation(cover)
    pools = []
    for f in range(n_test):
        must = sorted(perm[f::n_test].tolist())
        extra = [int(s) for s in rng.permutation(cover) if s not in must][: max(0, 5 - len(must))]
        pools.append((sorted(must + extra), must))
    return pools


def _untrained_must(species, n_files: int) -> list[list[int]]:
    """Classes without training audio, spread over the labelled files (each in at least one)."""
    cold = [i for i, sp in enumerate(species) if sp.n_train == 0]
    return [cold[f::n_files] for f in range(n_files)] if n_files else []


def plan_classic(seed, year, species, n_test, n_train_ss, n_labelled) -> list[Scape]:
    """The first demo's soundscapes: species drawn uniformly, close to the microphone."""
    rng = _rng(seed, "soundscape-plan")
    if year == 2025:
        train_ss, test_stems = lay.classic_names(rng, n_train_ss, n_test)
    else:
        train_ss, test_stems = _stems(rng, year, "train_ss", n_train_ss), _stems(rng, year, "test", n_test)
    pools = plan_test_pools(rng, n_test, species)
    labelled_rng = _rng(seed, "labelled-plan")
    labelled = _stems(labelled_rng, year, "labelled", n_labelled, taken=set(train_ss))
    everyone = tuple(range(len(species)))
    out = [Scape("train_ss", i, s, 60, pool=everyone) for i, s in enumerate(train_ss)]
    out += [Scape("labelled", i, s, 60, must=tuple(m), pool=everyone)
            for i, (s, m) in enumerate(zip(labelled, _untrained_must(species, n_labelled)))]
    seconds = lay.TEST_SECONDS[year]
    out += [Scape("test", i, s, seconds, must=tuple(m), pool=tuple(p)) for i, (s, (p, m)) in
            enumerate(zip(test_stems, pools))]
    return out


def _stems(rng, year, kind, n, taken=None, sites=None) -> list[str]:
    taken = set() if taken is None else taken
    sites = sites or list(range(1, 21))
    out = []
    while len(out) < n:
        number = int(rng.integers(1, 10 ** 4)) if year == 2026 else int(rng.integers(10 ** 5, 10 ** 6))
        stem = lay.soundscape_stem(year, kind, number, int(rng.choice(sites)), int(rng.integers(24)), rng)
        if stem not in taken:
            taken.add(stem)
            out.append(stem)
    return sorted(out)


def activity(class_name: str, hour: int) -> float:
    """How much a class calls at ``hour``: birds by day, frogs and insects by night, mammals at dusk."""
    day = 5 <= hour <= 18
    if class_name == "Aves":
        return 1.0 if day else 0.15
    if class_name in ("Amphibia", "Insecta"):
        return 0.25 if day else 1.0
    return 1.0 if hour in (5, 6, 7, 17, 18, 19) else 0.4


def plan_field(seed, year, design: Design, species, n_test, n_train_ss, n_labelled) -> list[Scape]:
    """Field soundscapes: prevalence skewed (Zipf over a shuffled order) and varying by site and
    hour; labelled files mostly from one site (as 2026's S22); every covered species in a test file."""
    rng = _rng(seed, "field-plan")
    n = len(species)
    sites = sorted(int(s) for s in rng.choice(np.arange(1, 24), design.n_sites, replace=False))
    base = (rng.permutation(n) + 1.0) ** -design.prevalence_skew
    site_factor = rng.lognormal(0.0, design.site_spread, (len(sites), n))
    perm = rng.permutation(_cover(species))
    test_must = [sorted(int(s) for s in perm[f::n_test]) for f in range(n_test)]
    labelled_must = _untrained_must(species, n_labelled)
    out, taken = [], set()
    for kind, count in (("train_ss", n_train_ss), ("labelled", n_labelled), ("test", n_test)):
        for i in range(count):
            site = 0 if kind == "labelled" and rng.random() < 0.6 else int(rng.integers(len(sites)))
            hour = int(rng.integers(24))
            weights = base * site_factor[site] * np.array([activity(sp.class_name, hour) for sp in species])
            stem = None
            while stem is None or stem in taken:
                number = int(rng.integers(1, 10 ** 4)) if year == 2026 else int(rng.integers(10 ** 5, 10 ** 6))
                stem = lay.soundscape_stem(year, kind, number, sites[site], hour, rng)
            taken.add(stem)
            must = test_must[i] if kind == "test" else labelled_must[i] if kind == "labelled" else []
            seconds = lay.TEST_SECONDS[year] if kind == "test" else 60
            out.append(Scape(kind, i, stem, seconds, must=tuple(must), weights=tuple(weights.round(6))))
    return sorted(out, key=lambda s: (s.kind, s.stem))


# ---------------------------------------------------------------- writing
def _jobs(seed, comp: Path, year, rows, scapes) -> list:
    folder = {"train_ss": lay.SOUNDSCAPE_DIR[year], "labelled": lay.SOUNDSCAPE_DIR[year], "test": "test_soundscapes"}
    jobs = [(comp / "train_audio" / r["filename"], "train", i, r) for i, r in enumerate(rows)]
    jobs += [(comp / folder[s.kind] / f"{s.stem}.ogg", s.kind, s.index, s) for s in scapes]
    return [(path, _rng(seed, kind, i), kind, arg) for path, kind, i, arg in jobs]


def _run_job(job, species, design: Design, unknown):
    """Render and write one file; returns window labels for test and labelled soundscapes."""
    path, rng, kind, arg = job
    if kind == "train":
        write_ogg(path, render_train(arg, species, rng, design.late_prob), arg.get("sample_rate", 32000))
        return None
    if arg.weights:
        audio, events = render_field(rng, species, np.asarray(arg.weights), arg.must, arg.seconds, design, unknown)
    else:
        audio, events = render_soundscape(rng, species, list(arg.pool), arg.must, arg.seconds)
    write_ogg(path, audio)
    return window_labels(events, len(species), arg.seconds // WINDOW_S) if kind != "train_ss" else None


def _write_all(tmp: Path, year: int, design: Design, seed, n_test, n_train_ss, n_labelled, scale) -> dict:
    comp = tmp / competition_name(year)
    species = design.species(year)
    rows = plan_train(seed, scale, species, year, design)
    if design.field:
        scapes = plan_field(seed, year, design, species, n_test, n_train_ss, n_labelled)
    else:
        scapes = plan_classic(seed, year, species, n_test, n_train_ss, n_labelled)
    for sub in ("train_audio", lay.SOUNDSCAPE_DIR[year], "test_soundscapes"):
        (comp / sub).mkdir(parents=True, exist_ok=True)
    jobs, unknown = _jobs(seed, comp, year, rows, scapes), design.unknown()
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        results = list(pool.map(lambda job: _run_job(job, species, design, unknown), jobs))
    found = {(s.kind, s.stem): y for s, y in zip(scapes, results[len(rows):])}
    _write_tables(comp, tmp, year, seed, species, rows, scapes, found)
    return {"year": year, "design": design.name, "n_species": len(species), "n_train": len(rows),
            "n_test": n_test, "n_train_soundscapes": n_train_ss, "n_labelled": n_labelled,
            "untrained_classes": [sp.label for sp in species if sp.n_train == 0]}


def _write_tables(comp, tmp, year, seed, species, rows, scapes, found) -> None:
    if year == 2024:
        lay.ebird_table(species, _rng(seed, "ebird")).to_csv(comp / "eBird_Taxonomy_v2021.csv", index=False)
    else:
        lay.taxonomy_table(species).to_csv(comp / "taxonomy.csv", index=False)
    columns = lay.TRAIN_COLUMNS[year]
    pd.DataFrame(rows, columns=list(rows[0]) if rows else columns)[columns].to_csv(
        comp / lay.METADATA_FILE[year], index=False)
    tests = sorted(s.stem for s in scapes if s.kind == "test")
    sample, solution = lay.submission_tables(tests, [found[("test", t)] for t in tests], species,
                                             lay.TEST_SECONDS[year])
    sample.to_csv(comp / "sample_submission.csv", index=False)
    solution.to_csv(tmp / "solution.csv", index=False)
    labelled = sorted(s.stem for s in scapes if s.kind == "labelled")
    if labelled:  # the last file is labelled only in part, like 7 of 2026's 66
        files = [(f"{stem}.ogg", found[("labelled", stem)], 6 if k == len(labelled) - 1 and k else 12)
                 for k, stem in enumerate(labelled)]
        lay.labels_table(files, species).to_csv(comp / LABELS_FILE, index=False)
    (comp / "recording_location.txt").write_text(lay.LOCATION_TEXT[year])


def _read_marker(path: Path):
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def generate_demo_competition(out_dir, *, year=2025, design="field", seed=2025, n_test=None,
                              n_train_soundscapes=None, n_labelled=None, scale=1.0, overwrite=False) -> dict:
    """Write ``out_dir/birdclef-<year>/`` and ``out_dir/solution.csv``; reuse them if complete.

    ``None`` counts take the design's defaults (``designs.DESIGNS``)."""
    t0, out, spec = time.perf_counter(), Path(out_dir), DESIGNS[design]
    if year not in lay.YEARS:
        raise ValueError(f"year must be one of {lay.YEARS}, got {year}")
    params = {"version": FORMAT_VERSION, "year": int(year), "design": design, "seed": int(seed),
              "n_test": int(spec.n_test if n_test is None else n_test),
              "n_train_soundscapes": int(spec.n_train_soundscapes if n_train_soundscapes is None
                                         else n_train_soundscapes),
              "n_labelled": int(spec.n_labelled_for(year) if n_labelled is None else n_labelled),
              "scale": float(scale)}
    comp, solution, marker = out / competition_name(year), out / "solution.csv", out / MARKER
    info = {"competition_dir": str(comp), "solution_path": str(solution)}
    found = _read_marker(marker)
    if not overwrite and found and found.get("params") == params and comp.is_dir() and solution.is_file():
        return {**info, **found["counts"], "seconds": time.perf_counter() - t0, "reused": True}
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f".tmp-demo-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    counts = _write_all(tmp, year, spec, params["seed"], params["n_test"], params["n_train_soundscapes"],
                        params["n_labelled"], params["scale"])
    marker.unlink(missing_ok=True)
    for old in out.glob("birdclef-*"):  # a folder of another year or design written here before
        shutil.rmtree(old, ignore_errors=True)
    os.replace(tmp / competition_name(year), comp)
    os.replace(tmp / "solution.csv", solution)
    tmp.rmdir()
    (out / f"{MARKER}.tmp").write_text(json.dumps({"params": params, "counts": counts}, indent=1))
    os.replace(out / f"{MARKER}.tmp", marker)
    return {**info, **counts, "seconds": time.perf_counter() - t0, "reused": False}
