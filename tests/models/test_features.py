"""The front end: streaming equals offline; shapes and the int8 range."""

import numpy as np
import pytest

from edgeasr.models import features as F


@pytest.mark.parametrize("stride, steps", [(3, 32), (2, 48), (1, 96)])
def test_streaming_equals_offline(stride, steps):
    rng = np.random.default_rng(3)
    wave = (rng.standard_normal(16000) * 0.1).astype(np.float32)
    offline = F.encoder_input(wave, stride)
    fe = F.StreamingFrontEnd(stride)
    sizes = rng.integers(1, 700, 200)
    starts = np.concatenate([[0], np.cumsum(sizes)])
    chunks = [fe.push(wave[a: b]) for a, b in zip(starts[:-1], starts[1:]) if a < len(wave)]
    np.testing.assert_array_equal(np.concatenate(chunks), offline)
    assert offline.dtype == np.int8 and offline.shape == (steps, F.FEATURE_DIM)   # 98 frames of 10 ms
    np.testing.assert_array_equal(offline[1, : F.N_MELS], F.encoder_input(wave, 1)[stride, : F.N_MELS])


def test_stride_outside_the_stack_is_refused():
    with pytest.raises(ValueError, match="feature stride must be 1..3 frames, got 4"):
        F.StreamingFrontEnd(4)


def test_short_input_gives_no_frames():
    assert F.encoder_input(np.zeros(100, np.float32)).shape == (0, F.FEATURE_DIM)


def test_vtlp_warp_moves_formants_and_keeps_the_band_edges():
    f = np.linspace(0.0, 8000.0, 801)
    for alpha in (0.9, 1.1):
        w = F.vtlp_warp(f, alpha)
        assert w[0] == 0.0 and w[-1] == pytest.approx(8000.0) and np.all(np.diff(w) > 0)
        assert F.vtlp_warp(np.array([1000.0]), alpha)[0] == pytest.approx(1000.0 * alpha)
    wave = (np.random.default_rng(4).standard_normal(8000) * 0.1).astype(np.float32)
    np.testing.assert_array_equal(F.log_mel(wave, 1.0), F.log_mel(wave))
    assert not np.array_equal(F.encoder_input(wave, 2, warp=1.08), F.encoder_input(wave, 2))


def test_vtlp_factor_is_per_utterance_and_off_at_zero():
    from edgeasr.models.data import vtlp_factor
    assert vtlp_factor(0.0, 0, 0, 0, 5) == 1.0
    a = [vtlp_factor(0.1, 0, 0, 0, i) for i in range(200)]
    assert min(a) >= 0.9 and max(a) <= 1.1 and len(set(a)) > 10
    assert a == [vtlp_factor(0.1, 0, 0, 0, i) for i in range(200)]
