import pickle

import numpy as np
import pytest
import torch

from birdkit.config import Config
from birdkit.infer.backends import make_backend
from birdkit.models import (
    CheckpointError,
    build_model,
    load_checkpoint,
    make_contract,
    model_from_checkpoint,
    pool_windows,
    save_checkpoint,
)

CLASSES = ["1139490", "amekes", "bkcdon"]


@pytest.fixture(scope="module")
def cfg():
    return Config(model_name="test_efficientnet", n_mels=64, n_fft=1024, in_chans=3)


@pytest.mark.parametrize("name,in_chans", [("test_efficientnet", 3), ("test_efficientnet", 1),
                                           ("mobilenetv3_small_100", 1)])
def test_model_shapes_and_no_nan(name, in_chans):
    cfg = Config(model_name=name, n_mels=64, n_fft=1024, in_chans=in_chans)
    model = build_model(cfg, CLASSES).eval()
    wave = torch.randn(2, cfg.window_samples)
    assert model.image(wave).shape == (2, in_chans, 64, cfg.n_frames)
    out = model(torch.cat([wave, torch.zeros(1, cfg.window_samples)]))  # digital silence too
    assert out.shape == (3, 3) and torch.isfinite(out).all()


@pytest.mark.parametrize("name", ["test_efficientnet", "birdkit_cnn"])
def test_sed_head_scores_every_window_of_a_chunk(name):
    cfg = Config(model_name=name, n_mels=64, n_fft=1024, in_chans=1, head="sed", train_seconds=20.0)
    model = build_model(cfg, CLASSES).eval()
    chunks = torch.randn(2, cfg.train_samples)
    with torch.no_grad():
        assert model.clip_logits(chunks).shape == (2, 3)
        windows = model(chunks)
        assert windows.shape == (2 * 4, 3) and torch.isfinite(windows).all()   # 4 five-second windows each
        with pytest.raises(ValueError, match="whole number"):
            model(torch.randn(1, cfg.window_samples + 1))


def test_window_pooling_by_hand():
    cla = torch.tensor([[[0.0, 2.0, 4.0, 6.0]]])          # one class, 4 frames -> 2 windows
    att = torch.zeros_like(cla)                            # equal attention: attention = mean
    assert pool_windows(att, cla, 2, "max").flatten().tolist() == [2.0, 6.0]
    assert pool_windows(att, cla, 2, "mean").flatten().tolist() == [1.0, 5.0]
    assert pool_windows(att, cla, 2, "attention").flatten().tolist() == [1.0, 5.0]
    att = torch.tensor([[[0.0, 10.0, 10.0, 0.0]]])         # attention on the 2nd and 3rd frame
    assert torch.allclose(pool_windows(att, cla, 2, "attention").flatten(), torch.tensor([2.0, 4.0]), atol=1e-3)
    odd = pool_windows(torch.zeros(1, 1, 5), torch.arange(5.0).view(1, 1, 5), 2, "max")
    assert odd.shape == (1, 2, 1) and odd[0, 1, 0] == 4.0  # 5 frames are resampled into 2 windows


def test_seed_shape_is_3x128x313():
    cfg = Config(model_name="test_efficientnet")
    model = build_model(cfg, CLASSES)
    assert model.image(torch.zeros(1, cfg.window_samples)).shape == (1, 3, 128, 313)


def test_checkpoint_round_trip_carries_contract(tmp_path, cfg):
    model = build_model(cfg, CLASSES).eval()
    path = save_checkpoint(tmp_path / "m.pth", model, make_contract(cfg, CLASSES), epoch=3)
    loaded, contract = model_from_checkpoint(path)
    assert contract["classes"] == CLASSES and contract["mel"]["n_mels"] == 64
    assert contract["model_name"] == "test_efficientnet" and contract["config"]["seed"] == cfg.seed
    wave = torch.randn(2, cfg.window_samples)
    with torch.no_grad():
        assert torch.allclose(model(wave), loaded(wave))
    assert not list(tmp_path.glob("*.tmp"))


