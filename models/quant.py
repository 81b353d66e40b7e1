"""Fake quantization for quantization-aware training, matching the NEP's integer formats.

Weights: per output row, symmetric, scale = max|w_row| / (2**(bits-1) - 1), bits 4 or 8
(`number_formats.WEIGHT_BITS`); the integer weight is round(w / scale). Activations are fixed
point with power-of-two scales: int8 vectors at 2**-7, LUT inputs at 2**-LUT_IN_FRAC_BITS, LUT
outputs at 2**-LUT_OUT_FRAC_BITS, the int16 cell state at 2**-CELL_FRAC_BITS. Rounding is half up
(floor(x + 0.5)), the device's rule. Gradients use the straight-through estimator inside the
representable range and zero outside it (a clipped STE).

Exact mode (`set_qat(..., activations=True)`): every MATVEC is computed as the NEP computes it,
integer accumulator times the exported row multiplier `mult * 2**-shift` (`IntegerMatrix`, the same
numbers `export` writes), and every LUT is a lookup in the device table. The forward values then
equal the integer golden model's exactly; gradients flow through the float surrogate (`ste`).

QAT also pulls weights toward their grid: `grid_regularizer` is the mean squared distance, in
grid steps, between each weight and its nearest centroid; `snap_to_grid_` moves weights onto it.
"""

import dataclasses

import numpy as np
import torch

from ..firmware.number_formats import (ACT_BITS, ACT_FRAC_BITS, BIAS_BITS, CELL_BITS, CELL_FRAC_BITS,
                                       LOGIT_FRAC_BITS, LUT_ENTRIES, LUT_IN_FRAC_BITS, LUT_OUT_FRAC_BITS,
                                       WEIGHT_BITS, Lut, default_lut, fixed_point, int_range)

LOGIT_BITS = 16


def round_half_up(x: torch.Tensor) -> torch.Tensor:
    return torch.floor(x + 0.5)


def fake_quant(x: torch.Tensor, frac_bits: int, bits: int = ACT_BITS) -> torch.Tensor:
    """x on the grid 2**-frac_bits, saturated to a signed `bits`-bit integer (clipped STE)."""
    lo, hi = int_range(bits)
    step = 2.0 ** -frac_bits
    y = torch.clamp(x, lo * step, hi * step)
    return y + (round_half_up(y / step) * step - y).detach()


_LUT_FN = {Lut.SIGMOID: torch.sigmoid, Lut.TANH: torch.tanh}
_LUT_VALUES = {t: torch.from_numpy(default_lut(t)).double() * 2.0 ** -LUT_OUT_FRAC_BITS for t in _LUT_FN}


def ste(exact: torch.Tensor, surrogate: torch.Tensor) -> torch.Tensor:
    """Exactly `exact` in the forward pass, the gradient of `surrogate` in the backward pass
    (surrogate - surrogate.detach() is exactly zero, so no float error creeps into the value)."""
    return exact.to(surrogate.dtype) + (surrogate - surrogate.detach())


