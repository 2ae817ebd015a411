"""The demo competition's command line (the code is in ``birdkit_tools.demo``).

``python -m birdkit_tools.demo_data --out data/demo [--year 2024|2025|2026] [--design field|classic|field-b]
[--seed N] [--scale X] [--n-test N] [--n-train-soundscapes N] [--n-labelled N] [--overwrite]``

writes ``<out>/birdclef-<year>/`` in that year's layout and ``<out>/solution.csv``, the ground
truth of its test soundscapes. The same parameters give byte-identical files.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from .demo import DEFAULT_DESIGN, DESIGNS, YEARS, generate_demo_competition

__all__ = ["generate_demo_competition", "main"]


def folder_mb(path) -> float:
    """Total size of the files under ``path``, in MB."""
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file()) / 1e6


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description="Write a synthetic BirdCLEF competition folder.")
    parser.add_argument("--out", required=True, help="folder that will hold birdclef-<year>/ and solution.csv")
    parser.add_argument("--year", type=int, default=2025, choices=YEARS, help="the folder layout")
    parser.add_argument("--design", default=DEFAULT_DESIGN, choices=sorted(DESIGNS),
                        help="synthesis design (field-b: held out, never tune on it)")
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies train recordings per species")
    parser.add_argument("--n-test", type=int, default=None, help="test soundscapes (default: the design's)")
    parser.add_argument("--n-train-soundscapes", type=int, default=None, help="unlabelled train soundscapes")
    parser.add_argument("--n-labelled", type=int, default=None, help="labelled one-minute soundscapes")
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    info = generate_demo_competition(args.out, year=args.year, design=args.design, seed=args.seed,
                                     n_test=args.n_test, n_train_soundscapes=args.n_train_soundscapes,
                                     n_labelled=args.n_labelled, scale=args.scale, overwrite=args.overwrite)
    state = "reused existing" if info["reused"] else "wrote"
    print(f"{state} {info['competition_dir']} ({folder_mb(info['competition_dir']):.1f} MB), design "
          f"{info['design']}: {info['n_species']} species ({len(info['untrained_classes'])} without training "
          f"audio), {info['n_train']} train recordings, {info['n_test']} test soundscapes, "
          f"{info['n_train_soundscapes']} unlabelled and {info['n_labelled']} labelled train soundscapes")
    print(f"ground truth: {info['solution_path']}")
    print(f"took {info['seconds']:.1f} s")
    return info


if __name__ == "__main__":
    main()