def test_band_norm_ignores_a_fixed_filter_and_travels_in_the_checkpoint(tmp_path):
    from birdkit.models.frontend import MelSettings, mel_image
    db = torch.randn(2, 16, 40) * 10 - 40
    tilt = torch.linspace(0, -30, 16)[:, None]        # a far-away call: the high bands 30 dB down
    plain, normed = MelSettings(top_db=80.0), MelSettings(top_db=80.0, band_norm=True)
    assert torch.allclose(mel_image(db + tilt, normed), mel_image(db, normed), atol=1e-5)
    assert not torch.allclose(mel_image(db + tilt, plain), mel_image(db, plain), atol=1e-2)
    cfg = Config(model_name="birdkit_cnn", n_mels=64, n_fft=1024, in_chans=1, band_norm=True)
    model = build_model(cfg, CLASSES).eval()
    loaded, contract = model_from_checkpoint(save_checkpoint(tmp_path / "m.pth", model, make_contract(cfg, CLASSES)))
    assert contract["mel"]["band_norm"] and loaded.mel.band_norm
    wave = torch.randn(2, cfg.window_samples)
    with torch.no_grad():
        assert torch.allclose(model(wave), loaded(wave))
    assert MelSettings.from_dict({k: v for k, v in contract["mel"].items() if k != "band_norm"}).band_norm is False


class Exploit:
    def __reduce__(self):
        return (print, ("pwned: code ran while unpickling",))


def test_crafted_pickle_is_refused(tmp_path, capsys):
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": {}, "contract": Exploit()}, path)
    with pytest.raises(CheckpointError, match="refusing to load .*evil.pth"):
        load_checkpoint(path)
    assert "pwned" not in capsys.readouterr().out
    raw = tmp_path / "raw.pth"
    raw.write_bytes(pickle.dumps(Exploit()))
    with pytest.raises(CheckpointError, match="refusing"):
        load_checkpoint(raw)


@pytest.mark.slow
@pytest.mark.parametrize("head", ["classifier", "sed"])
def test_backends_equal_torch(tmp_path, head):
    cfg = Config(model_name="test_efficientnet", n_mels=64, n_fft=1024, in_chans=3, head=head, train_seconds=10.0)
    torch.manual_seed(0)
    model = build_model(cfg, CLASSES).eval()
    for p in model.parameters():   # give the random head real spread
        p.data.normal_(0, 0.2)
    chunk = cfg.train_samples if head == "sed" else cfg.window_samples
    waves = np.random.default_rng(0).normal(0, 0.1, (3, chunk)).astype(np.float32)
    ref = make_backend(model, "torch", chunk, tmp_path)(waves)
    assert np.abs(ref).max() > 1e-2 and ref.shape == (3 * chunk // cfg.window_samples, 3)
    for name in ("onnxruntime", "openvino"):
        for in_graph in (False, True):   # window-logits graph (images in), and the whole waveform-in graph
            backend = make_backend(model, name, chunk, tmp_path / f"{name}{in_graph}", frontend_in_graph=in_graph)
            assert backend.name == name
            out = backend(waves)
            assert out.shape == ref.shape
            np.testing.assert_allclose(out, ref, atol=1e-4, rtol=1e-4)


@pytest.mark.slow
def test_openvino_graph_is_saved_with_fp32_weights(tmp_path, cfg):
    """The backend runs the IR it saved (worker processes reload it): fp16-compressed weights,
    OpenVINO's save default, would shift scores by ~1e-3 relative to torch."""
    import openvino as ov
    model = build_model(cfg, CLASSES).eval()
    backend = make_backend(model, "openvino", cfg.window_samples, tmp_path)
    constants = [op for op in ov.Core().read_model(backend.graph_path).get_ops()
                 if op.get_type_name() == "Constant"]
    assert constants and not [op for op in constants if op.get_element_type() == ov.Type.f16]
