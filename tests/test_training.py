"""The waveform training path: a separable set is learnt, one front end for every path,
val_fold -1 and several folds."""
import numpy as np
import pandas as pd
import pytest
import torch

from birdkit.config import Config
from birdkit.data.cache import generate_spectrograms
from birdkit.data.datasets import ClipDataset, ImageDataset, place
from birdkit.ensemble_list import read_ensemble_list, write_ensemble_list
from birdkit.models import build_model, model_from_checkpoint
from birdkit.train.factory import make_training_data
from birdkit.train.loop import Trainer, best_epoch, seed_everything
from birdkit.train.run import train_fold
from conftest import write_tone_clips

SR = 32000
CLASSES = ["1139490", "amekes", "grekis"]
FREQS = {"1139490": 6000.0, "amekes": 2000.0, "grekis": 500.0}


@pytest.fixture(scope="module")
def tones(tmp_path_factory):
    """Three species that differ only in pitch: 8 noisy 3-s recordings each."""
    return write_tone_clips(tmp_path_factory.mktemp("tones"), FREQS, 8, 3.0, seed=0, jitter=0.05)


def small_cfg(tmp_path, **over):
    values = dict(run_dir=str(tmp_path / "run"), model_name="birdkit_cnn", in_chans=1, n_mels=64, n_fft=1024,
                  data_source="audio", train_seconds=2.0, epochs=6, batch_size=8, lr=3e-3, warmup_epochs=0.0,
                  mixup_alpha=0.0, specaugment=False, label_smoothing=0.0, n_folds=2, seed=0)
    return Config(**{**values, **over})


@pytest.mark.slow
@pytest.mark.parametrize("head", ["classifier", "sed"])
def test_a_separable_set_is_learnt(tones, tmp_path, head):
    cfg = small_cfg(tmp_path, head=head)
    data = make_training_data(cfg, CLASSES, tones, tones)
    history = Trainer(cfg, CLASSES, data, tmp_path / "ckpt").fit(progress=False)
    assert history.train_loss.iloc[-1] < 0.5 * history.train_loss.iloc[0]
    assert history.val_auc.iloc[-1] > 0.9


def test_the_dataset_image_is_the_models_image_on_the_seed_path(tones, tmp_path):
    """One front end: the seed's cached-spectrogram image of a window equals the model's image."""
    cfg = small_cfg(tmp_path, data_source="images", crop_policy="first", in_chans=3, workers=1, write_png=False)
    generate_spectrograms(tones, cfg, progress=False)
    images = ImageDataset(tones, cfg, CLASSES, train=False)
    model = build_model(cfg, CLASSES).eval()
    from birdkit.data.audio import load_audio
    for i in (0, 9, 20):
        wave = torch.from_numpy(place(load_audio(tones.path[i], SR), cfg.window_samples, train=False))
        with torch.no_grad():
            ours = model.image(wave[None])[0]
        np.testing.assert_allclose(images[i][0].numpy(), ours.numpy(), atol=2e-3)  # float16 cache


def test_waveform_cache_and_on_the_fly_decoding_give_the_same_crop(tones, tmp_path):
    cfg = small_cfg(tmp_path, workers=1, write_png=False, train_seconds=2.0)
    generate_spectrograms(tones, cfg, progress=False)
    cached = ClipDataset(tones, cfg, CLASSES, train=False, source="waves")
    decoded = ClipDataset(tones, cfg, CLASSES, train=False, source="audio")
    for i in (0, 13):
        np.testing.assert_allclose(cached[i][0].numpy(), decoded[i][0].numpy(), atol=1e-3)  # float16
        assert cached[i][0].shape == (cfg.train_samples,)


def test_validation_targets_include_secondary_labels(tones, tmp_path):
    df = tones.head(2).copy()
    df["secondary"] = [["grekis"], []]
    cfg = small_cfg(tmp_path)
    data = make_training_data(cfg, CLASSES, df, df)
    _, target, _ = data.val.dataset[0]
    assert target.tolist() == [1.0, 0.0, 1.0]          # secondary counts as present in validation
    _, train_target, _ = data.train.dataset[0]
    assert train_target.tolist() == [1.0, 0.0, cfg.secondary_weight]


def test_best_epoch_is_the_one_training_keeps():
    """The soundscape score picks it (first of a tie), else the clip score; without validation the last."""
    history = pd.DataFrame({"epoch": [1, 2, 3, 4], "val_auc": [0.5, 0.9, 0.7, 0.9],
                            "val_soundscape_auc": [0.6, 0.7, 0.8, 0.8]})
    assert best_epoch(history).epoch == 3
    assert best_epoch(history.drop(columns="val_soundscape_auc")).epoch == 2
    assert best_epoch(history[["epoch"]]).epoch == 4 and best_epoch(history.iloc[:0]) is None


@pytest.mark.slow
def test_all_data_and_several_folds(tones, tmp_path):
    cfg = small_cfg(tmp_path, epochs=1, val_fold=-1)
    result = train_fold(cfg, CLASSES, tones, -1, progress=False)
    assert result.counts["train_recordings"] == len(tones) and result.counts["val_recordings"] == 0
    assert result.best.is_file() and "val_auc" not in result.history
    cfg = small_cfg(tmp_path, epochs=1, n_folds=3, folds=[0, 1, 2])
    results = [train_fold(cfg, CLASSES, tones, f, progress=False) for f in cfg.train_folds]
    listed = read_ensemble_list(write_ensemble_list(cfg.checkpoint_dir, results).parent)
    assert [p.parent.name for p in listed] == ["fold0", "fold1", "fold2"]
    assert all(model_from_checkpoint(p)[1]["classes"] == CLASSES for p in listed)
    val_sizes = [r.counts["val_recordings"] for r in results]
    assert sum(val_sizes) == len(tones) and min(val_sizes) > 0     # each recording validates once


@pytest.mark.slow
def test_two_gloo_processes_train_like_one_with_the_same_global_batch(tones, tmp_path):
    """DistributedDataParallel on 2 CPU processes (gloo), batch 8 = 2 x 4, against one process with
    batch 8: same samples in the same order, gradients averaged, so the same weights (the GroupNorm
    test model has no per-process batch statistics; crops are deterministic: clips are as long as
    the crop and nothing random is switched on). Tolerance: 1e-4 absolute on the weights, where two
    AdamW steps at lr 1e-2 move them by about 2e-2 (float sums in another order, amplified by Adam's
    normalisation of near-zero gradients)."""
    common = dict(model_name="test_efficientnet_gn", in_chans=3, train_seconds=3.0, time_shift=False, drop_rate=0.0,
                  epochs=1, samples_per_epoch=16, batch_size=8, lr=1e-2)
    one = small_cfg(tmp_path / "one", **common)
    two = small_cfg(tmp_path / "two", **common, ddp_processes=2)
    r1 = train_fold(one, CLASSES, tones, 0, progress=False)
    r2 = train_fold(two, CLASSES, tones, 0, progress=False, backend="gloo")
    assert r2.counts["processes"] == 2 and r1.counts["processes"] == 1
    w1 = torch.load(r1.last, weights_only=True)["state_dict"]
    w2 = torch.load(r2.last, weights_only=True)["state_dict"]
    seed_everything(one.seed)
    init = build_model(one, CLASSES).state_dict()   # the Trainer's initial weights (same seed)
    moved = max(float((w1[k].float() - init[k].float()).abs().max()) for k in w1)
    diff = max(float((w1[k].float() - w2[k].float()).abs().max()) for k in w1)
    assert moved > 1e-2 and diff < 1e-4, (moved, diff)
