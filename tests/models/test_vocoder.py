"""The LPC vocoder keeps what a transcript depends on (length, envelope, level) and changes the rest."""

import numpy as np
import scipy.signal

from edgeasr.models.corpus import vocoder as V
from edgeasr.models.corpus.tts import SAMPLE_RATE_HZ


def _vowel(f0=120.0, seconds=0.6, formants=(700.0, 1200.0, 2600.0)):
    """A pulse train through three formant resonators: speech-like, with a known envelope."""
    n = int(seconds * SAMPLE_RATE_HZ)
    x = np.zeros(n)
    x[:: int(SAMPLE_RATE_HZ / f0)] = 1.0
    for f in formants:
        r = np.exp(-np.pi * 80.0 / SAMPLE_RATE_HZ)
        x = scipy.signal.lfilter([1.0], [1.0, -2 * r * np.cos(2 * np.pi * f / SAMPLE_RATE_HZ), r * r], x)
    return (0.5 * x / np.abs(x).max()).astype(np.float32)


def _spectrum_db(x):
    f, p = scipy.signal.welch(x, SAMPLE_RATE_HZ, nperseg=512)
    return f, 10 * np.log10(p + 1e-12)


def test_resynthesis_keeps_length_level_and_formants():
    x = _vowel()
    y = V.resynthesize(x, np.random.default_rng(0))
    assert y.dtype == np.float32 and len(y) == len(x) and np.all(np.isfinite(y))
    assert np.isclose(np.abs(y).max(), np.abs(x).max(), rtol=1e-5)
    f, px = _spectrum_db(x)
    _, py = _spectrum_db(y)
    band = (f > 300) & (f < 3500)
    # the envelope survives: the first formant region is still the loudest of the band
    assert abs(f[band][np.argmax(py[band])] - f[band][np.argmax(px[band])]) < 250
    assert np.corrcoef(px[band], py[band])[0, 1] > 0.6


def test_resynthesis_changes_the_waveform_and_pitch_by_seed():
    x = _vowel(f0=120.0)
    a = V.resynthesize(x, np.random.default_rng(1))
    b = V.resynthesize(x, np.random.default_rng(1))
    c = V.resynthesize(x, np.random.default_rng(2))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    assert np.corrcoef(a, x)[0, 1] < 0.5          # not the input waveform


def test_pitch_tracker_finds_a_known_pitch():
    x = _vowel(f0=150.0, seconds=0.5).astype(np.float64)
    ac = np.fft.irfft(np.abs(np.fft.rfft(V._frames(x) * np.hanning(V.WIN), V.N_FFT)) ** 2, V.N_FFT)[:, :V.WIN]
    f0 = V._pitch(ac, 0.35)
    voiced = f0[10:-10]
    assert np.all(voiced > 0)
    assert abs(np.median(voiced) - 150.0) < 8


def test_levinson_recovers_an_all_pole_filter():
    a_true = np.array([1.0, -1.2, 0.7])
    x = scipy.signal.lfilter([1.0], a_true, np.random.default_rng(0).standard_normal(200000))
    r = np.array([[np.dot(x[: len(x) - k], x[k:]) / len(x) for k in range(3)]])
    a, err = V._levinson(r, 2)
    np.testing.assert_allclose(a[0], a_true, atol=0.02)
    assert abs(err[0] - 1.0) < 0.05


def test_silence_and_short_input_pass_through():
    assert not np.any(V.resynthesize(np.zeros(8000, np.float32), np.random.default_rng(0)))
    short = np.ones(100, np.float32) * 0.1
    np.testing.assert_array_equal(V.resynthesize(short, np.random.default_rng(0)), short)
