"""The random draws of augmentation steps: ``TorchRandom``, the ``rng`` every step receives.

Every draw comes from torch's global generator, which the ``Trainer`` seeds and each DataLoader
worker reseeds, as the soundscape banks' draws do: a fixed seed gives the same crops, masks and
mixes, and a resumed run (which restores that generator) continues the same sequence.
"""
from __future__ import annotations

import torch


class TorchRandom:
    """Scalar and vector draws from torch's global generator."""

    def rand(self) -> float:
        """A float in [0, 1)."""
        return float(torch.rand(()))

    def uniform(self, lo: float, hi: float) -> float:
        return lo + (hi - lo) * self.rand()

    def randint(self, high: int) -> int:
        """An int in [0, high) (0 when high <= 1; a draw is made either way)."""
        return int(torch.randint(0, max(1, high), ()))

    def chance(self, prob: float) -> bool:
        """True with probability ``prob``; no draw when ``prob`` is 0."""
        return prob > 0 and self.rand() < prob

    def normal(self, n: int) -> torch.Tensor:
        return torch.randn(n)


TORCH_RANDOM = TorchRandom()
