"""The front end: streaming equals offline; shapes and the int8 range."""

import numpy as np

from edgeasr.models import features as F


def test_streaming_equals_offline():
    rng = np.random.default_rng(3)
    wave = (rng.standard_normal(16000) * 0.1).astype(np.float32)
    offline = F.encoder_input(wave)
    fe = F.StreamingFrontEnd()
    chunks = [fe.push(wave[i: i + n]) for i, n in zip(range(0, 16000, 160), [160] * 100)]
    np.testing.assert_array_equal(np.concatenate(chunks), offline)
    assert offline.dtype == np.int8 and offline.shape == (32, F.FEATURE_DIM)


def test_short_input_gives_no_frames():
    assert F.encoder_input(np.zeros(100, np.float32)).shape == (0, F.FEATURE_DIM)
