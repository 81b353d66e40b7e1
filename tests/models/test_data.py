"""Training batches: the vocoder share re-speaks that share of utterances and leaves every other draw."""

import numpy as np
import torch

from edgeasr.models.data import epoch_batches


def _batches(vocoder, n=24):
    rng = np.random.default_rng(0)
    t = np.arange(12000) / 16000
    waves = [(0.3 * np.sign(np.sin(2 * np.pi * f0 * t)) * np.hanning(len(t)) + 0.01 * rng.standard_normal(len(t)))
             .astype(np.float32) for f0 in rng.uniform(90, 220, n)]
    texts = ["call anne", "stop", "turn on the light"] * (n // 3)
    return {i: f[: int(fr)] for b in epoch_batches(waves, texts, 4, seed=1, epoch=0, stream=0, strength=1.0,
                                                   vocoder=vocoder)
            for i, f, fr in zip(b.index, b.feats, b.frames)}


def test_vocoder_zero_is_the_unchanged_pipeline_and_a_share_changes_about_that_share():
    plain, none, half, every = _batches(0.0), _batches(0.0), _batches(0.5), _batches(1.0)
    assert all(torch.equal(plain[i], none[i]) for i in plain)
    assert not any(torch.equal(plain[i], every[i]) for i in plain)
    # some items equal to the plain pipeline's bit for bit: the vocoder's draws left the others'
    changed = sum(not torch.equal(plain[i], half[i]) for i in plain)
    assert 4 <= changed <= 20, changed
