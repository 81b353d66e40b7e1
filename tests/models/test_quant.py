"""QAT pieces: LUT fake quantization equals the device tables; the regularizer pulls weights to the grid."""

import numpy as np
import pytest
import torch

from edgeasr.firmware.number_formats import LUT_IN_FRAC_BITS, LUT_OUT_FRAC_BITS, Lut, default_lut
from edgeasr.models import quant as Q


@pytest.mark.parametrize("table,fn", [(Lut.SIGMOID, torch.sigmoid), (Lut.TANH, torch.tanh)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_lut_fake_quant_matches_default_table(table, fn, dtype):
    """Every input, on the grid and between grid points, saturating: the device table's entry."""
    x = torch.arange(-2100, 2100, dtype=dtype) / 2 ** (LUT_IN_FRAC_BITS + 4)
    got = (Q.lut(x, table) * 2 ** LUT_OUT_FRAC_BITS).double().numpy()
    index = np.clip(np.floor(x.double().numpy() * 2 ** LUT_IN_FRAC_BITS + 0.5), -128, 127).astype(int) + 128
    np.testing.assert_array_equal(got, default_lut(table)[index])


def test_lut_gradient_is_the_functions_inside_the_range():
    x = torch.tensor([-9.0, -0.5, 0.0, 0.7, 9.0], requires_grad=True)
    Q.lut(x, Lut.TANH).sum().backward()
    expected = 1 - torch.tanh(Q.fake_quant(x.detach(), LUT_IN_FRAC_BITS)) ** 2
    expected[[0, 4]] = 0.0                              # saturated: clipped STE
    torch.testing.assert_close(x.grad, expected)


def test_integer_matrix_requantizes_like_the_device_matvec():
    """IntegerMatrix's accumulate + requantize equals firmware.ops.matvec on the exported numbers."""
    from edgeasr.firmware.ops import matvec
    torch.manual_seed(4)
    w, b = torch.randn(24, 40) * 0.2, torch.randn(24) * 0.5
    x = torch.randint(-128, 128, (5, 40)).double() / 128
    for bits, frac, out_bits in [(4, LUT_IN_FRAC_BITS, 8), (8, 8, 16)]:
        im = Q.integer_matrix(w, b, bits, frac, out_bits)
        got = (im.requantize(im.accumulate(x)) * 2 ** frac).numpy()
        as_int = lambda t: t.numpy().astype(np.int64)
        for row, xv in zip(got, x):
            want = matvec(as_int(im.q), as_int(xv * 128), as_int(im.bias), as_int(im.mult), as_int(im.shift), out_bits)
            np.testing.assert_array_equal(row, want)


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
