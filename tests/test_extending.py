"""The extension points of docs/extending.md, driven from a test without editing a package file: a
head and a backbone are each one class plus one registry entry; checkpoints carry a ``ModelSpec``,
and contracts written before it still load."""
import numpy as np
import pytest
import soundfile as sf
import torch
from torch import nn

from birdkit.config import Config, ConfigError
from birdkit.data.windows import row_ids
from birdkit.infer.predict import load_ensemble, predict_soundscapes
from birdkit.models import (
    BACKBONES,
    HEADS,
    ExportSignature,
    Head,
    ModelSpec,
    build_model,
    contract_chunk_samples,
    create_backbone,
    make_contract,
    model_from_checkpoint,
    pool_windows,
    save_checkpoint,
)
from birdkit.models.small_cnn import SmallSpectrogramCNN
from birdkit.train.factory import make_training_data
from birdkit.train.loop import LAST_NAME, Trainer
from conftest import tone, write_tone_clips

SR = 32000
CLASSES = ["1139490", "amekes", "grekis"]
FREQS = {"1139490": 6000.0, "amekes": 2000.0, "grekis": 500.0}


class FrameMeanHead(Head):
    """A toy head: frequency averaged, a 1x1 convolution per frame; a clip is its loudest frame, a
    window the mean of its frames. It names its compiled graph's input and output itself."""

    export_signature = ExportSignature(input="image", outputs=("window_logits",))

    def __init__(self, in_features, num_classes):
        super().__init__()
        self.cla = nn.Conv1d(in_features, num_classes, 1)

    def _frames(self, backbone, x):
        return self.cla(backbone.forward_features(x).mean(dim=2))          # [B, K, T']

    def clip_logits(self, backbone, x):
        return self._frames(backbone, x).amax(dim=-1)

    def window_logits(self, backbone, x, windows):
        frames = self._frames(backbone, x)
        return pool_windows(frames, frames, windows, "mean").reshape(-1, frames.shape[1])


