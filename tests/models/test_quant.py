"""QAT pieces: LUT fake quantization equals the device tables; the regularizer pulls weights to the grid."""

import numpy as np
import pytest
import torch

from edgeasr.firmware.number_formats import LUT_IN_FRAC_BITS, LUT_OUT_FRAC_BITS, Lut, default_lut
from edgeasr.models import quant as Q


@pytest.mark.parametrize("table,fn", [(Lut.SIGMOID, torch.sigmoid), (Lut.TANH, torch.tanh)])
def test_lut_fake_quant_matches_default_table(table, fn):
    x = torch.arange(-128, 128, dtype=torch.float64) / 2 ** LUT_IN_FRAC_BITS
    got = (Q.lut(x, fn) * 2 ** LUT_OUT_FRAC_BITS).round().long().numpy()
    np.testing.assert_array_equal(got, default_lut(table))


def test_fake_quant_rounds_half_up_and_saturates():
    x = torch.tensor([0.5, 1.5, -0.5, -1.5, 200.0, -200.0]) / 128
    got = (Q.fake_quant(x, 7) * 128).numpy()
    np.testing.assert_array_equal(got, [1, 2, 0, -1, 127, -128])


@pytest.mark.parametrize("bits", [4, 8])
def test_regularizer_lowers_distance_to_grid(bits):
    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.randn(32, 48) * 0.1)
    before = Q.distance_to_grid(w, bits).item()
    _, scale = Q.quantize_weight(w, bits)
    # one SGD step moves each weight about a quarter of the way to its centroid
    opt = torch.optim.SGD([w], lr=0.125 * float((scale ** 2).mean()) * w.numel())
    for _ in range(5):
        opt.zero_grad()
        Q.grid_regularizer(w, bits).backward()
        opt.step()
    after = Q.distance_to_grid(w, bits).item()
    assert after < 0.5 * before, (before, after)


@pytest.mark.parametrize("bits", [4, 8])
def test_snap_puts_weights_on_grid_and_keeps_zeros(bits):
    torch.manual_seed(1)
    w = torch.randn(16, 32)
    w[:, ::3] = 0
    Q.snap_to_grid_(w, bits)
    assert Q.distance_to_grid(w, bits).item() < 1e-5
    assert torch.all(w[:, ::3] == 0)
    q, s = Q.quantize_weight(w, bits)
    assert q.abs().max() <= (1 << (bits - 1)) - 1
