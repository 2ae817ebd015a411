"""Augmentations as ordered lists of named steps: the default lists are the order the
focal dataset and the trainer had before, a step registered from outside the package runs in the
dataset and in training, the order a config names is the order applied, unknown names are refused."""
from dataclasses import dataclass

import numpy as np
import pytest
import soundfile as sf
import torch

from birdkit.augment.batch import Mixup, SpecAugmentStep, augment_batch, mixup
from birdkit.augment.draws import TORCH_RANDOM
from birdkit.augment.registry import BATCH_STEPS, WAVE_STEPS, batch_steps, check_augment, wave_steps
from birdkit.augment.waveform import (
    Background,
    Gain,
    LowPass,
    PseudoMix,
    Reverb,
    TimeShift,
    WaveStep,
    mix_at_snr,
    random_lowpass,
    random_reverb,
)
from birdkit.config import Config, ConfigError
from birdkit.data.datasets import ClipDataset, place
from birdkit.data.soundscapes import PseudoLabels, SoundscapeBank
from birdkit.train.factory import make_training_data
from birdkit.train.loop import Trainer
from conftest import write_tone_clips

SR = 32000
CLASSES = ["1139490", "amekes", "grekis"]


@pytest.fixture(scope="module")
def tones(tmp_path_factory):
    return write_tone_clips(tmp_path_factory.mktemp("tones"), {c: f for c, f in zip(CLASSES, (6000., 2000., 500.))},
                            3, 3.0, seed=0)


@pytest.fixture(scope="module")
def banks(tmp_path_factory):
    """``(background, pseudo)`` over two 20-s noise soundscapes, for 4-s crops."""
    folder, rng = tmp_path_factory.mktemp("scapes"), np.random.default_rng(1)
    files = []
    for i in range(2):
        sf.write(folder / f"s{i}.wav", rng.normal(0, 0.1, 20 * SR).astype(np.float32), SR, subtype="FLOAT")
        files.append(folder / f"s{i}.wav")
    probs = [rng.uniform(0, 1, (4, 3)).astype(np.float32) for _ in files]
    return SoundscapeBank(files, SR), PseudoLabels(files, probs, SR, 5 * SR, 0.6, 4 * SR)


def small_cfg(tmp_path, **over):
    values = dict(run_dir=str(tmp_path / "run"), model_name="birdkit_cnn", in_chans=1, n_mels=32, n_fft=512,
                  data_source="audio", train_seconds=3.0, epochs=1, batch_size=4, samples_per_epoch=4,
                  warmup_epochs=0.0, n_folds=2, seed=0)
    return Config(**{**values, **over})


@dataclass
class PolarityFlip(WaveStep):
    """The toy step: the crop upside down, always."""
    prob: float = 1.0

    @classmethod
    def from_config(cls, cfg, **banks):
        return cls()

    def apply(self, wave, target, rng):
        return -wave, target


@dataclass
class PlusOne(WaveStep):
    @classmethod
    def from_config(cls, cfg, **banks):
        return cls()

    def apply(self, wave, target, rng):
        return wave + np.float32(1), target


@dataclass
class Double(PlusOne):
    def apply(self, wave, target, rng):
        return wave * np.float32(2), target


def test_the_default_lists_are_the_order_of_before():
    assert [type(s) for s in wave_steps(Config())] == [TimeShift, Gain, Reverb, LowPass, Background, PseudoMix]
    assert [type(s) for s in batch_steps(Config())] == [SpecAugmentStep, Mixup]


def _chain_by_hand(ds, i, cfg, background, pseudo):
    """The focal dataset's augmentation before it became a list of steps, written out."""
    wave, target, length = place(ds._segment(i), ds.length, True, cfg.time_shift), ds.targets[i], ds.length
    uniform = TORCH_RANDOM.uniform
    if cfg.gain_db:
        wave = wave * np.float32(10 ** (uniform(-cfg.gain_db, cfg.gain_db) / 20))
    if cfg.reverb_prob and float(torch.rand(())) < cfg.reverb_prob:
        wave = random_reverb(wave, cfg.sample_rate, cfg.reverb_rt60_s)
    if cfg.lowpass_prob and float(torch.rand(())) < cfg.lowpass_prob:
        wave = random_lowpass(wave, cfg.sample_rate, cfg.fmax)
    if background is not None and float(torch.rand(())) < cfg.background_prob:
        wave = mix_at_snr(wave, background.random_chunk(length), uniform(*cfg.background_snr_db))
    if pseudo is not None and float(torch.rand(())) < cfg.pseudo_mix_prob:
        chunk, soft = pseudo.random_chunk(length)
        w = np.float32(cfg.pseudo_mix_weight)
        wave = (1 - w) * wave + w * chunk
        target = np.maximum(target, soft) if cfg.mixup_labels == "max" else (1 - w) * target + w * soft
    return wave.astype(np.float32), target.astype(np.float32)


