import numpy as np
import pytest
import torch
import torch.nn.functional as F

from birdkit.augment.batch import SpecAugment, mixup, sampler_weights, smooth_targets
from birdkit.augment.waveform import random_lowpass, random_reverb


def test_mixup_max_labels_are_the_union():
    torch.manual_seed(0)
    x, y = torch.randn(4, 10), torch.eye(4)
    xm, ym, lam, perm = mixup(x, y, alpha=0.4, labels="max")
    assert torch.equal(ym, torch.maximum(y, y[perm])) and torch.allclose(xm, lam * x + (1 - lam) * x[perm])


def test_mixup_conserves_target_mass_and_mixes_pairs():
    torch.manual_seed(0)
    x = torch.arange(8, dtype=torch.float32).view(8, 1, 1, 1).expand(8, 1, 2, 2).clone()
    y = torch.eye(8)
    xm, ym, lam, perm = mixup(x, y, alpha=0.4)
    assert 0 < lam < 1 and not torch.equal(perm, torch.arange(8))
    assert torch.allclose(ym.sum(1), y.sum(1))
    assert torch.allclose(xm[:, 0, 0, 0], lam * x[:, 0, 0, 0] + (1 - lam) * x[perm, 0, 0, 0])
    assert torch.allclose(ym, lam * y + (1 - lam) * y[perm])
    assert mixup(x, y, 0.0)[0] is x


def test_specaugment_only_in_training_and_within_share():
    aug = SpecAugment(n_mels=100, n_frames=300, time_frac=0.2, freq_frac=0.1)
    x = torch.ones(16, 3, 100, 300)
    aug.eval()
    assert torch.equal(aug(x), x)
    aug.train()
    torch.manual_seed(1)
    out = aug(x)
    zero_cols = (out[:, 0] == 0).all(dim=1).sum(dim=1)   # fully masked frames per example
    zero_rows = (out[:, 0] == 0).all(dim=2).sum(dim=1)   # fully masked bands per example
    assert zero_cols.max() <= 60 and zero_rows.max() <= 10
    assert zero_cols.float().mean() > 5 and zero_rows.float().mean() > 1
    assert torch.equal(out[:, 0], out[:, 2])              # one mask shared by the channels


def test_sampler_weights_follow_power():
    labels = ["a"] * 8 + ["b"] * 2
    assert np.allclose(sampler_weights(labels, 0.0), 1.0)
    w = sampler_weights(labels, 1.0)
    assert np.isclose(w[:8].sum(), w[8:].sum())           # fully balanced
    w = sampler_weights(labels, 0.5)
    assert np.isclose(w[8] / w[0], 2.0)                   # (8/2) ** 0.5


@pytest.mark.parametrize("n_classes", [4, 206])
def test_bce_label_smoothing_moves_every_output_to_the_same_optimum(n_classes):
    """What a model trained on smoothed BCE targets converges to: each output is its own two-class
    problem, so negatives settle at eps/2 and positives at 1 - eps/2, whatever the class count."""
    eps = 0.2
    y = torch.zeros(1, n_classes)
    y[0, 1] = 1.0
    logits = torch.zeros(1, n_classes, requires_grad=True)
    opt = torch.optim.LBFGS([logits], lr=1.0, max_iter=200)

    def closure():
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(logits, smooth_targets(y, eps))
        loss.backward()
        return loss

    opt.step(closure)
    p = torch.sigmoid(logits.detach())[0]
    assert torch.allclose(p[1], torch.tensor(1 - eps / 2), atol=1e-3)
    negatives = torch.cat([p[:1], p[2:]])
    assert torch.allclose(negatives, torch.full_like(negatives, eps / 2), atol=1e-3)
    assert torch.equal(smooth_targets(y, 0.0), y)


def test_random_lowpass_keeps_the_lows_and_cuts_the_highs():
    sr = 32000
    t = np.arange(sr) / sr
    wave = (np.sin(2 * np.pi * 500 * t) + np.sin(2 * np.pi * 12000 * t)).astype(np.float32)
    torch.manual_seed(0)
    out = random_lowpass(wave, sr, fmax=2001.0, lowest=2000.0)   # cutoff at 2 kHz
    spectrum = np.abs(np.fft.rfft(out))
    assert out.dtype == np.float32 and out.shape == wave.shape
    assert spectrum[500] > 0.9 * sr / 2 and spectrum[12000] < 0.05 * sr / 2


def test_random_reverb_spreads_an_impulse_into_a_decaying_tail():
    sr = 8000
    wave = np.zeros(2 * sr, np.float32)
    wave[100] = 1.0
    torch.manual_seed(0)
    out = random_reverb(wave, sr, rt60_s=(0.5, 0.5))
    assert out.dtype == np.float32 and out.shape == wave.shape
    assert np.isclose(np.sqrt(np.mean(out ** 2)), np.sqrt(np.mean(wave ** 2)), rtol=1e-4)   # RMS kept
    assert np.abs(out[:100]).max() < 1e-5 and np.argmax(np.abs(out)) == 100   # causal; direct path first
    energy = lambda a, b: float(np.sum(out[100 + int(a * sr):100 + int(b * sr)] ** 2))  # noqa: E731
    early, late = energy(0.01, 0.1), energy(0.4, 0.49)
    assert early > 0 and 10 * np.log10(early / late) > 20      # the tail decays (60 dB per 0.5 s)
    assert np.abs(out[100 + sr // 2 + 1:]).max() < 1e-5         # and stops at rt60


def test_random_reverb_differs_per_draw_and_repeats_per_seed():
    wave = np.random.default_rng(0).normal(0, 0.1, 16000).astype(np.float32)
    torch.manual_seed(1)
    a, b = random_reverb(wave, 16000, (0.2, 1.0)), random_reverb(wave, 16000, (0.2, 1.0))
    torch.manual_seed(1)
    assert not np.allclose(a, b) and np.array_equal(a, random_reverb(wave, 16000, (0.2, 1.0)))