def lut(x: torch.Tensor, table: Lut) -> torch.Tensor:
    """The device's activation lookup: x saturated and rounded to the LUT input grid, then the
    default table's entry (`number_formats.default_lut`); the gradient is the function's own."""
    xq = fake_quant(x, LUT_IN_FRAC_BITS)
    index = (round_half_up(xq.detach().double() * 2 ** LUT_IN_FRAC_BITS) + LUT_ENTRIES // 2).long()
    return ste(_LUT_VALUES[table][index], _LUT_FN[table](xq))


@dataclasses.dataclass(frozen=True)
class IntegerMatrix:
    """A NEP matrix as the device holds it, integer-valued float64 tensors: weights q (rows, cols),
    int32 bias, and each row's requantization mult * 2**-shift to the output grid."""
    q: torch.Tensor
    bias: torch.Tensor
    mult: torch.Tensor
    shift: torch.Tensor
    out_frac_bits: int
    out_bits: int
    multiplier: torch.Tensor        # mult * 2**-shift, exact in float64

    def accumulate(self, x: torch.Tensor, cols: slice = slice(None)) -> torch.Tensor:
        """Integer partial accumulator of x (real values on the int8 grid 2**-7, saturated to int8
        as MATVEC reads them) against the columns `cols` (no bias)."""
        lo, hi = int_range(ACT_BITS)
        xi = torch.clamp(round_half_up(x.detach().double() * 2 ** ACT_FRAC_BITS), lo, hi)
        return xi @ self.q[:, cols].T

    def requantize(self, acc: torch.Tensor) -> torch.Tensor:
        """bias + acc through the row multiplier, rounded half up and saturated: the MATVEC output,
        returned in real units (exact: |acc * mult| < 2**47 is an integer in float64)."""
        lo, hi = int_range(self.out_bits)
        y = torch.floor((acc + self.bias) * self.multiplier + 0.5)
        return torch.clamp(y, lo, hi) * 2.0 ** -self.out_frac_bits


def integer_matrix(w: torch.Tensor, b: torch.Tensor, bits: int, out_frac_bits: int, out_bits: int) -> IntegerMatrix:
    """The device form of a (masked) weight matrix and bias with int8 input at 2**-ACT_FRAC_BITS."""
    q, s = quantize_weight(w, bits)
    acc_scale = s[:, 0].detach().double().cpu().numpy() * 2.0 ** -ACT_FRAC_BITS
    lo, hi = int_range(BIAS_BITS)
    bias = np.clip(np.floor(b.detach().double().cpu().numpy() / acc_scale + 0.5), lo, hi)
    mult, shift = fixed_point(acc_scale / 2.0 ** -out_frac_bits)
    t = lambda a: torch.from_numpy(np.asarray(a, np.float64))
    return IntegerMatrix(q.double(), t(bias), t(mult), t(shift), out_frac_bits, out_bits,
                         t(np.ldexp(mult.astype(np.float64), -shift)))


def weight_scale(w: torch.Tensor, bits: int) -> torch.Tensor:
    """(rows, 1) per-row scale; an all-zero row gets scale 1."""
    if bits not in WEIGHT_BITS:
        raise ValueError(f"weight bits: expected one of {WEIGHT_BITS}, got {bits}")
    qmax = (1 << (bits - 1)) - 1
    m = w.detach().abs().amax(dim=1, keepdim=True)
    return torch.where(m > 0, m / qmax, torch.ones_like(m))


def quantize_weight(w: torch.Tensor, bits: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(integer weights as float, scale (rows, 1)); w ~ q * scale."""
    s = weight_scale(w, bits)
    lo, hi = int_range(bits)
    return torch.clamp(round_half_up(w.detach() / s), lo, hi), s


def fake_quant_weight(w: torch.Tensor, bits: int) -> torch.Tensor:
    q, s = quantize_weight(w, bits)
    return w + (q * s - w).detach()


def distance_to_grid(w: torch.Tensor, bits: int, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean |w/scale - round(w/scale)| over kept weights, in grid steps (0 = on grid, 0.5 = worst)."""
    q, s = quantize_weight(w, bits)
    d = (w.detach() / s - q).abs()
    if mask is not None:
        return (d * mask).sum() / mask.sum().clamp(min=1)
    return d.mean()


def grid_regularizer(w: torch.Tensor, bits: int, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared distance to the nearest centroid in grid steps; its gradient pulls each weight
    toward its centroid (the scale and centroid are held fixed)."""
    q, s = quantize_weight(w, bits)
    d2 = ((w - q * s) / s) ** 2
    if mask is not None:
        return (d2 * mask).sum() / mask.sum().clamp(min=1)
    return d2.mean()


@torch.no_grad()
def snap_to_grid_(w: torch.Tensor, bits: int):
    """Move every weight onto its nearest centroid, in place (zeros stay zero)."""
    q, s = quantize_weight(w, bits)
    w.copy_(q * s)


__all__ = ["ACT_FRAC_BITS", "CELL_FRAC_BITS", "CELL_BITS", "LOGIT_FRAC_BITS", "LOGIT_BITS",
           "fake_quant", "lut", "ste", "IntegerMatrix", "integer_matrix", "weight_scale", "quantize_weight",
           "fake_quant_weight", "distance_to_grid", "grid_regularizer", "snap_to_grid_"]
