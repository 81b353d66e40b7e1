"""Reading audio files for the recognizer: any format soundfile reads, as 16 kHz mono float32.

8/16/24/32-bit integer and float WAV (and FLAC, OGG, ...) are read by soundfile and scaled to
[-1, 1); stereo and multichannel audio is mixed down by averaging the channels; other sample rates
are resampled with a polyphase filter (scipy.signal.resample_poly). Errors are `AudioFormatError`
and name the file: unreadable or truncated files, no samples at all, NaN or infinite samples, or
more than `max_seconds` of audio. Silence is not an error (it transcribes to nothing).
"""

from __future__ import annotations

import math

import numpy as np

SAMPLE_RATE_HZ = 16000
MAX_SECONDS = 600.0


class AudioFormatError(ValueError):
    """An audio file cannot be turned into 16 kHz mono samples."""


def to_16k_mono(samples: np.ndarray, rate_hz: int, where: str = "audio") -> np.ndarray:
    """(n,) or (n, channels) samples at `rate_hz` -> (m,) float32 at 16 kHz."""
    x = np.asarray(samples, np.float64)
    if x.ndim == 2:
        x = x.mean(axis=1)
    if x.ndim != 1:
        raise AudioFormatError(f"{where}: expected (samples,) or (samples, channels), got shape {x.shape}")
    if not np.isfinite(x).all():
        bad = int(np.argmax(~np.isfinite(x)))
        raise AudioFormatError(f"{where}: sample {bad} is {x[bad]}; expected finite samples")
    if rate_hz != SAMPLE_RATE_HZ:
        from scipy.signal import resample_poly
        g = math.gcd(int(rate_hz), SAMPLE_RATE_HZ)
        x = resample_poly(x, SAMPLE_RATE_HZ // g, int(rate_hz) // g)
    return x.astype(np.float32)


def read_audio(path: str, max_seconds: float = MAX_SECONDS) -> np.ndarray:
    """The file's audio as 16 kHz mono float32 (see module docstring for the errors)."""
    import soundfile as sf
    try:
        info = sf.info(path)
        if info.frames > max_seconds * info.samplerate:
            raise AudioFormatError(f"{path}: {info.frames / info.samplerate:.1f} s of audio; at most "
                                   f"{max_seconds:.0f} s accepted")
        samples, rate = sf.read(path, dtype="float64", always_2d=True)
    except AudioFormatError:
        raise
    except (RuntimeError, sf.LibsndfileError, OSError) as e:
        raise AudioFormatError(f"{path}: cannot read audio ({e})") from None
    if samples.shape[0] == 0:
        raise AudioFormatError(f"{path}: the file holds no samples")
    return to_16k_mono(samples, rate, path)
