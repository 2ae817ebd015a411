"""Rendering the demo's audio: noise, focal training recordings, and soundscapes.

The classic soundscape (``render_soundscape``) mixes calls at close range with wind, rain and
insect chorus. The field soundscape (``render_field``) is recorded far away: every call is
attenuated with distance, loses its high frequencies (air absorption: a low-pass whose cut-off
falls with distance), and reaches the microphone through a reverberant room (exponentially
decaying noise, RT60 per file, more reverberant energy the further the caller); species that are
in no taxonomy call in the background; the signal-to-noise ratio is low.
"""
from __future__ import annotations

import numpy as np
from scipy.signal import butter, fftconvolve, lfilter, resample_poly, sosfilt

from .species import SR, synth_call

WINDOW_S = 5
MIN_OVERLAP_S = 0.5      # a call labels a window if it overlaps it this long (or all of it)
SPILL_S = 0.3            # soundscape calls may cross into a neighbouring window this far
REF_DISTANCE_M = 10.0    # a field call at this distance keeps its level and its spectrum


# ---------------------------------------------------------------- noise
def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.float32(np.sqrt(np.mean(np.square(x, dtype=np.float64))) + 1e-12)


def _slow_curve(rng, n: int, knot_s: float, lo: float, hi: float) -> np.ndarray:
    """Random values every ``knot_s`` seconds, linearly joined (at 1 ms steps), in [lo, hi]."""
    knots = rng.uniform(lo, hi, int(n / SR / knot_s) + 2)
    coarse = np.interp(np.arange(0, n, 32), np.linspace(0, n, knots.size), knots)
    return np.repeat(coarse.astype(np.float32), 32)[:n]


def _iir(b, a, x: np.ndarray) -> np.ndarray:
    """``lfilter`` kept in float32 (noise does not need float64, and it is twice as fast)."""
    return lfilter(np.asarray(b, np.float32), np.asarray(a, np.float32), x)


def _white(rng, n: int) -> np.ndarray:
    """Uniform white noise of unit variance (cheaper than Gaussian, same spectrum)."""
    return (rng.random(n, dtype=np.float32) - np.float32(0.5)) * np.float32(12 ** 0.5)


def wind_noise(rng, n: int) -> np.ndarray:
    """Low-passed brownian noise with slow gusts."""
    low = _iir([0.1], [1.0, -0.9], _iir([1.0], [1.0, -0.99], _white(rng, n)))
    return _unit((low - low.mean()) * _slow_curve(rng, n, 1.5, 0.1, 1.0))


def rain_noise(rng, n: int) -> np.ndarray:
    """White-ish hiss plus random droplet clicks."""
    hiss = _iir([1.0, -0.6], [1.0], _white(rng, n))
    drops = np.zeros(n, np.float32)
    idx = rng.integers(0, n, int(rng.uniform(5, 40) * n / SR))
    drops[idx] = rng.uniform(0.5, 3.0, idx.size) * rng.choice([-1.0, 1.0], idx.size)
    r, w = 0.995, 2 * np.pi * rng.uniform(1500, 6000) / SR   # each drop rings for a few ms
    clicks = _iir([1.0], [1.0, -2 * r * np.cos(w), r * r], drops)
    return _unit(_unit(hiss) + 1.5 * _unit(clicks))


def chorus_noise(rng, n: int) -> np.ndarray:
    """Continuous insect chorus: a narrow noise band at 3.5-9 kHz, pulsing at 30-60 Hz."""
    w, r = 2 * np.pi * rng.uniform(3500, 9000) / SR, 1 - 2 * np.pi * rng.uniform(40, 150) / SR
    resonator = [1.0, -2 * r * np.cos(w), r * r]
    band = _iir([1.0], resonator, _iir([1.0], resonator, _white(rng, n)))
    t = np.arange(n, dtype=np.float32) / np.float32(SR)
    am = np.sin(np.float32(2 * np.pi * rng.uniform(30, 60)) * t + np.float32(rng.uniform(0, 6.3)))
    return _unit(band * (0.55 + 0.45 * am) ** 2 * _slow_curve(rng, n, 4.0, 0.5, 1.0))


def stream_noise(rng, n: int) -> np.ndarray:
    """A brook or distant road: steady pink-ish broadband noise."""
    return _unit(_iir([1.0], [1.0, -0.95], _white(rng, n)) + 0.3 * _white(rng, n))


def hum_noise(rng, n: int) -> np.ndarray:
    """An engine or generator far off: a low hum with a few harmonics, slowly wavering."""
    f0 = np.float32(rng.uniform(60, 180))
    wobble = _slow_curve(rng, n, 3.0, 0.97, 1.03)
    phase = np.float32(2 * np.pi) * f0 * np.cumsum(wobble) / np.float32(SR)
    return _unit(sum(np.sin(h * phase) / h for h in (1, 2, 3, 4)).astype(np.float32))


