"""Predictions on every real recording in tests/data/real_audio: finite, in [0, 1], and
one row per 5-s window (ceil(duration / 5)), the 120-s 48 kHz soundscape and 10-s silence included."""
import math

import numpy as np
import pytest
import soundfile as sf
import torch

from birdkit.config import Config
from birdkit.data.windows import row_ids
from birdkit.infer.predict import AUDIO_SUFFIXES, list_audio, load_ensemble, predict_soundscapes
from birdkit.models import build_model, make_contract, save_checkpoint

CLASSES = ["1139490", "amerob", "grekis"]


@pytest.fixture(scope="module")
def cfg():
    return Config(model_name="test_efficientnet", n_mels=64, n_fft=1024)


@pytest.fixture(scope="module")
def ensemble(cfg, tmp_path_factory):
    torch.manual_seed(0)
    work = tmp_path_factory.mktemp("real_audio_model")
    path = save_checkpoint(work / "tiny.pth", build_model(cfg, CLASSES), make_contract(cfg, CLASSES))
    return load_ensemble([path], "torch", work)


def test_every_real_recording_gets_one_finite_row_per_window(real_audio, cfg, ensemble):
    files = list_audio(real_audio)
    assert len(files) == sum(1 for p in real_audio.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES) >= 11
    expected = {f.name: math.ceil(sf.info(str(f)).duration / cfg.window_seconds) for f in files}
    assert expected["birdnet_soundscape_120s.ogg"] == 24 and expected["silence_10s.mp3"] == 2

    result = predict_soundscapes(files, ensemble, cfg, progress=False)
    assert result.skipped == []
    sub = result.submission
    assert len(sub) == sum(expected.values())
    start = 0
    for f in files:  # rows come in file order; the five 21100_36_48.* share a stem, so slice
        n = expected[f.name]
        assert sub["row_id"].iloc[start:start + n].tolist() == row_ids(f.stem, n, cfg.window_seconds), f.name
        probs = sub[CLASSES].iloc[start:start + n].to_numpy()
        assert np.isfinite(probs).all() and (probs >= 0).all() and (probs <= 1).all(), f.name
        start += n
    assert start == len(sub)
