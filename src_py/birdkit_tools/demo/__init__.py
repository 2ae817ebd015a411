"""A seeded, synthetic BirdCLEF competition folder of any year (2024, 2025, 2026), small enough
for a laptop CPU, in one of several synthesis designs (``designs.DESIGNS``).

``generate_demo_competition(out_dir, year=..., design=...)`` writes ``out_dir/birdclef-<year>/``
in that year's real layout and the ground truth ``out_dir/solution.csv`` outside it. The CLI is
``python -m birdkit_tools.demo_data``.
"""
from .designs import DEFAULT_DESIGN, DESIGNS, Design
from .generate import FORMAT_VERSION, LABELS_FILE, MARKER, competition_name, generate_demo_competition
from .layouts import TAXONOMY_COLUMNS, TRAIN_COLUMNS, YEARS
from .sound import window_labels
from .species import CLASSIC, EXTRAS_2026, Species

__all__ = ["CLASSIC", "DEFAULT_DESIGN", "DESIGNS", "Design", "EXTRAS_2026", "FORMAT_VERSION", "LABELS_FILE",
           "MARKER", "Species", "TAXONOMY_COLUMNS", "TRAIN_COLUMNS", "YEARS", "competition_name",
           "generate_demo_competition", "window_labels"]
