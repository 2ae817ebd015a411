import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from birdkit_tools.demo_data import generate_demo_competition

ROOT = Path(__file__).resolve().parents[1]
REAL_AUDIO = ROOT / "tests" / "data" / "real_audio"   # in the repository, with its licence notes


@pytest.fixture(scope="session")
def root():
    return ROOT


@pytest.fixture(scope="session")
def real_audio():
    return REAL_AUDIO


SMALL_DEMO = dict(scale=0.3, n_test=2, n_train_soundscapes=1)
FIELD_2026 = dict(year=2026, design="field", n_labelled=2)   # make_demo(**FIELD_2026): the small 2026 demo
FIELD_2024 = dict(year=2024, design="field", n_labelled=2)


@pytest.fixture(scope="session")
def make_demo(tmp_path_factory):
    """``make_demo(year, design, **counts)``: a small demo competition, made once per session for
    each set of arguments (read-only: copy it before changing it)."""
    made = {}

    def make(year=2025, design="classic", **counts):
        key = (year, design, tuple(sorted(counts.items())))
        if key not in made:
            out = tmp_path_factory.mktemp(f"demo-{year}-{design}") / "demo"
            made[key] = generate_demo_competition(out, year=year, design=design, **{**SMALL_DEMO, **counts})
        return made[key]

    return make


@pytest.fixture(scope="session")
def demo_competition(make_demo):
    """The session's small 2025 demo in the classic design (what most tests run on)."""
    return make_demo(2025, "classic")


@pytest.fixture
def demo_copy(demo_competition, tmp_path):
    """A private copy of the session's demo competition folder and its solution file."""
    name = Path(demo_competition["competition_dir"]).name
    comp = Path(shutil.copytree(demo_competition["competition_dir"], tmp_path / "demo" / name))
    solution = Path(shutil.copy(demo_competition["solution_path"], tmp_path / "demo" / "solution.csv"))
    return {**demo_competition, "competition_dir": str(comp), "solution_path": str(solution)}


def tone(seconds, sr, freq=1000.0, amp=0.5):
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write_tone_clips(root, freqs: dict, per_class: int, seconds: float, seed: int, sr: int = 32000,
                     jitter: float = 0.0) -> pd.DataFrame:
    """Species that differ only in pitch: ``per_class`` noisy tone recordings of each label in
    ``root/<label>/``, as a metadata table (``primary_label``, ``secondary``, ``filename``, ``path``)."""
    rng = np.random.default_rng(seed)
    rows = []
    for label, freq in freqs.items():
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pitch = freq * rng.uniform(1 - jitter, 1 + jitter) if jitter else freq
            wave = tone(seconds, sr, pitch, 0.3) + rng.normal(0, 0.05, int(seconds * sr)).astype(np.float32)
            sf.write(root / label / f"XC{i}.wav", wave, sr)
            rows.append({"primary_label": label, "secondary": [], "filename": f"{label}/XC{i}.wav",
                         "path": str(root / label / f"XC{i}.wav")})
    return pd.DataFrame(rows)
