"""Ensembles with a shared front end, rank averaging, file-level post-processing; soundscape banks
(pseudo-labels: power transform, soft-target mixing, confidence sampling), labelled windows."""
import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch

from birdkit.config import Config
from birdkit.data.datasets import ClipDataset
from birdkit.data.soundscapes import LabelledChunks, PseudoLabels, SoundscapeBank, power_transform
from birdkit.infer.ensemble import TTA, combine, load_ensemble
from birdkit.infer.postprocess import rescale_by_file_max
from birdkit.models import build_model, make_contract, save_checkpoint
from birdkit.models.frontend import MelSettings
from birdkit.train.validation import SoundscapeValidation

SR = 32000
CLASSES = ["1139490", "amekes", "grekis"]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ens")
    paths = []
    for i in range(3):
        cfg = Config(model_name="test_efficientnet", n_mels=64, n_fft=1024, in_chans=1 + 2 * (i % 2), seed=i)
        torch.manual_seed(i)
        model = build_model(cfg, CLASSES)
        for p in model.parameters():
            p.data.normal_(0, 0.2)
        paths.append(save_checkpoint(tmp / f"m{i}.pth", model, make_contract(cfg, CLASSES)))
    return paths


def test_shared_front_end_runs_once_per_file_and_equals_the_single_models(checkpoints, tmp_path):
    wave = np.random.default_rng(0).normal(0, 0.1, SR * 23).astype(np.float32)   # 5 windows, last padded
    ensemble = load_ensemble(checkpoints, "torch", tmp_path)
    both = ensemble.member_probs(wave, TTA(2, 1.0, "mean"))
    assert both.shape == (3, 5, 3) and ensemble.frontend_calls == 1          # one log-mel pass for 3 models
    singles = [load_ensemble([p], "torch", tmp_path / str(i)).member_probs(wave, TTA(2, 1.0, "mean"))[0]
               for i, p in enumerate(checkpoints)]
    np.testing.assert_allclose(combine([both])[0], np.mean(singles, axis=0), atol=1e-6)
    assert not np.allclose(singles[0], singles[1])                            # members really differ


def test_an_sed_member_gets_its_own_front_end_group(checkpoints, tmp_path):
    cfg = Config(model_name="test_efficientnet", n_mels=64, n_fft=1024, head="sed", train_seconds=10.0)
    sed = save_checkpoint(tmp_path / "sed.pth", build_model(cfg, CLASSES), make_contract(cfg, CLASSES))
    ensemble = load_ensemble(checkpoints[:2] + [sed], "torch", tmp_path)
    probs = ensemble.member_probs(np.zeros(SR * 60, np.float32))
    assert probs.shape == (3, 12, 3) and ensemble.frontend_calls == 2


def test_rank_average_keeps_each_members_order_over_all_files():
    a = np.array([[[0.1], [0.9]], [[0.5], [0.4]]], dtype=np.float32)        # file 1: 2 members x 2 windows
    b = np.array([[[0.3]], [[0.8]]], dtype=np.float32)                       # file 2: 1 window
    ranked = combine([a, b], "rank")
    assert [r.shape for r in ranked] == [(2, 1), (1, 1)]
    # member 0 ranks 0.1 < 0.3 < 0.9 -> 1/3, 3/3, 2/3; member 1: 0.4 < 0.5 < 0.8 -> 2/3, 1/3, 3/3
    np.testing.assert_allclose(np.concatenate(ranked).ravel(), [0.5, 2 / 3, 5 / 6], atol=1e-6)
    np.testing.assert_allclose(combine([a, b], "mean")[0].ravel(), [0.3, 0.65])


def test_file_max_rescale_by_hand():
    probs = np.array([[0.2, 0.5], [0.8, 0.1]], dtype=np.float32)
    np.testing.assert_allclose(rescale_by_file_max(probs, 1.0), [[0.16, 0.25], [0.64, 0.05]])
    assert rescale_by_file_max(probs, 0.0) is probs


