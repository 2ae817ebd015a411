"""Inference in worker processes: same rows as in-process, reused pool, clean errors."""
import dataclasses
import pickle
import shutil

import numpy as np
import pytest
import torch
import torchaudio.transforms as T

from birdkit.config import Config, ConfigError
from birdkit.data.audio import AudioError, clean, load_audio
from birdkit.infer import predict
from birdkit.infer.predict import (
    AUTO_POOL_MIN_FILES,
    Plan,
    cpu_cores,
    inference_plan,
    load_ensemble,
    predict_soundscapes,
    worker_count,
)
from birdkit.models import build_model, make_contract, save_checkpoint
from birdkit.models.frontend import MelFrontEnd, MelSettings

pytestmark = pytest.mark.slow  # starts inference worker pools

CLASSES = ["1139490", "amekes", "bkcdon"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory, real_audio):
    tmp = tmp_path_factory.mktemp("pool")
    cfg = Config(model_name="test_efficientnet", n_mels=64, n_fft=1024, in_chans=3, tta_views=2)
    torch.manual_seed(0)
    model = build_model(cfg, CLASSES).eval()
    for p in model.backbone.parameters():  # spread the random scores so differences would show
        p.data.normal_(0, 0.2)
    ckpt = save_checkpoint(tmp / "m.pth", model, make_contract(cfg, CLASSES))
    folder = tmp / "test_soundscapes"
    folder.mkdir()
    for name in ("birdnet_soundscape_120s.ogg", "21100_36_48.mp3", "birds_10s.flac"):
        shutil.copy(real_audio / name, folder / name)
    (folder / "broken.ogg").write_bytes(b"OggS" + bytes(3000))
    return cfg, ckpt, sorted(folder.iterdir()), tmp


@pytest.mark.parametrize("backend", ["torch", "openvino"])
def test_workers_give_the_in_process_submission_and_are_reused(setup, backend):
    cfg, ckpt, files, tmp = setup
    ensemble = load_ensemble([ckpt], backend, tmp / backend)
    try:
        here = predict_soundscapes(files, ensemble, dataclasses.replace(cfg, infer_workers=1), progress=False)
        pooled_cfg = dataclasses.replace(cfg, infer_workers=2)
        pooled = predict_soundscapes(files, ensemble, pooled_cfg, progress=False)
        pool = ensemble._pool
        again = predict_soundscapes(files[:2], ensemble, pooled_cfg, progress=False)
        assert ensemble._pool is pool, "a second call must reuse the running workers"
    finally:
        ensemble.close()
    assert ensemble._pool is None
    assert here.timings["workers"] == 1 and pooled.timings["workers"] == 2
    assert pooled.submission["row_id"].tolist() == here.submission["row_id"].tolist()
    np.testing.assert_allclose(pooled.submission.iloc[:, 1:].to_numpy(), here.submission.iloc[:, 1:].to_numpy(),
                               atol=1e-5)
    assert len(again.submission) == len(pooled.submission[pooled.submission.row_id.str.startswith(
        tuple(f.stem + "_" for f in files[:2]))])
    # the undecodable file is reported from the worker with its reason, and still gets its rows
    assert [(s["filename"], s["reason"]) for s in pooled.skipped] == [("broken.ogg", "undecodable")]
    assert pooled.submission.row_id.str.startswith("broken_").sum() == 12


def test_worker_count():
    assert worker_count(3, 10) == 3
    assert worker_count(4, 2) == 2          # never more workers than files
    assert worker_count(0, 1) == 1
    assert worker_count(0, AUTO_POOL_MIN_FILES - 1) == 1   # a dry run: not worth starting workers
    assert worker_count(0, 700) == cpu_cores()             # Kaggle's rerun: one per usable core
    with pytest.raises(ConfigError, match="infer_workers"):   # refused when the config is built
        Config(infer_workers=-1)


def test_inference_plan_decides_backend_device_workers_and_threads(monkeypatch):
    cfg = Config(backend="openvino", threads=3)
    monkeypatch.setattr(predict, "resolve_backend", lambda name: name)   # as if installed
    monkeypatch.setattr(predict, "gpu_here", lambda: True)
    assert inference_plan(cfg, 700) == Plan("openvino", "cpu", cpu_cores(), 3, "openvino")   # the submission: CPU
    assert inference_plan(cfg, 700, use_gpu=True) == Plan("torch", "cuda", 1, 3, "openvino")  # pseudo-labels
    monkeypatch.setattr(predict, "gpu_here", lambda: False)
    assert inference_plan(cfg, 700, use_gpu=True).device == "cpu"
    assert inference_plan(cfg, 10).workers == inference_plan(cfg).workers == 1
    assert inference_plan(dataclasses.replace(cfg, infer_workers=2), 10).workers == 2
    assert "2 worker processes" in inference_plan(dataclasses.replace(cfg, infer_workers=2), 10).describe()
    monkeypatch.setattr(predict, "resolve_backend", lambda name: "torch")   # openvino missing
    plan = inference_plan(cfg, 10)
    assert (plan.backend, plan.asked) == ("torch", "openvino") and "openvino is not installed" in plan.describe()


def test_audio_error_survives_pickling():
    err = pickle.loads(pickle.dumps(AudioError("x.ogg", "undecodable", "detail")))
    assert (err.path, err.reason, err.detail, str(err)) == ("x.ogg", "undecodable", "detail",
                                                            "x.ogg: undecodable (detail)")


def test_clean_mono_stereo_and_repairs():
    mono = np.array([[0.5], [-1.0], [1.0]], dtype=np.float32)
    assert clean(mono).tolist() == [0.5, -1.0, 1.0]
    stereo = np.array([[0.5, -0.5], [1.0, 0.0]], dtype=np.float32)
    assert clean(stereo).tolist() == [0.0, 0.5]
    bad = np.array([[np.nan], [np.inf], [-np.inf], [3.0], [-1e30], [0.25]], dtype=np.float32)
    assert clean(bad).tolist() == [0.0, 0.0, 0.0, 1.0, -1.0, 0.25]
    assert clean(bad).dtype == np.float32


def test_front_end_equals_torchaudio_reference(real_audio):
    """The faster power spectrum gives torchaudio's MelSpectrogram + AmplitudeToDB."""
    mel = dict(sample_rate=32000, n_mels=128, fmin=20, fmax=16000, n_fft=2048, hop_length=512)
    wave = torch.from_numpy(load_audio(real_audio / "birds_10s.flac", 32000)[:2 * 160000].reshape(2, -1))
    ref = T.AmplitudeToDB(stype="power", top_db=None)(
        T.MelSpectrogram(32000, n_fft=2048, hop_length=512, f_min=20, f_max=16000, n_mels=128)(wave))
    out = MelFrontEnd(MelSettings(**mel))(wave)
    assert out.shape == ref.shape == (2, 128, 313)
    np.testing.assert_allclose(out.numpy(), ref.clamp_min(-100).numpy(), atol=1e-3)
