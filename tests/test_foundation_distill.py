"""Distillation from the embedding cache (birdkit.foundation.distill): the losses by hand, crops on
the cache's grid with their teacher window, a short training run and what its checkpoint loads as."""
import math

import numpy as np
import pytest
import torch

from birdkit.augment.batch import Mixup, augment_batch, mixup
from birdkit.augment.draws import TORCH_RANDOM
from birdkit.config import Config, ConfigError
from birdkit.data.audio import load_audio
from birdkit.data.datasets import ClipDataset
from birdkit.foundation.distill import TeacherBank, cosine_distill_loss, kd_loss
from birdkit.foundation.records import load_record, record_path, save_record
from birdkit.models import build_model, model_from_checkpoint
from birdkit.train.factory import make_training_data
from birdkit.train.loop import LAST_NAME, Trainer
from conftest import write_tone_clips

SR, DIM, HOP = 32000, 8, 0.5
CLASSES = ["1139490", "amekes", "grekis"]
FREQS = {"1139490": 6000.0, "amekes": 2000.0, "grekis": 500.0}


@pytest.fixture(scope="module")
def tones(tmp_path_factory):
    """4 noisy 3-s tones per class, and a teacher record for each: class-coloured embeddings on a
    0.5-s grid of 1-s windows (every row different), logits for the first two classes only."""
    root = tmp_path_factory.mktemp("distil")
    df = write_tone_clips(root / "audio", FREQS, 4, 3.0, seed=0, jitter=0.05)
    rng = np.random.default_rng(0)
    for f, label in zip(df.filename, df.primary_label):
        rows, k = 5, CLASSES.index(label)
        emb = rng.normal(0, 0.3, (rows, DIM)) + 2.0 * np.eye(DIM)[k]
        logits = np.where(np.arange(3) == k, 3.0, -3.0) * np.ones((rows, 1))
        save_record(record_path(root / "emb", "train", f), emb, logits, np.ones(rows), HOP, 1.0, 3.0,
                    [True, True, False])
    return df, root / "emb"


def small_cfg(tmp_path, emb_dir, **over):
    values = dict(run_dir=str(tmp_path / "run"), model_name="birdkit_cnn", in_chans=1, n_mels=64, n_fft=1024,
                  data_source="audio", train_seconds=2.0, epochs=2, batch_size=4, lr=3e-3, warmup_epochs=0.0,
                  mixup_alpha=0.4, mixup_domain="wave", specaugment=False, label_smoothing=0.0, seed=0,
                  foundation_model="perch", embedding_dir=str(emb_dir), foundation_hop_seconds=HOP,
                  distill_weight=1.0, distill_kd_weight=0.5)
    return Config(**{**values, **over})


def test_the_losses_by_hand():
    student, teacher = torch.tensor([[1.0, 0.0], [1.0, 1.0]]), torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    assert math.isclose(cosine_distill_loss(student, teacher).item(), (1 - 1 / math.sqrt(2)) / 2, rel_tol=1e-6)
    zero = cosine_distill_loss(student, torch.tensor([[1.0, 0.0], [0.0, 0.0]]))
    assert math.isfinite(zero.item()) and math.isclose(zero.item(), 0.5, rel_tol=1e-6)
    assert cosine_distill_loss(student, torch.tensor([[1.0, 0.0], [0.0, 0.0]]), torch.tensor([1.0, 0.0])) == 0
    s, t = torch.tensor([[0.0, 2.0, 5.0]]), torch.tensor([[0.0, -1.0, 9.0]])
    p = torch.sigmoid(torch.tensor(-1.0)).item()     # column 0: BCE(0, 0.5) = log 2; column 2 unmapped
    by_hand = (math.log(2) + (-(p * math.log(torch.sigmoid(torch.tensor(2.0)).item())
                                + (1 - p) * math.log(1 - torch.sigmoid(torch.tensor(2.0)).item())))) / 2
    assert math.isclose(kd_loss(s, t, [True, True, False]).item(), by_hand, rel_tol=1e-5)
    assert kd_loss(s, t, [False, False, False]).item() == 0.0


def test_mixup_mixes_the_teacher_with_the_same_lambda_and_partner():
    x, y, emb = torch.rand(6, 50), torch.eye(6), torch.rand(6, DIM)
    torch.manual_seed(0)
    got_x, got_y, (got_emb,) = augment_batch([Mixup(0.4, "max", "wave", 1.0)], x, y, TORCH_RANDOM, extras=(emb,))
    torch.manual_seed(0)
    torch.rand(())                                     # whether mixup acts
    want_x, want_y, lam, perm = mixup(x, y, 0.4, "max")
    assert torch.equal(got_x, want_x) and torch.equal(got_y, want_y)
    assert torch.equal(got_emb, lam * emb + (1 - lam) * emb[perm]) and lam < 1