def _soundscape(tmp_path, name, seconds=20):
    wave = np.repeat(np.arange(seconds // 5, dtype=np.float32) * 0.1 + 0.05, 5 * SR)   # window j holds 0.1 j + 0.05
    sf.write(tmp_path / name, wave, SR, subtype="FLOAT")   # float WAV: the levels survive exactly
    return tmp_path / name


def test_pseudo_labels_power_transform_and_soft_target_mixing_by_hand(tmp_path):
    np.testing.assert_allclose(power_transform(np.array([0.25, 1.0, 0.0]), 0.5), [0.0625, 1.0, 0.0])
    probs = np.array([[0.25, 0.0, 0.0], [0.0, 0.64, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]], np.float32)
    bank = PseudoLabels([_soundscape(tmp_path, "s.wav")], [probs], SR, 5 * SR, temperature=0.5,
                        chunk_samples=10 * SR)
    # chunks of 2 windows: start 0 covers windows 0-1, start 1 windows 1-2, start 2 windows 2-3
    np.testing.assert_allclose(bank.target(0, 0), [0.0625, 0.4096, 0.0], atol=1e-6)
    np.testing.assert_allclose(bank.weights.numpy(), [0.4721, 0.4096, 1e-6], atol=1e-4)   # confidence sampling
    torch.manual_seed(0)
    starts = [bank.random_chunk(10 * SR)[0][0] for _ in range(200)]
    assert {round(float(x), 2) for x in starts} == {0.05, 0.15}   # the silent chunk is (almost) never drawn
    cfg = Config(train_seconds=10.0, pseudo_mix_prob=1.0, pseudo_mix_weight=0.5, mixup_labels="max",
                 pseudo_temperature=0.5, gain_db=0.0, data_source="audio")
    clip = pd.DataFrame({"primary_label": ["grekis"], "secondary": [[]], "filename": ["g.wav"],
                         "path": [str(_soundscape(tmp_path, "g.wav", 10))]})
    for _ in range(10):
        wave, target, _ = ClipDataset(clip, cfg, CLASSES, train=True, pseudo=bank)[0]
        chunk_start = float(wave[0]) * 2 - 0.05               # wave = 0.5 focal (0.05) + 0.5 chunk
        assert round(chunk_start, 2) in (0.05, 0.15)
        soft_first = 0.0625 if round(chunk_start, 2) == 0.05 else 0.0   # window 0 only in the first chunk
        np.testing.assert_allclose(target.numpy(), [soft_first, 0.4096, 1.0], atol=1e-6)   # max(focal, soft)


def test_a_pseudo_weight_of_one_replaces_the_crop_and_its_labels(tmp_path):
    probs = np.array([[0.81, 0.0, 0.0], [0.81, 0.0, 0.0]], np.float32)
    bank = PseudoLabels([_soundscape(tmp_path, "s.wav", 10)], [probs], SR, 5 * SR, temperature=0.5,
                        chunk_samples=10 * SR)
    cfg = Config(train_seconds=10.0, pseudo_mix_prob=1.0, pseudo_mix_weight=1.0, mixup_labels="max",
                 pseudo_temperature=0.5, data_source="audio")
    clip = pd.DataFrame({"primary_label": ["grekis"], "secondary": [[]], "filename": ["g.wav"],
                         "path": [str(_soundscape(tmp_path, "g.wav", 10))]})
    wave, target, _ = ClipDataset(clip, cfg, CLASSES, train=True, pseudo=bank)[0]
    np.testing.assert_allclose(target.numpy(), [0.6561, 0.0, 0.0], atol=1e-6)   # the chunk's soft target only
    np.testing.assert_allclose(wave.numpy()[[0, -1]], [0.05, 0.15], atol=1e-3)   # the chunk's audio only


def test_labelled_chunks_and_validation_map_windows_to_rows(tmp_path):
    _soundscape(tmp_path, "a.wav", 20)
    windows = pd.DataFrame({"filename": ["a.wav"] * 3, "end": [5, 10, 20]})
    targets = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]], np.float32)
    chunks = LabelledChunks(tmp_path, windows, targets, SR, 5 * SR, 10 * SR)
    assert len(chunks) == 3
    assert chunks[0][1].tolist() == [1, 1, 0]       # windows 0 and 1 both labelled
    assert chunks[1][1].tolist() == [0, 1, 0]       # window 2 (10-15 s) has no labels: adds nothing
    assert chunks[2][0].shape == (10 * SR,) and float(chunks[2][0][-1]) == 0.0   # past the end: zeros

    class Level(torch.nn.Module):
        """A stand-in BirdModel: its "image" of a window is the window, and the logit of class c is
        the window's mean level times (c - 1)."""
        in_chans, window_samples, mel = 1, 5 * SR, MelSettings(sample_rate=SR)

        def __init__(self):
            super().__init__()
            self.unused = torch.nn.Parameter(torch.zeros(1))   # a device to be on

        def image_samples(self, chunk_samples):               # a classifier's: one window per image
            return self.window_samples

        def windows_per_image(self, chunk_samples):
            return 1

        def chunk_wave(self, chunks):
            return chunks.reshape(-1, self.window_samples)

        def mels(self, windows):
            return windows[:, None, :]                        # [N, 1 band, samples as frames]

        def window_logits(self, image, windows=1):
            return image.mean(dim=(1, 2, 3))[:, None] * torch.tensor([[-1.0, 0.0, 1.0]])

    val = SoundscapeValidation(tmp_path, windows, targets, SR, 5 * SR)
    probs = val.predict(Level(), 5 * SR, "bce")
    np.testing.assert_allclose(probs[:, 2], 1 / (1 + np.exp(-np.array([0.05, 0.15, 0.35]))), atol=1e-4)  # float16
    # class 0 (sigmoid(-level)) and class 2 (sigmoid(level)) rank their positive window first: AUC 1;
    # class 1 scores every window 0.5: AUC 0.5
    assert val.evaluate(Level(), 5 * SR, "bce") == pytest.approx(5 / 6)


