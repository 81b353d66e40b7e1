"""Export round-trips through the NEP byte format; the integer golden RNN-T tracks the fake-quant model."""

import numpy as np
import pytest
import torch

from edgeasr.firmware.number_formats import fixed_point
from edgeasr.firmware.weight_codec import lane_groups, to_bytes
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
    return m.eval()


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


@pytest.mark.parametrize("bits", [4, 8])
def test_student_from_image_exports_the_same_image(bits):
    ex = E.export_student(_student(bits, seed=3), bits)
    back = E.student_from_image(ex)
    assert back.qat_bits == bits
    again = E.export_student(back, bits)
    for name, cm in ex.matrices.items():
        assert to_bytes(again.matrices[name]) == to_bytes(cm), name
        assert torch.equal(back.matrices()[name].mask, torch.from_numpy(E.dense_weights(ex)[name] != 0).float())
    np.testing.assert_array_equal(again.embed, ex.embed)


def test_fixed_point_multiplier():
    real = np.array([1e-4, 3e-3, 0.25, 0.5, 0.999, 2.0])
    mult, shift = fixed_point(real)
    assert np.all((mult >= 1 << 14) & (mult < 1 << 15))
    np.testing.assert_allclose(mult / 2.0 ** shift, real, rtol=2 ** -14)


@pytest.mark.parametrize("bits,seed", [(4, 3), (8, 5)])
def test_golden_equals_exact_fake_quant(bits, seed):
    """The integer golden model and the exact-QAT forward pass agree on every encoder output, every
    logit and the 1-best, on random audio-like features (they share the exported integers)."""
    m = _student(bits, seed=seed)
    g = GoldenRnnt(E.export_student(m, bits))
    rng = np.random.default_rng(seed)
    feats = rng.integers(-90, 90, size=(60, F.FEATURE_DIM)).astype(np.int8)
    enc_int = g.encoder(feats)
    with torch.no_grad():
        enc_fq = m.encoder(F.to_model(feats)[None])[0].double().numpy() * 128
        np.testing.assert_array_equal(enc_fq, enc_int)
        pred = m.prediction(torch.tensor([[5, 9]]))[0][0]
        hp, cp = g.lstm_step("pred_lstm.gates", g.ex.embed[0].astype(np.int64), np.zeros(TINY.pred_hidden, np.int64),
                             np.zeros(TINY.pred_hidden, np.int64))
        np.testing.assert_array_equal(pred[0].double().numpy() * 128, hp)
        logits = m.joint(torch.from_numpy(enc_int[7] / 128).float(), pred[0]).double().numpy() * 2 ** Q.LOGIT_FRAC_BITS
        np.testing.assert_array_equal(logits, g.joint(enc_int[7], hp))
        hyp_fq = m.greedy_search(F.to_model(feats)[None], torch.tensor([len(feats)]))[0]
    assert hyp_fq == g.greedy_search(feats)


def test_fixed_point_rejects_bad_scales():
    for bad in ([0.0], [-1.0], [float("nan")], [1e9]):
        with pytest.raises(ValueError):
            fixed_point(bad)
