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