def test_soundscapes_past_the_cache_are_read_by_seeking_with_the_same_chunks(tmp_path):
    files = [_soundscape(tmp_path, f"s{i}.wav", 20) for i in range(2)]
    probs = [np.full((4, 3), 0.5, np.float32)] * 2
    cached = PseudoLabels(files, probs, SR, 5 * SR, 0.6, 10 * SR)
    seeking = PseudoLabels(files, probs, SR, 5 * SR, 0.6, 10 * SR)
    seeking.cache_bytes = 0                                  # nothing fits: every chunk is decoded alone
    for start in (0, 5 * SR, 15 * SR):
        np.testing.assert_allclose(seeking.chunk(1, start, 10 * SR), cached.chunk(1, start, 10 * SR), atol=1e-3)
    assert seeking._waves == {} and len(cached._waves) == 1
    assert seeking.samples(0) == 20 * SR
    bank = SoundscapeBank(files, SR, cache_bytes=0)
    torch.manual_seed(0)
    assert bank.random_chunk(10 * SR).shape == (10 * SR,) and bank._waves == {}


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU (runs on the lent GPU machine)")
def test_an_ensemble_on_the_gpu_scores_like_on_the_cpu(checkpoints, tmp_path):
    wave = np.random.default_rng(0).normal(0, 0.1, SR * 30).astype(np.float32)
    cpu = load_ensemble(checkpoints, "torch", tmp_path / "cpu").member_probs(wave)
    gpu_ensemble = load_ensemble(checkpoints, "torch", tmp_path / "gpu", device="cuda")
    assert gpu_ensemble.on_gpu
    np.testing.assert_allclose(gpu_ensemble.member_probs(wave), cpu, atol=1e-4)