@pytest.mark.parametrize("train_seconds", [2.0, 4.0])   # crops of longer and of shorter recordings
def test_the_default_steps_draw_and_act_as_the_chain_of_before(tones, banks, tmp_path, train_seconds):
    cfg = small_cfg(tmp_path, train_seconds=train_seconds, gain_db=6.0, reverb_prob=0.5, lowpass_prob=0.5,
                    background_prob=0.5, pseudo_mix_prob=0.5, mixup_labels="blend")
    ds = ClipDataset(tones, cfg, CLASSES, train=True, background=banks[0], pseudo=banks[1])
    for i in (0, 4, 8, 1, 5):
        torch.manual_seed(i)
        wave, target, _ = ds[i]
        torch.manual_seed(i)
        by_hand = _chain_by_hand(ds, i, cfg, *banks)
        assert torch.equal(wave, torch.from_numpy(by_hand[0])) and torch.equal(target, torch.from_numpy(by_hand[1]))


def test_a_step_registered_from_outside_runs_in_the_dataset_and_in_training(tones, tmp_path, monkeypatch):
    monkeypatch.setitem(WAVE_STEPS, "polarity", PolarityFlip)
    cfg = small_cfg(tmp_path, wave_augment=("time_shift", "gain", "polarity"))   # 3-s crops of 3-s clips
    plain = ClipDataset(tones, cfg, CLASSES, train=False)
    flipped = ClipDataset(tones, cfg, CLASSES, train=True)
    assert isinstance(flipped.steps[-1], PolarityFlip)
    for i in (0, 5):
        assert torch.equal(flipped[i][0], -plain[i][0]) and plain[i][0].abs().max() > 0
    data = make_training_data(cfg, CLASSES, tones, tones)
    history = Trainer(cfg, CLASSES, data, tmp_path / "ckpt", device="cpu").fit(progress=False)
    assert isinstance(data.train.dataset.steps[-1], PolarityFlip)
    assert len(history) == 1 and np.isfinite(history.train_loss.iloc[0])


def test_two_wave_steps_swapped_give_the_other_composition(tones, tmp_path, monkeypatch):
    monkeypatch.setitem(WAVE_STEPS, "plus_one", PlusOne)
    monkeypatch.setitem(WAVE_STEPS, "double", Double)
    x = ClipDataset(tones, small_cfg(tmp_path), CLASSES, train=False)[2][0]
    first = ClipDataset(tones, small_cfg(tmp_path, wave_augment=("plus_one", "double")), CLASSES, train=True)[2][0]
    second = ClipDataset(tones, small_cfg(tmp_path, wave_augment=("double", "plus_one")), CLASSES, train=True)[2][0]
    assert torch.equal(first, 2 * (x + 1)) and torch.equal(second, 2 * x + 1)


def test_batch_steps_run_in_order_within_their_domain():
    cfg = Config(n_mels=16, train_seconds=1.0, hop_length=1600, mixup_domain="image", mixup_alpha=0.4)
    spec, mix = SpecAugmentStep.from_config(cfg), Mixup.from_config(cfg)
    x, y = torch.rand(6, 1, 16, 21), torch.eye(6)

    def run(steps, data, front_end=None):
        torch.manual_seed(0)
        return augment_batch(steps, data, y, TORCH_RANDOM, front_end)

    def by_hand(*fns):   # mixup draws whether it acts before any step acts
        torch.manual_seed(0)
        torch.rand(())
        data = (x, y)
        for fn in fns:
            data = fn(*data)
        return data

    masks_then_mix, mix_then_masks = run([spec, mix], x), run([mix, spec], x)
    assert all(map(torch.equal, masks_then_mix, by_hand(spec, mix)))
    assert all(map(torch.equal, mix_then_masks, by_hand(mix, spec)))
    assert not torch.equal(masks_then_mix[0], mix_then_masks[0])
    # waveform batches: a wave-domain step acts before the front end, wherever it is listed
    wave_mix, waves = Mixup(0.4, "max", "wave", 1.0), torch.rand(6, 21)
    image = lambda w: w[:, None, None, :].expand(-1, 1, 16, -1)   # noqa: E731  (a stand-in front end)
    got = run([spec, wave_mix], waves, image)
    torch.manual_seed(0)
    torch.rand(())
    mixed, my, _, _ = mixup(waves, y, 0.4, "max")
    assert torch.equal(got[0], spec.masks(image(mixed))) and torch.equal(got[1], my)


def test_an_unknown_step_name_is_a_config_error_listing_the_registered_ones(tones, tmp_path):
    cfg = small_cfg(tmp_path, wave_augment=("gain", "polarity"))
    with pytest.raises(ConfigError, match=r"wave_augment: unknown step\(s\) 'polarity'; registered: time_shift, "
                                          r"gain, reverb, lowpass, background, pseudo_mix"):
        ClipDataset(tones, cfg, CLASSES, train=True)
    with pytest.raises(ConfigError, match="wave_augment"):
        check_augment(cfg)
    assert ClipDataset(tones, cfg, CLASSES, train=False).steps == []   # validation runs no steps
    with pytest.raises(ConfigError, match=r"batch_augment: unknown step\(s\) 'cutmix'; registered: specaugment, "
                                          r"mixup"):
        batch_steps(small_cfg(tmp_path, batch_augment=["specaugment", "cutmix"]))
    with pytest.raises(ConfigError, match="lists of step names"):
        Config(wave_augment=["gain", 3])
    assert Config.from_dict({"wave_augment": ["gain"]}).wave_augment == ("gain",)
    assert set(BATCH_STEPS) == {"specaugment", "mixup"}