NOISES = {"rain": rain_noise, "chorus": chorus_noise, "stream": stream_noise, "hum": hum_noise}


def background(rng, n: int, extra=(("rain", 0.35, 0.3, 1.0), ("chorus", 0.5, 0.1, 0.35))) -> np.ndarray:
    """Wind over a faint white floor plus, each with its probability and gain range, the noises
    of ``extra`` (``(name, probability, low gain, high gain)``); RMS 1."""
    mix = 0.05 * _white(rng, n) + np.float32(rng.uniform(0.3, 1.0)) * wind_noise(rng, n)
    for name, prob, lo, hi in extra:
        if rng.random() < prob:
            mix += np.float32(rng.uniform(lo, hi)) * NOISES[name](rng, n)
    return _unit(mix)


def _add(track: np.ndarray, call: np.ndarray, start: int) -> None:
    end = min(track.size, start + call.size)
    track[start:end] += call[: end - start]


def _finish(calls: np.ndarray, rng, snr_db: float, noise=None) -> np.ndarray:
    """Calls (active RMS ~1) plus background at ``snr_db``, peak-normalised to 0.7."""
    noise = background(rng, calls.size) if noise is None else noise
    mix = calls + noise * np.float32(10 ** (-snr_db / 20))
    return (0.7 * mix / np.abs(mix).max()).astype(np.float32)


# ---------------------------------------------------------------- training recordings
def render_train(rec: dict, species, rng, late_prob: float = 0.2) -> np.ndarray:
    """A train recording: calls of the primary species at random times, maybe a quiet other.

    A share ``late_prob`` of the recordings (of 8 s or more) stays silent for its first 5 s.
    ``rec["sample_rate"]``/``rec["channels"]``, when present, resample it and make it stereo.
    """
    track = np.zeros(int(rec["seconds"] * SR), np.float32)
    first = WINDOW_S * SR if rec["seconds"] >= 8 and rng.random() < late_prob else 0
    for _ in range(1 + rng.poisson((track.size - first) / SR / 2.5)):
        call = synth_call(species[rec["species"]], rng) * rng.uniform(0.6, 1.0)
        _add(track, call, int(rng.integers(first, max(first + 1, track.size - call.size))))
    if rec["secondary"] is not None:
        call = synth_call(species[rec["secondary"]], rng) * 10 ** (-rng.uniform(12, 20) / 20)
        _add(track, call, int(rng.integers(0, max(1, track.size - call.size))))
    audio = _finish(track, rng, rng.uniform(0, 15))
    return as_recorded(audio, rng, rec.get("sample_rate", SR), rec.get("channels", 1))


