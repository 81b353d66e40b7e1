"""Streaming 16 kHz log-mel features, frame stacking, and the int8 encoder input.

Pipeline (all causal: a frame uses only samples up to its own end, so there is no look-ahead
beyond the 25 ms analysis window):
  waveform -> 25 ms Hann windows every 10 ms (frame k covers samples [160k, 160k + 400)) ->
  |FFT 512|^2 -> 32 triangular mel filters (20 Hz - 7.6 kHz) -> ln(energy + 1e-6) ->
  stack 3 consecutive frames, keep every `stride`-th stack (96 values per encoder input; the stride
  is the model's `ModelConfig.feature_stride`: 3 frames = 30 ms by default, 2 = 20 ms) ->
  int8: q = clip(floor((logmel - FEATURE_OFFSET) * 2**FEATURE_FRAC_BITS + 0.5), -128, 127).
The model sees q * ENCODER_INPUT_SCALE = q / 128, the same scale (2**-7) as every LSTM output, so the
first layer's MATVEC over [x; h] has one input scale. In log-mel units one int8 step is 1/16 nat
and the range is FEATURE_OFFSET +- 8 nats.
"""

import functools

import numpy as np
import torch

from ..firmware.number_formats import FEATURE_STRIDE

SAMPLE_RATE_HZ = 16000
WINDOW_SAMPLES = 400          # 25 ms
HOP_SAMPLES = 160             # 10 ms
N_FFT = 512
N_MELS = 32
STACK = 3                     # frames per encoder input vector
STRIDE = FEATURE_STRIDE       # default frames between encoder input vectors (30 ms)
HOP_S = HOP_SAMPLES / SAMPLE_RATE_HZ
FEATURE_DIM = N_MELS * STACK
FEATURE_OFFSET = -5.0         # ln-energy at int8 zero
FEATURE_FRAC_BITS = 4         # int8 step = 1/16 nat
ENCODER_INPUT_SCALE = 2.0 ** -7


def _mel(f):
    return 1127.0 * np.log1p(f / 700.0)


def vtlp_warp(f_hz: np.ndarray, alpha: float, boundary_hz: float = 4800.0) -> np.ndarray:
    """Vocal tract length perturbation (Jaitly & Hinton 2013): frequencies scaled by `alpha` up to
    a boundary, then linearly onto the Nyquist frequency, which stays where it is."""
    nyquist = SAMPLE_RATE_HZ / 2
    knee = boundary_hz * min(alpha, 1.0) / alpha
    upper = nyquist - (nyquist - boundary_hz * min(alpha, 1.0)) / (nyquist - knee) * (nyquist - f_hz)
    return np.where(f_hz <= knee, f_hz * alpha, upper)


def mel_filterbank(n_mels: int = N_MELS, n_fft: int = N_FFT, lo_hz: float = 20.0,
                   hi_hz: float = 7600.0, warp: float = 1.0) -> np.ndarray:
    """(n_fft // 2 + 1, n_mels) triangular filters on the mel scale; `warp` != 1 sees the spectrum
    through `vtlp_warp` (a training augmentation: another speaker's vocal tract length)."""
    bins = np.arange(n_fft // 2 + 1) * SAMPLE_RATE_HZ / n_fft
    if warp != 1.0:
        bins = vtlp_warp(bins, warp)
    edges = np.linspace(_mel(lo_hz), _mel(hi_hz), n_mels + 2)
    m = _mel(bins)[:, None]
    lo, mid, hi = edges[:-2][None], edges[1:-1][None], edges[2:][None]
    fb = np.maximum(0.0, np.minimum((m - lo) / (mid - lo), (hi - m) / (hi - mid)))
    return fb.astype(np.float32)


_FB = mel_filterbank()
_WIN = np.hanning(WINDOW_SAMPLES + 1)[:-1].astype(np.float32)


@functools.lru_cache(maxsize=64)
def _warped_filterbank(warp: float) -> np.ndarray:
    return mel_filterbank(warp=warp)


def log_mel(wave: np.ndarray, warp: float = 1.0) -> np.ndarray:
    """(frames, N_MELS) float32; frames = 1 + (len - 400) // 160 (0 if shorter than a window).
    `warp`: VTLP factor (training augmentation only; the device's front end is unwarped)."""
    wave = np.asarray(wave, dtype=np.float32)
    assert wave.ndim == 1, wave.shape
    n = 0 if len(wave) < WINDOW_SAMPLES else 1 + (len(wave) - WINDOW_SAMPLES) // HOP_SAMPLES
    if n == 0:
        return np.zeros((0, N_MELS), np.float32)
    idx = np.arange(WINDOW_SAMPLES)[None] + HOP_SAMPLES * np.arange(n)[:, None]
    frames = wave[idx] * _WIN
    spec = np.abs(np.fft.rfft(frames, N_FFT)) ** 2
    fb = _FB if warp == 1.0 else _warped_filterbank(float(warp))
    return np.log(spec @ fb + 1e-6).astype(np.float32)


def stack_frames(mel: np.ndarray, stack: int = STACK, stride: int = STRIDE) -> np.ndarray:
    """(steps, N_MELS * stack): step t concatenates frames t*stride .. t*stride + stack - 1
    (oldest first); incomplete stacks at the end are dropped, as a streaming front end would wait."""
    n = 0 if len(mel) < stack else 1 + (len(mel) - stack) // stride
    if n == 0:
        return np.zeros((0, mel.shape[1] * stack), mel.dtype)
    idx = np.arange(stack)[None] + stride * np.arange(n)[:, None]
    return mel[idx].reshape(n, -1)


def quantize(feat: np.ndarray) -> np.ndarray:
    """int8 encoder input from log-mel values (see module docstring)."""
    q = np.floor((feat - FEATURE_OFFSET) * (1 << FEATURE_FRAC_BITS) + 0.5)
    return np.clip(q, -128, 127).astype(np.int8)


def check_stride(stride: int) -> None:
    """A stride past the stack would skip frames; 0 would never advance."""
    if not 1 <= stride <= STACK:
        raise ValueError(f"feature stride must be 1..{STACK} frames, got {stride}")


def encoder_input(wave: np.ndarray, stride: int = STRIDE, warp: float = 1.0) -> np.ndarray:
    """int8 (steps, FEATURE_DIM) for a whole waveform, one step every `stride` frames."""
    return quantize(stack_frames(log_mel(wave, warp), stride=stride))


def to_model(q: np.ndarray) -> torch.Tensor:
    """The float tensor a model sees for int8 features: q * 2**-7."""
    return torch.from_numpy(q.astype(np.float32) * ENCODER_INPUT_SCALE)


class StreamingFrontEnd:
    """Feeds audio in arbitrary chunks; `push` returns the new int8 encoder steps.

    Its output equals `encoder_input` of the concatenated audio (tested), so a device that
    receives audio in 10 ms packets produces the same features as the offline trainer.
    """

    def __init__(self, stride: int = STRIDE):
        check_stride(stride)
        self.stride = stride
        self._audio = np.zeros(0, np.float32)
        self._mels = np.zeros((0, N_MELS), np.float32)

    def push(self, chunk: np.ndarray) -> np.ndarray:
        self._audio = np.concatenate([self._audio, np.asarray(chunk, np.float32)])
        m = log_mel(self._audio)
        if len(m):
            self._audio = self._audio[len(m) * HOP_SAMPLES:]
            self._mels = np.concatenate([self._mels, m])
        out = stack_frames(self._mels, stride=self.stride)
        self._mels = self._mels[len(out) * self.stride:]
        return quantize(out)
