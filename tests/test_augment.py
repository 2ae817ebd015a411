import numpy as np
import torch

from birdkit.augment import SpecAugment, make_sampler, mixup, sampler_weights, smooth_targets


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
    drawn = np.array(labels)[list(make_sampler(labels, 1.0, 4000, seed=0))]
    assert 0.45 < (drawn == "b").mean() < 0.55


def test_label_smoothing():
    y = torch.tensor([[1.0, 0.0, 0.0, 0.0]])
    assert torch.allclose(smooth_targets(y, 0.2), torch.tensor([[0.85, 0.05, 0.05, 0.05]]))
