"""Soundscapes during training: background chunks, pseudo-labelled chunks, labelled validation.

``SoundscapeBank`` draws random chunks of unlabelled soundscapes (background for focal crops).
``PseudoLabels`` draws chunks aligned to 5-s windows together with their soft targets (teacher
probabilities raised to ``1/T``, the max over the windows the chunk covers), chunks picked with a
weight that follows the teacher's confidence (the 2025 winner's noisy student).
``SoundscapeValidation`` scores labelled soundscape windows with the competition metric through
the inference path (chunks -> window logits), the validation that predicts the leaderboard.
Files that cannot be decoded are skipped and listed in ``failed`` (the stage reports them).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .audio import AudioError, audio_info, load_audio, read_segment

CACHE_BYTES = 1_000_000_000  # per process: decoded soundscapes kept as float16 (a 60-s file is 3.8 MB)


class _Decoded:
    """Soundscapes decoded once and kept as float16 while they fit in ``cache_bytes``; past that,
    only the chunk asked for is decoded (soundfile seeks), so 10,000 one-minute files never fill
    the memory."""

    def __init__(self, files, sample_rate: int, cache_bytes: int = CACHE_BYTES):
        self.files, self.sample_rate, self.cache_bytes = [Path(f) for f in files], sample_rate, cache_bytes
        self._waves, self._seconds, self.failed, self._cached = {}, {}, {}, 0

    def _fail(self, i: int, exc: AudioError) -> None:
        self.failed[self.files[i].name] = f"{exc.reason}: {exc.detail}"

    def wave(self, i: int) -> np.ndarray | None:
        """The whole file (decoded now if not cached; cached while there is room), or None."""
        if i in self._waves or self.files[i].name in self.failed:
            return self._waves.get(i)
        try:
            wave = load_audio(self.files[i], self.sample_rate).astype(np.float16)
        except AudioError as exc:
            self._fail(i, exc)
            return None
        if self._cached + wave.nbytes <= self.cache_bytes:
            self._waves[i], self._cached = wave, self._cached + wave.nbytes
        return wave

    def samples(self, i: int) -> int | None:
        """Length of file ``i`` in samples (from the header when it is not cached), or None."""
        if i in self._waves:
            return len(self._waves[i])
        if i not in self._seconds and self.files[i].name not in self.failed:
            try:
                self._seconds[i] = audio_info(self.files[i])[1]
            except AudioError as exc:
                self._fail(i, exc)
        return None if i not in self._seconds else int(self._seconds[i] * self.sample_rate)

    def chunk(self, i: int, start: int, length: int) -> np.ndarray | None:
        """``length`` samples of file ``i`` from sample ``start`` (zero-padded past the end), or None."""
        if i in self._waves or self._cached < self.cache_bytes:
            wave = self.wave(i)
            return None if wave is None else _chunk(wave, start, length)
        try:
            piece = read_segment(self.files[i], self.sample_rate, start / self.sample_rate, length / self.sample_rate)
        except AudioError as exc:
            self._fail(i, exc)
            return None
        return _chunk(piece, 0, length)


def _chunk(wave: np.ndarray, start: int, length: int) -> np.ndarray:
    out = np.zeros(length, dtype=np.float32)
    piece = wave[start:start + length]
    out[:len(piece)] = piece
    return out


class SoundscapeBank(_Decoded):
    """Random chunks of unlabelled soundscapes (``background_prob``)."""

    def random_chunk(self, length: int) -> np.ndarray:
        for _ in range(10):
            i = int(torch.randint(0, len(self.files), ()))
            total = self.samples(i)
            piece = None if total is None else self.chunk(i, int(torch.randint(0, max(1, total - length + 1), ())),
                                                          length)
            if piece is not None:
                return piece
        raise RuntimeError(f"no decodable soundscape among {len(self.files)} files; failed: {self.failed}")


def power_transform(probs: np.ndarray, temperature: float) -> np.ndarray:
    """Pseudo-probabilities sharpened (T < 1) or softened (T > 1): ``p ** (1 / T)``."""
    return np.power(np.clip(probs, 0.0, 1.0), 1.0 / temperature)


class PseudoLabels(_Decoded):
    """Pseudo-labelled soundscapes: ``probs[i]`` is file ``i``'s ``[n_windows, classes]`` from a teacher."""

    def __init__(self, files, probs, sample_rate: int, window_samples: int, temperature: float, chunk_samples: int):
        super().__init__(files, sample_rate)
        self.window, self.k = window_samples, max(1, -(-chunk_samples // window_samples))
        self.soft = [power_transform(np.asarray(p, dtype=np.float32), temperature) for p in probs]
        self.starts = [(i, s) for i, p in enumerate(self.soft) for s in range(max(1, len(p) - self.k + 1))]
        # a chunk is drawn in proportion to its confidence: the sum over species of its soft target
        self.weights = torch.tensor([self.target(i, s).sum() for i, s in self.starts],
                                    dtype=torch.float64).clamp_min(1e-6)

    def target(self, i: int, start: int) -> np.ndarray:
        """Soft target of the chunk starting at window ``start``: the max over its windows."""
        return self.soft[i][start:start + self.k].max(axis=0)

    def random_chunk(self, length: int) -> tuple[np.ndarray, np.ndarray]:
        for _ in range(10):
            i, s = self.starts[int(torch.multinomial(self.weights, 1))]
            piece = self.chunk(i, s * self.window, length)
            if piece is not None:
                return piece, self.target(i, s)
        raise RuntimeError(f"no decodable pseudo-labelled soundscape; failed: {self.failed}")


class LabelledChunks(_Decoded, torch.utils.data.Dataset):
    """Labelled soundscape windows as training items ``(wave [length], targets [C], -1)``: a chunk
    of ``length`` samples starting at each labelled window; its target is the max over the
    labelled windows it covers (windows without labels add nothing)."""

    def __init__(self, soundscape_dir, windows, targets, sample_rate: int, window_samples: int, length: int):
        names = list(dict.fromkeys(windows["filename"]))
        super().__init__([Path(soundscape_dir) / n for n in names], sample_rate)
        self.window, self.length = window_samples, length
        k = max(1, -(-length // window_samples))
        file_index = {n: i for i, n in enumerate(names)}
        starts = [int(round(float(e) * sample_rate / window_samples)) - 1 for e in windows["end"]]
        by_file = {}
        for r, (name, w) in enumerate(zip(windows["filename"], starts)):
            by_file.setdefault(name, {})[w] = r
        self.items = []   # (file index, start window, target)
        for name, rows in by_file.items():
            for w in rows:
                covered = [rows[v] for v in range(w, w + k) if v in rows]
                self.items.append((file_index[name], w, np.asarray(targets, dtype=np.float32)[covered].max(axis=0)))

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        f, w, target = self.items[i]
        piece = self.chunk(f, w * self.window, self.length)
        if piece is None:
            raise RuntimeError(f"labelled soundscape {self.files[f]} cannot be decoded: {self.failed}")
        return torch.from_numpy(piece), torch.from_numpy(target), -1