def as_recorded(audio: np.ndarray, rng, sample_rate: int, channels: int) -> np.ndarray:
    """``audio`` at ``sample_rate`` (polyphase resampling) with ``channels`` (a second microphone
    a little louder or softer, with its own faint hiss)."""
    if sample_rate != SR:
        g = np.gcd(sample_rate, SR)
        audio = resample_poly(audio, sample_rate // g, SR // g).astype(np.float32)
    if channels == 2:
        other = audio * np.float32(rng.uniform(0.6, 1.0)) + 0.01 * _white(rng, audio.size)
        audio = np.stack([audio, other], axis=1)
        audio = (0.7 * audio / np.abs(audio).max()).astype(np.float32)
    return audio


# ---------------------------------------------------------------- classic soundscapes
def plan_windows(rng, pool, must=(), n_windows=12) -> list[list[int]]:
    """Species calling in each 5-s window: 0-3 from ``pool``, one window empty, ``must`` all used."""
    counts = rng.choice(4, n_windows, p=[0.2, 0.35, 0.3, 0.15])
    plan = [sorted(rng.choice(pool, min(c, len(pool)), replace=False).tolist()) for c in counts]
    empty = int(rng.integers(n_windows))
    plan[empty] = []
    _place_must(rng, plan, must, empty)
    return plan


def _place_must(rng, plan, must, empty) -> None:
    for s in must:
        if not any(s in w for w in plan):
            others = [i for i in range(len(plan)) if i != empty]
            free = [i for i in others if len(plan[i]) < 3] or others
            plan[int(rng.choice(free))].append(int(s))


def _call_start(rng, w: int, dur: float, seconds: float) -> float:
    lo = max(0.0, w * WINDOW_S - SPILL_S)
    hi = min(seconds - dur, (w + 1) * WINDOW_S - dur + SPILL_S)
    return rng.uniform(lo, max(lo, hi))


def render_soundscape(rng, species, pool, must=(), seconds=60) -> tuple[np.ndarray, list]:
    """A classic soundscape and its call events ``(species, start_s, end_s)``."""
    track, events = np.zeros(seconds * SR, np.float32), []
    for w, chosen in enumerate(plan_windows(rng, pool, must, seconds // WINDOW_S)):
        for s in chosen:
            for _ in range(int(rng.integers(1, 3))):
                call = synth_call(species[s], rng) * 10 ** (-rng.uniform(0, 6) / 20)
                start = _call_start(rng, w, call.size / SR, seconds)
                _add(track, call, int(start * SR))
                events.append((s, start, start + call.size / SR))
    return _finish(track, rng, rng.uniform(5, 15)), events


def window_labels(events, n_species: int, n_windows: int = 12) -> np.ndarray:
    """(n_windows, n_species) 0/1: a call overlaps the window by MIN_OVERLAP_S (or its whole length)."""
    y = np.zeros((n_windows, n_species), dtype=np.int64)
    for s, start, end in events:
        for w in range(y.shape[0]):
            overlap = min(end, (w + 1) * WINDOW_S) - max(start, w * WINDOW_S)
            if overlap >= min(MIN_OVERLAP_S, end - start - 1e-6):
                y[w, s] = 1
    return y


# ---------------------------------------------------------------- field soundscapes
def reverb_tail(rng, rt60: float) -> np.ndarray:
    """A room's late reverberation: noise decaying by 60 dB in ``rt60`` s, darkened, energy 1."""
    n = int(rt60 * SR)
    t = np.arange(n, dtype=np.float32) / np.float32(SR)
    tail = _white(rng, n) * np.exp(np.float32(-6.91 / rt60) * t)
    tail = _iir([0.35], [1.0, -0.65], tail)  # foliage absorbs the highs of the late sound
    return (tail / np.sqrt(np.sum(np.square(tail, dtype=np.float64)))).astype(np.float32)


def far_away(call: np.ndarray, distance: float, tail: np.ndarray) -> np.ndarray:
    """``call`` as heard from ``distance`` m: spherical loss, air absorption, reverberation."""
    ratio = REF_DISTANCE_M / max(distance, REF_DISTANCE_M)
    cutoff = min(0.45 * SR, 16000.0 * ratio ** 0.7)
    direct = call if cutoff >= 0.45 * SR else sosfilt(butter(2, cutoff, fs=SR, output="sos"), call)
    wet = np.float32(min(3.0, 0.25 / ratio)) * fftconvolve(direct, tail)
    wet[: direct.size] += direct
    return (wet * ratio).astype(np.float32)


def plan_weighted(rng, weights: np.ndarray, must=(), n_windows=12, p_counts=(0.15, 0.35, 0.3, 0.2)):
    """Species per 5-s window drawn by ``weights`` (0-3 each), one window empty, ``must`` all used."""
    counts = rng.choice(len(p_counts), n_windows, p=list(p_counts))
    p = weights / weights.sum()
    plan = [sorted(rng.choice(len(p), min(c, int((p > 0).sum())), replace=False, p=p).tolist()) for c in counts]
    empty = int(rng.integers(n_windows))
    plan[empty] = []
    _place_must(rng, plan, must, empty)
    return plan


def render_field(rng, species, weights, must, seconds, field, unknown=()) -> tuple[np.ndarray, list]:
    """A soundscape recorded far away (``field``: a ``Design``); events of the labelled species."""
    n_windows = seconds // WINDOW_S
    tail = reverb_tail(rng, rng.uniform(*field.rt60_s))
    track, events = np.zeros(seconds * SR + tail.size, np.float32), []
    for w, chosen in enumerate(plan_weighted(rng, weights, must, n_windows)):
        for s in chosen:
            distance = rng.uniform(*field.distance_m)
            for _ in range(int(rng.integers(1, 4))):
                call = synth_call(species[s], rng) * 10 ** (-rng.uniform(0, 4) / 20)
                start = _call_start(rng, w, call.size / SR, seconds)
                _add(track, far_away(call, distance, tail), int(start * SR))
                events.append((s, start, start + call.size / SR))
    busy = np.flatnonzero(rng.random(n_windows) < field.unknown_rate) if unknown else []
    for w in busy:  # species of no taxonomy, never labelled
        call = synth_call(unknown[int(rng.integers(len(unknown)))], rng)
        start = _call_start(rng, int(w), call.size / SR, seconds)
        _add(track, far_away(call, rng.uniform(*field.distance_m), tail), int(start * SR))
    noise = background(rng, seconds * SR, field.noises)
    return _finish(track[: seconds * SR], rng, rng.uniform(*field.snr_db), noise), events
