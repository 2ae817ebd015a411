import shutil
from pathlib import Path

import numpy as np
import pytest

from birdkit_tools.demo_data import generate_demo_competition

ROOT = Path(__file__).resolve().parents[1]
REAL_AUDIO = ROOT / "tests" / "data" / "real_audio"   # in the repository, with its licence notes


@pytest.fixture(scope="session")
def root():
    return ROOT


@pytest.fixture(scope="session")
def real_audio():
    return REAL_AUDIO


@pytest.fixture(scope="session")
def demo_competition(tmp_path_factory):
    """One small demo competition for the whole session (read-only: copy it before changing it)."""
    return generate_demo_competition(tmp_path_factory.mktemp("demo") / "demo", scale=0.3, n_test=2,
                                     n_train_soundscapes=1)


@pytest.fixture
def demo_copy(demo_competition, tmp_path):
    """A private copy of the session's demo competition folder and its solution file."""
    comp = Path(shutil.copytree(demo_competition["competition_dir"], tmp_path / "demo" / "birdclef-2025"))
    solution = Path(shutil.copy(demo_competition["solution_path"], tmp_path / "demo" / "solution.csv"))
    return {**demo_competition, "competition_dir": str(comp), "solution_path": str(solution)}


def tone(seconds, sr, freq=1000.0, amp=0.5):
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)
