"""Validation on labelled soundscape windows through the inference path, during training."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..data.soundscapes import _Decoded
from ..infer.ensemble import Ensemble
from ..metrics import macro_roc_auc


class SoundscapeValidation(_Decoded):
    """Labelled windows (``windows``: ``filename``, ``row_id``; ``targets`` ``[N, classes]``) scored
    through the model's inference path; ``evaluate`` returns the competition metric."""

    def __init__(self, soundscape_dir, windows, targets, sample_rate: int, window_samples: int):
        self.names = list(dict.fromkeys(windows["filename"]))
        super().__init__([Path(soundscape_dir) / n for n in self.names], sample_rate)
        self.window, self.targets = window_samples, np.asarray(targets, dtype=np.float32)
        self.rows = {name: [] for name in self.names}   # file -> [(row in targets, window index)]
        for r, (name, end) in enumerate(zip(windows["filename"], windows["end"])):
            self.rows[name].append((r, int(round(float(end) * sample_rate / window_samples)) - 1))

    def __len__(self):
        return len(self.targets)

    def predict(self, model, chunk_samples: int, loss: str, device="cpu") -> np.ndarray:
        """Probabilities ``[N, classes]`` of every labelled window (NaN where its file failed), by
        the inference path (``Ensemble.member_probs``) with ``model`` as it is now."""
        out = np.full(self.targets.shape, np.nan, dtype=np.float32)
        scorer = Ensemble.of_model(model, loss, chunk_samples, range(self.targets.shape[1]), device)
        for i, name in enumerate(self.names):
            wave = self.wave(i)
            if wave is None:
                continue
            probs = scorer.member_probs(wave.astype(np.float32))[0]
            for r, w in self.rows[name]:
                if w < len(probs):
                    out[r] = probs[w]
        return out

    def evaluate(self, model, chunk_samples: int, loss: str, device="cpu") -> float:
        probs = self.predict(model, chunk_samples, loss, device)
        ok = ~np.isnan(probs).any(axis=1)
        return macro_roc_auc(self.targets[ok], probs[ok]) if ok.any() else float("nan")
