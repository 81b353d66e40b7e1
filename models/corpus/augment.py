"""Waveform augmentation with the true speech boundaries kept.

`trim(x)` cuts a clean TTS waveform to its speech; `augment(x, rng)` then applies, in order:
speed perturbation (resampling, 0.9-1.1, which also shifts pitch), up to two mid-utterance pauses
(inserted in low-energy gaps between words), simple room reverberation (exponentially decaying
noise impulse response), leading and trailing silence, gain, and additive coloured noise at
5-30 dB SNR (always at least a faint dither: espeak writes exact digital silence between words).
It returns the waveform and the speech start/end in seconds, which end-pointer training needs.
All randomness comes from `rng`, so a (seed, utterance, epoch) triple fixes the result.
"""

import dataclasses

import numpy as np
import scipy.fft
import scipy.signal

from .tts import SAMPLE_RATE_HZ


@dataclasses.dataclass(frozen=True)
class AugmentConfig:
    speed_range: tuple[float, float] = (0.9, 1.1)
    pause_prob: float = 0.3
    pause_s: tuple[float, float] = (0.15, 0.6)
    reverb_prob: float = 0.4
    rt60_s: tuple[float, float] = (0.1, 0.5)
    lead_s: tuple[float, float] = (0.05, 0.6)
    trail_s: tuple[float, float] = (0.05, 0.6)
    snr_db: tuple[float, float] = (5.0, 30.0)
    noise_prob: float = 0.85
    gain_db: tuple[float, float] = (-18.0, 0.0)
    fast_noise: bool = False     # shape noise at an FFT-friendly length (see `_colored_noise`)


def trim(x: np.ndarray, threshold_db: float = -45.0) -> np.ndarray:
    """x without its leading and trailing silence (10 ms frames below `threshold_db` of peak)."""
    frame = SAMPLE_RATE_HZ // 100
    n = len(x) // frame
    if n == 0:
        return x
    e = (x[: n * frame].reshape(n, frame) ** 2).mean(axis=1)
    on = np.nonzero(10 * np.log10(e + 1e-12) > 10 * np.log10(e.max() + 1e-12) + threshold_db)[0]
    if on.size == 0:
        return x
    return x[on[0] * frame: (on[-1] + 1) * frame]


def peak_normalize(x: np.ndarray, peak: float = 0.5) -> np.ndarray:
    return (x * (peak / max(float(np.abs(x).max()), 1e-6))).astype(np.float32)


def _colored_noise(n: int, rng, fast: bool = False) -> np.ndarray:
    """White, pink or brown noise, or a mains hum with harmonics, unit RMS.

    Pink and brown noise are white noise shaped in the frequency domain. An FFT of a length with a
    large prime factor takes ~40 ms where a 5-smooth length takes ~2 ms; `fast` shapes noise of the
    next fast length and keeps the first n samples (the same statistics, other samples). Corpus
    files are built with fast=False, so corpora cached before this option stay what a fresh build
    makes; training augmentation uses fast=True.
    """
    kind = int(rng.integers(4))
    if kind == 3:
        t = np.arange(n) / SAMPLE_RATE_HZ
        f0 = 50.0 if rng.random() < 0.5 else 60.0
        x = sum(np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 6.3)) / k for k in range(1, 6))
        x = x + 0.3 * rng.standard_normal(n)
    else:
        m = scipy.fft.next_fast_len(n, real=True) if fast else n
        spec = np.fft.rfft(rng.standard_normal(m))
        f = np.maximum(np.arange(spec.size), 1.0)
        spec = spec / f ** (0.5 * kind)
        x = np.fft.irfft(spec, m)[:n]
    return (x / (np.sqrt(np.mean(x ** 2)) + 1e-9)).astype(np.float32)


def _pause_points(x: np.ndarray) -> np.ndarray:
    """Sample indices inside low-energy gaps between words (excluding the edges)."""
    frame = SAMPLE_RATE_HZ // 100
    n = len(x) // frame
    if n < 30:
        return np.zeros(0, dtype=np.int64)
    e = (x[: n * frame].reshape(n, frame) ** 2).mean(axis=1)
    quiet = np.nonzero(e < 1e-3 * e.max())[0]
    quiet = quiet[(quiet > 10) & (quiet < n - 10)]
    return quiet * frame


def augment(x: np.ndarray, rng, cfg: AugmentConfig = AugmentConfig()):
    """(waveform, speech_start_s, speech_end_s) for a trimmed clean waveform `x`."""
    x = x.astype(np.float32)
    speed = rng.uniform(*cfg.speed_range)
    if abs(speed - 1.0) > 0.01:
        up = 100
        down = int(round(100 * speed))
        x = scipy.signal.resample_poly(x, up, down).astype(np.float32)
    if rng.random() < cfg.pause_prob:
        pts = _pause_points(x)
        for p in sorted(rng.choice(pts, size=min(len(pts), int(rng.integers(1, 3))), replace=False),
                        reverse=True) if len(pts) else []:
            gap = np.zeros(int(rng.uniform(*cfg.pause_s) * SAMPLE_RATE_HZ), np.float32)
            x = np.concatenate([x[:p], gap, x[p:]])
    speech_len = len(x)
    if rng.random() < cfg.reverb_prob:
        rt60 = rng.uniform(*cfg.rt60_s)
        n = int(rt60 * SAMPLE_RATE_HZ)
        t = np.arange(n) / SAMPLE_RATE_HZ
        ir = rng.standard_normal(n) * np.exp(-6.9 * t / rt60)
        ir[0] = 1.0 / rng.uniform(0.3, 1.0)
        x = scipy.signal.fftconvolve(x, ir.astype(np.float32))[: speech_len].astype(np.float32)
    lead = int(rng.uniform(*cfg.lead_s) * SAMPLE_RATE_HZ)
    trail = int(rng.uniform(*cfg.trail_s) * SAMPLE_RATE_HZ)
    y = np.concatenate([np.zeros(lead, np.float32), peak_normalize(x), np.zeros(trail, np.float32)])
    speech_rms = float(np.sqrt(np.mean(y[lead: lead + speech_len] ** 2)))
    snr = rng.uniform(*cfg.snr_db) if rng.random() < cfg.noise_prob else 50.0
    y = y + _colored_noise(len(y), rng, cfg.fast_noise) * speech_rms * 10 ** (-snr / 20)
    y = y * 10 ** (rng.uniform(*cfg.gain_db) / 20)
    y = np.clip(y, -1.0, 1.0).astype(np.float32)
    return y, lead / SAMPLE_RATE_HZ, (lead + speech_len) / SAMPLE_RATE_HZ
