"""Export round-trips through the NEP byte format; the integer golden RNN-T tracks the fake-quant model."""

import numpy as np
import pytest
import torch

from edgeasr.firmware.weight_codec import lane_groups
from edgeasr.models import export as E
from edgeasr.models import features as F
from edgeasr.models import quant as Q
from edgeasr.models.golden_rnnt import GoldenRnnt
from edgeasr.models.rnnt import ModelConfig, Transducer
from edgeasr.models.sparsity import NEP_LANES, balanced_mask

TINY = ModelConfig(enc_hidden=32, enc_layers=2, embed=32, pred_hidden=32, joint=32)


def _student(bits, seed=0):
    torch.manual_seed(seed)
    m = Transducer(TINY)
    with torch.no_grad():
        for mat in m.matrices().values():
            mat.bias.uniform_(-0.3, 0.3)
            mat.mask.copy_(balanced_mask(mat.weight, 0.5, NEP_LANES))
            mat.weight.mul_(mat.mask)
            Q.snap_to_grid_(mat.weight, bits)
    m.set_qat(bits, activations=True)
    return m.double().eval()


@pytest.mark.parametrize("bits", [4, 8])
def test_image_round_trip(bits, tmp_path):
    m = _student(bits)
    ex = E.export_student(m, bits)
    E.save_image(ex, tmp_path / "s.npz")
    back = E.load_image(tmp_path / "s.npz")
    for name, mat in m.matrices().items():
        q, _ = Q.quantize_weight(mat.weight * mat.mask, bits)
        dense = E.dense_weights(back)[name]
        np.testing.assert_array_equal(dense, q.long().numpy(), err_msg=name)
        for seg in lane_groups(dense.shape[1], NEP_LANES):
            for cols in seg:
                assert np.all((mat.mask.numpy()[:, cols]).sum(1) == len(cols) // 2)
    np.testing.assert_array_equal(back.embed, ex.embed)


def test_fixed_point_multiplier():
    real = np.array([1e-4, 3e-3, 0.25, 0.5, 0.999, 2.0])
    mult, shift = E.fixed_point(real)
    assert np.all((mult >= 1 << 14) & (mult < 1 << 15))
    np.testing.assert_allclose(mult / 2.0 ** shift, real, rtol=2 ** -14)


def test_golden_encoder_tracks_fake_quant():
    """Int golden vs float64 fake quantization on random audio-like features: identical on at least
    99% of encoder outputs (the rest differ where the 16-bit requant multiplier flips a rounding)."""
    m = _student(4, seed=3)
    g = GoldenRnnt(E.export_student(m, 4))
    rng = np.random.default_rng(3)
    feats = rng.integers(-60, 60, size=(40, F.FEATURE_DIM)).astype(np.int8)
    enc_int = g.encoder(feats)
    with torch.no_grad():
        enc_fq = m.encoder(F.to_model(feats).double()[None])[0].numpy() * 128
    assert np.mean(np.round(enc_fq) == enc_int) >= 0.99
    hyp_int = g.greedy_search(feats)
    with torch.no_grad():
        hyp_fq = m.greedy_search(F.to_model(feats).double()[None], torch.tensor([len(feats)]))[0]
    assert hyp_int == hyp_fq
