import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
REAL_AUDIO = SHARED / "real_audio"
sys.path.insert(0, str(ROOT / "src_py"))


@pytest.fixture(scope="session")
def root():
    return ROOT


@pytest.fixture(scope="session")
def real_audio():
    if not REAL_AUDIO.is_dir():
        pytest.fail(f"real recordings not found at {REAL_AUDIO} (../shared/real_audio)")
    return REAL_AUDIO


def tone(seconds, sr, freq=1000.0, amp=0.5):
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)
