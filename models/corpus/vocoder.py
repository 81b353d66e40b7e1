"""LPC vocoder resynthesis: a training voice re-spoken through a source-filter vocoder.

The held-out flite voices (clustergen awb, rms, slt) are statistical-parametric speech: a smoothed
spectral envelope driven by a pulse train or noise. Every training engine sounds different
(espeak's formants, festival's diphone LPC residuals), and the models fail on that vocoder
character even for a speaker they know (festival's slt HTS voice is in training; flite's slt is
not). `resynthesize` re-speaks a waveform that way: per 5 ms frame an all-pole envelope (LPC from
the lag-windowed autocorrelation, formant bandwidths widened at random), an autocorrelation pitch
track scaled by a random factor, and a pulse-train excitation with a random share of noise. The
words, timing and envelope stay; the excitation, pitch and spectral detail change.
"""

import dataclasses

import numpy as np
import scipy.signal

from .tts import SAMPLE_RATE_HZ

HOP = SAMPLE_RATE_HZ // 200         # 5 ms
WIN = SAMPLE_RATE_HZ * 25 // 1000   # 25 ms
N_FFT = 1024                        # >= 2 * WIN: the autocorrelation has no wrap-around
F0_RANGE_HZ = (60.0, 400.0)


@dataclasses.dataclass(frozen=True)
class VocoderConfig:
    order: int = 18
    f0_scale: tuple[float, float] = (0.75, 1.35)
    f0_flatten: tuple[float, float] = (0.0, 0.6)       # share of the pitch contour pulled to its median
    bandwidth_gamma: tuple[float, float] = (0.88, 1.0)  # a_k *= gamma**k: wider formants below 1
    noise_mix: tuple[float, float] = (0.0, 0.35)        # noise share of the voiced excitation
    voicing_threshold: float = 0.35


def _levinson(r: np.ndarray, order: int) -> tuple[np.ndarray, np.ndarray]:
    """LPC polynomials a (frames, order+1), a[:, 0] = 1, and prediction-error powers, for each
    row of autocorrelations r (frames, >= order+1); vectorized over frames."""
    n = r.shape[0]
    a = np.zeros((n, order + 1))
    a[:, 0] = 1.0
    err = r[:, 0].copy()
    for i in range(1, order + 1):
        acc = r[:, i] + np.einsum("fj,fj->f", a[:, 1:i], r[:, i - 1:0:-1])
        k = -acc / np.maximum(err, 1e-12)
        prev = a[:, 1:i].copy()
        a[:, 1:i] = prev + k[:, None] * prev[:, ::-1]
        a[:, i] = k
        err = err * np.maximum(1.0 - k * k, 1e-6)
    return a, err


def _frames(x: np.ndarray) -> np.ndarray:
    n = -(-len(x) // HOP)
    padded = np.concatenate([np.zeros(WIN // 2), x, np.zeros(n * HOP + WIN)])
    idx = np.arange(WIN)[None, :] + HOP * np.arange(n)[:, None]
    return padded[idx]


def _pitch(ac: np.ndarray, threshold: float) -> np.ndarray:
    """F0 in Hz per frame (0: unvoiced) from the normalized autocorrelation peak."""
    lo = int(SAMPLE_RATE_HZ / F0_RANGE_HZ[1])
    hi = int(SAMPLE_RATE_HZ / F0_RANGE_HZ[0])
    norm = ac[:, lo:hi] / np.maximum(ac[:, :1], 1e-12)
    lag = np.argmax(norm, axis=1)
    voiced = norm[np.arange(len(norm)), lag] > threshold
    voiced &= ac[:, 0] > 1e-4 * ac[:, 0].max()
    f0 = np.where(voiced, SAMPLE_RATE_HZ / (lag + lo), 0.0)
    return scipy.signal.medfilt(f0, 5)


def _excitation(f0_per_frame: np.ndarray, n: int, noise_mix: float, rng) -> np.ndarray:
    """Unit-power excitation: pulses at the (sample-interpolated) pitch where voiced, noise elsewhere."""
    f0 = np.repeat(f0_per_frame, HOP)[:n]
    voiced = f0 > 0
    phase = np.cumsum(np.where(voiced, f0, 0.0) / SAMPLE_RATE_HZ)
    pulses = (np.diff(np.floor(phase), prepend=0.0) > 0).astype(np.float64)
    pulses *= np.sqrt(SAMPLE_RATE_HZ / np.maximum(f0, F0_RANGE_HZ[0]))     # unit power per period
    noise = rng.standard_normal(n)
    return np.where(voiced, np.sqrt(1.0 - noise_mix) * pulses + np.sqrt(noise_mix) * noise, noise)


def resynthesize(x: np.ndarray, rng, cfg: VocoderConfig = VocoderConfig()) -> np.ndarray:
    """`x` re-spoken through a randomly set LPC vocoder, at the same length and peak level."""
    x = np.asarray(x, np.float64)
    if len(x) < WIN or not np.any(x):
        return x.astype(np.float32)
    frames = _frames(x) * np.hanning(WIN)
    spec = np.fft.rfft(frames, N_FFT)
    ac = np.fft.irfft(np.abs(spec) ** 2, N_FFT)[:, :WIN]
    lags = np.arange(cfg.order + 1)
    r = ac[:, : cfg.order + 1] * np.exp(-0.5 * (2 * np.pi * 60.0 * lags / SAMPLE_RATE_HZ) ** 2)
    r[:, 0] = r[:, 0] * 1.0001 + 1e-9
    a, err = _levinson(r, cfg.order)
    gamma = rng.uniform(*cfg.bandwidth_gamma)
    a = a * gamma ** lags
    gain = np.sqrt(np.maximum(err, 0.0) / np.sum(np.hanning(WIN) ** 2))

    f0 = _pitch(ac, cfg.voicing_threshold)
    voiced = f0 > 0
    if voiced.any():
        med = np.median(f0[voiced])
        flat = rng.uniform(*cfg.f0_flatten)
        f0 = np.where(voiced, (f0 + flat * (med - f0)) * rng.uniform(*cfg.f0_scale), 0.0)
        f0 = np.clip(f0, 0.0, F0_RANGE_HZ[1] * 1.2)
    src = _excitation(f0, len(x), rng.uniform(*cfg.noise_mix), rng)

    y = np.empty(len(x))
    zi = np.zeros(cfg.order)
    for i in range(-(-len(x) // HOP)):
        seg = slice(i * HOP, min((i + 1) * HOP, len(x)))
        y[seg], zi = scipy.signal.lfilter([gain[i]], a[i], src[seg], zi=zi * 1.0)
    y = np.nan_to_num(y)
    peak = np.abs(y).max()
    return (y * (np.abs(x).max() / peak) if peak > 0 else y).astype(np.float32)