class TinyConvNet(nn.Module):
    """A toy backbone with timm's interface (``num_classes`` 0 = features only, ``forward_features``,
    ``num_features``, ``global_pool`` "" = unpooled) and one Config field of its own: a learnt
    offset per mel band (``n_mels``, passed by ``ModelSpec.options``)."""

    config_fields = ("n_mels",)

    def __init__(self, num_classes=0, in_chans=1, drop_rate=0.0, global_pool="avg", n_mels=128, width=8):
        super().__init__()
        self.band_offset = nn.Parameter(torch.zeros(1, 1, n_mels, 1))
        self.features = nn.Sequential(nn.Conv2d(in_chans, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                      nn.Conv2d(width, width, 3, padding=1), nn.ReLU())
        self.num_features, self.global_pool = width, global_pool
        self.fc = nn.Sequential(nn.Dropout(drop_rate), nn.Linear(width, num_classes)) if num_classes else nn.Identity()

    def forward_features(self, x):
        return self.features(x + self.band_offset)

    def forward(self, x):
        x = self.forward_features(x)
        return self.fc(x.mean(dim=(2, 3))) if self.global_pool else x


@pytest.fixture(scope="module")
def tones(tmp_path_factory):
    return write_tone_clips(tmp_path_factory.mktemp("tones"), FREQS, 4, 3.0, seed=0, jitter=0.05)


@pytest.fixture(scope="module")
def soundscape(tmp_path_factory):
    """12 s: a 2 kHz tone, then 500 Hz, then silence (three 5-s windows, the last one short)."""
    path = tmp_path_factory.mktemp("soundscapes") / "S1_20240101_000000.wav"
    sf.write(path, np.concatenate([tone(5.0, SR, 2000.0), tone(5.0, SR, 500.0), np.zeros(2 * SR, np.float32)]), SR)
    return path


def small_cfg(tmp_path, **over):
    values = dict(run_dir=str(tmp_path / "run"), model_name="birdkit_cnn", in_chans=1, n_mels=64, n_fft=1024,
                  data_source="audio", train_seconds=10.0, epochs=2, batch_size=4, lr=3e-3, warmup_epochs=0.0,
                  mixup_alpha=0.0, specaugment=False, label_smoothing=0.0, n_folds=2, seed=0, tta_views=1)
    return Config(**{**values, **over})


def train_round_trip_and_predict(cfg, tones, soundscape, tmp_path, backends=("torch",)):
    """The real training loop, the checkpoint it wrote loaded back, and the submission rows of a
    short soundscape on each backend; returns the loaded model and the submissions."""
    trainer = Trainer(cfg, CLASSES, make_training_data(cfg, CLASSES, tones, tones), tmp_path / "ckpt", device="cpu")
    history = trainer.fit(progress=False)
    assert len(history) == cfg.epochs and np.isfinite(history.train_loss).all()
    loaded, contract = model_from_checkpoint(tmp_path / "ckpt" / LAST_NAME)
    assert ModelSpec.from_contract(contract) == ModelSpec.from_config(cfg)
    chunk = contract_chunk_samples(contract)
    wave = torch.randn(2, chunk, generator=torch.Generator().manual_seed(0)) * 0.1
    with torch.no_grad():
        torch.testing.assert_close(loaded(wave), trainer.model.eval()(wave), rtol=0, atol=0)
    subs = {}
    for backend in backends:
        ensemble = load_ensemble([tmp_path / "ckpt" / LAST_NAME], backend, tmp_path / backend)
        sub = predict_soundscapes([soundscape], ensemble, cfg, progress=False).submission
        assert sub["row_id"].tolist() == row_ids(soundscape.stem, 3, cfg.window_seconds)
        assert np.isfinite(sub[CLASSES].to_numpy()).all()
        subs[backend] = (sub, ensemble)
    return loaded, subs


@pytest.mark.slow
def test_a_head_registered_from_a_test_trains_loads_predicts_and_exports(tones, soundscape, tmp_path, monkeypatch):
    ort = pytest.importorskip("onnxruntime")   # Kaggle's image has none
    monkeypatch.setitem(HEADS, "frame_mean", FrameMeanHead)
    cfg = small_cfg(tmp_path, head="frame_mean")
    assert ModelSpec.from_config(cfg).chunk_samples(SR) == 10 * SR      # the default: the crop, in windows
    model, subs = train_round_trip_and_predict(cfg, tones, soundscape, tmp_path, ("torch", "onnxruntime"))
    assert isinstance(model.head, FrameMeanHead) and "frame_mean.cla.weight" in model.state_dict()
    (torch_sub, _), (onnx_sub, onnx_ensemble) = subs["torch"], subs["onnxruntime"]
    np.testing.assert_allclose(onnx_sub[CLASSES].to_numpy(), torch_sub[CLASSES].to_numpy(), atol=1e-5)
    session = ort.InferenceSession(str(onnx_ensemble.members[0].backend.graph_path))
    assert [i.name for i in session.get_inputs()] == ["image"]               # the head's export signature
    assert [o.name for o in session.get_outputs()] == ["window_logits"]


@pytest.mark.slow
@pytest.mark.parametrize("head", ["classifier", "sed"])
def test_a_backbone_registered_from_a_test_trains_loads_and_predicts(tones, soundscape, tmp_path, monkeypatch, head):
    monkeypatch.setitem(BACKBONES, "tiny_conv", TinyConvNet)
    cfg = small_cfg(tmp_path, model_name="tiny_conv", head=head)
    spec = ModelSpec.from_config(cfg)
    assert spec.options == {"n_mels": 64}                       # its config_fields travel in the spec
    model, _ = train_round_trip_and_predict(cfg, tones, soundscape, tmp_path)
    assert isinstance(model.backbone, TinyConvNet) and model.backbone.band_offset.shape == (1, 1, 64, 1)


def test_an_unknown_head_is_refused_and_a_registered_one_is_a_config_choice(monkeypatch):
    with pytest.raises(ConfigError, match="head must be one of .*'classifier', 'sed'.*got 'frame_mean'"):
        Config(head="frame_mean")
    monkeypatch.setitem(HEADS, "frame_mean", FrameMeanHead)
    assert Config(head="frame_mean").head == "frame_mean"


def test_small_cnn_refuses_arguments_it_does_not_take():
    with pytest.raises(TypeError, match="drop_path_rate"):
        create_backbone("birdkit_cnn", 3, 1, drop_path_rate=0.1)       # it has no stochastic depth
    with pytest.raises(TypeError, match="widht"):
        SmallSpectrogramCNN(widht=(8, 8, 8, 8))
    with pytest.raises(ValueError, match="global_pool"):
        SmallSpectrogramCNN(global_pool="avg")
    features = create_backbone("birdkit_cnn", 0, 1, global_pool="")      # what the SED head asks for
    assert features(torch.zeros(1, 1, 64, 40)).shape == (1, 64, 4, 2)


def test_the_contract_carries_the_spec_beside_the_mel_settings():
    cfg = Config(model_name="birdkit_cnn", in_chans=1, head="sed", freq_pool="bands", window_pool="max",
                 train_seconds=10.0, drop_rate=0.1)
    contract = make_contract(cfg, CLASSES)
    spec = ModelSpec.from_config(cfg)
    assert contract["spec"] == spec.as_dict() and ModelSpec.from_contract(contract) == spec
    assert contract["head"] == "sed" and contract["train_seconds"] == 10.0      # still where older readers look
    assert contract_chunk_samples(contract) == 10 * SR and contract_chunk_samples(contract, 20.0) == 20 * SR
    with pytest.raises(ValueError, match="unknown to this birdkit"):
        ModelSpec.from_dict({**spec.as_dict(), "new_field": 1})


def _old_contract(cfg, **fields):
    """A contract as birdkit wrote it before the model spec (0.2: no ``spec`` key)."""
    return {"classes": CLASSES, "model_name": cfg.model_name, "in_chans": cfg.in_chans, "mel": cfg.mel.as_dict(),
            "normalisation": "per-example dB log-mel to [0, 1]", "loss": "bce", "package_version": "0.2.0",
            "git_revision": "", "config": cfg.to_dict(), **fields}


@pytest.mark.parametrize("old", ["0.2-sed", "0.1-classifier"])
def test_a_checkpoint_written_before_the_spec_loads(tmp_path, old):
    if old == "0.2-sed":
        cfg = Config(model_name="birdkit_cnn", in_chans=1, n_mels=64, n_fft=1024, head="sed", freq_pool="bands",
                     window_pool="max", freq_channel=True, train_seconds=10.0)
        contract = _old_contract(cfg, freq_channel=True, head="sed", window_pool="max", freq_pool="bands",
                                 train_seconds=10.0, window_seconds=5.0)
    else:   # 0.1: no head, pools or freq_channel; window_seconds inside mel; no config
        cfg = Config(model_name="birdkit_cnn", in_chans=1, n_mels=64, n_fft=1024)
        contract = _old_contract(cfg, mel={**cfg.mel.as_dict(), "window_seconds": 5.0})
        del contract["config"]
    torch.manual_seed(0)
    model = build_model(cfg, CLASSES).eval()
    loaded, back = model_from_checkpoint(save_checkpoint(tmp_path / "old.pth", model, contract))
    assert "spec" not in back
    spec = ModelSpec.from_contract(back)
    assert (spec.head, spec.freq_pool, spec.window_pool, spec.freq_channel) == (
        cfg.head, cfg.freq_pool, cfg.window_pool, cfg.freq_channel)
    chunk = contract_chunk_samples(back)
    assert chunk == (10 if cfg.head == "sed" else 5) * SR
    wave = torch.randn(2, chunk, generator=torch.Generator().manual_seed(1)) * 0.1
    with torch.no_grad():
        torch.testing.assert_close(loaded(wave), model(wave), rtol=0, atol=0)