def test_crops_start_on_the_grid_and_carry_their_own_teacher_window(tones, tmp_path):
    df, emb_dir = tones
    cfg = small_cfg(tmp_path, emb_dir)
    bank = TeacherBank(emb_dir, df.filename, cfg.train_seconds, HOP)
    ds = ClipDataset(df, cfg, CLASSES, train=True, teacher=bank)
    torch.manual_seed(0)
    starts = set()
    for i in (0, 5, 11) * 4:
        wave, target, primary, emb, logits = ds[i]
        whole = load_audio(df.path[i], SR)
        start = min(range(3), key=lambda k: np.abs(whole[int(k * HOP * SR):][:len(wave)] - wave.numpy()).max())
        assert np.allclose(whole[int(start * HOP * SR):][:len(wave)], wave.numpy(), atol=1e-4)
        want = load_record(bank.path(i)).window(start * HOP, cfg.train_seconds)
        assert torch.equal(emb, torch.from_numpy(want[0])) and torch.equal(logits, torch.from_numpy(want[1]))
        starts.add(start)
    assert starts == {0, 1, 2}                        # 0, 0.5 and 1 s into a 3-s clip for a 2-s crop
    assert len(ClipDataset(df, cfg, CLASSES, train=False, teacher=bank)[0]) == 3   # validation: none
    missing = TeacherBank(tmp_path / "nowhere", df.filename, 2.0, HOP)
    with pytest.raises(FileNotFoundError, match="25_embeddings.*distill_weight: 0"):
        missing.lookup(0, 0.0)
    with pytest.raises(FileNotFoundError, match=str(df.filename[0]).split("/")[-1]):
        make_training_data(small_cfg(tmp_path, tmp_path / "nowhere"), CLASSES, df)


@pytest.mark.parametrize("head", ["classifier", "sed"])
@pytest.mark.parametrize("backbone", [{"model_name": "birdkit_cnn", "in_chans": 1, "freq_pool": "bands"},
                                      {"model_name": "efficientnet_b0", "in_chans": 3}])   # the GPU kernels' kind
def test_features_come_with_the_same_logits(head, backbone):
    cfg = Config(**backbone, pretrained=False, n_mels=64, n_fft=1024, head=head, train_seconds=2.0)
    model = build_model(cfg, CLASSES, distill_dim=DIM).eval()
    image = model.image(torch.randn(2, cfg.train_samples))
    with torch.no_grad():
        logits, projected = model.classify_distill(image)
        torch.testing.assert_close(logits, model.classify(image))
    assert projected.shape == (2, DIM)


def test_distillation_trains_the_projection_and_the_checkpoint_loads_without_it(tones, tmp_path):
    df, emb_dir = tones
    cfg = small_cfg(tmp_path, emb_dir)
    chunks = [(torch.zeros(cfg.train_samples), torch.zeros(len(CLASSES)), -1)] * 2   # soundscape chunks: no teacher
    data = make_training_data(cfg, CLASSES, df, df, soundscape_train=chunks)
    assert data.distill_dim == DIM and len(data.val.dataset[0]) == 3
    assert [len(data.train.dataset[i]) for i in (0, len(df))] == [5, 5]
    trainer = Trainer(cfg, CLASSES, data, tmp_path / "ckpt", device="cpu")
    before = trainer.model.distill.weight.detach().clone()
    history = trainer.fit(progress=False)
    assert np.isfinite(history.train_distill_loss).all() and np.isfinite(history.train_loss).all()
    assert history.train_distill_loss.iloc[-1] < history.train_distill_loss.iloc[0]
    assert not torch.equal(before, trainer.model.distill.weight)
    loaded, contract = model_from_checkpoint(tmp_path / "ckpt" / LAST_NAME)
    assert contract["spec"]["distill_dim"] == DIM and not hasattr(loaded, "distill")
    plain = build_model(small_cfg(tmp_path, emb_dir, distill_weight=0.0, distill_kd_weight=0.0), CLASSES)
    assert loaded.state_dict().keys() == plain.state_dict().keys()
    assert loaded.export_signature == plain.export_signature
    with torch.no_grad():
        assert loaded(torch.zeros(3, 2 * cfg.window_samples)).shape == (6, len(CLASSES))


def test_without_distillation_nothing_changes(tones, tmp_path):
    df, emb_dir = tones
    cfg = small_cfg(tmp_path, emb_dir, distill_weight=0.0, distill_kd_weight=0.0)
    data = make_training_data(cfg, CLASSES, df, df)
    assert data.teacher is None and data.distill_dim == 0 and len(data.train.dataset[0]) == 3
    assert "distill_dim" not in Trainer(cfg, CLASSES, data, tmp_path / "c", device="cpu").contract["spec"]
    with pytest.raises(ConfigError, match="data_source: waves or audio"):
        make_training_data(small_cfg(tmp_path, emb_dir, data_source="images"), CLASSES, df)
