"""Fake quantization for quantization-aware training, matching the NEP's integer formats.

Weights: per output row, symmetric, scale = max|w_row| / (2**(bits-1) - 1), bits 4 or 8
(`number_formats.WEIGHT_BITS`); the integer weight is round(w / scale). Activations are fixed
point with power-of-two scales: int8 vectors at 2**-7, LUT inputs at 2**-LUT_IN_FRAC_BITS, LUT
outputs at 2**-LUT_OUT_FRAC_BITS, the int16 cell state at 2**-CELL_FRAC_BITS. Rounding is half up
(floor(x + 0.5)), the device's rule. Gradients use the straight-through estimator inside the
representable range and zero outside it (a clipped STE).

QAT also pulls weights toward their grid: `grid_regularizer` is the mean squared distance, in
grid steps, between each weight and its nearest centroid; `snap_to_grid_` moves weights onto it.
"""

import torch

from ..firmware.number_formats import (ACT_BITS, ACT_FRAC_BITS, CELL_BITS, CELL_FRAC_BITS, LOGIT_FRAC_BITS,
                                       LUT_IN_FRAC_BITS, LUT_OUT_FRAC_BITS, WEIGHT_BITS, int_range)

LOGIT_BITS = 16


def round_half_up(x: torch.Tensor) -> torch.Tensor:
    return torch.floor(x + 0.5)


def fake_quant(x: torch.Tensor, frac_bits: int, bits: int = ACT_BITS) -> torch.Tensor:
    """x on the grid 2**-frac_bits, saturated to a signed `bits`-bit integer (clipped STE)."""
    lo, hi = int_range(bits)
    step = 2.0 ** -frac_bits
    y = torch.clamp(x, lo * step, hi * step)
    return y + (round_half_up(y / step) * step - y).detach()


def lut(x: torch.Tensor, fn) -> torch.Tensor:
    """A default 256-entry activation LUT: quantize x to the LUT input grid, apply fn, quantize the
    output, exactly as `number_formats.default_lut` builds the table (STE through both roundings)."""
    xq = fake_quant(x, LUT_IN_FRAC_BITS)
    y = fn(xq)
    return fake_quant(y, LUT_OUT_FRAC_BITS)


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
           "fake_quant", "lut", "weight_scale", "quantize_weight", "fake_quant_weight",
           "distance_to_grid", "grid_regularizer", "snap_to_grid_"]
