"""Number formats of the NEP and the one rounding rule, shared by RTL, golden model, compiler and trainer.

- Activations are int8 (MATVEC reads each int16 scratchpad entry saturated to int8).
- Weights are int8 or int4 (two's complement), with a per-output-channel scale folded into each
  row's fixed-point multiplier and shift (`requantize`).
- MAC accumulators are int32 and wrap modulo 2**32 (a 16-bit row length cannot reach the limit with
  int8 x int8 products plus an int32 bias, so wrapping is never observed by a legal program).
- Scratchpad entries are int16; the LSTM cell state is kept in int16.
- Rounding: round half up, i.e. add 2**(shift-1) then shift right arithmetically (`round_shift`).
  Saturation clamps to the target range.
- Activation lookup tables map an int8 input x (real value x / 2**LUT_IN_FRAC_BITS) to an int8
  output (real value y / 2**LUT_OUT_FRAC_BITS); entry index is x + 128.
"""

import enum

import numpy as np

from .isa import LUT_TABLES

ACT_BITS = 8
SPAD_BITS = 16
CELL_BITS = 16
ACC_BITS = 32
BIAS_BITS = 32
MULT_BITS = 16
REQUANT_SHIFT_MAX = 47          # acc (32b) * mult (16b) is a 48-bit product
WEIGHT_BITS = (4, 8)

LUT_IN_FRAC_BITS = 4            # LUT input covers [-8, 8) in steps of 1/16
LUT_OUT_FRAC_BITS = 7           # LUT output covers [-1, 1) in steps of 1/128
LUT_ENTRIES = 1 << ACT_BITS

# The RNN-T's fixed-point formats (trainer, exporter, integer golden model and compiler share them)
ACT_FRAC_BITS = 7               # int8 vectors (LSTM h, encoder input, embeddings): [-1, 1)
CELL_FRAC_BITS = 11             # int16 LSTM cell state: [-16, 16)
LOGIT_FRAC_BITS = 8             # int16 joint output
FEATURE_STRIDE = 3              # default 10 ms frames between encoder inputs (models.features; images record theirs)
TIME_REDUCTION = 2              # feature frames stacked into one encoder step (layer 0 -> layer 1)
# The LSTM cell update's elementwise shifts, c' = f*c + i*g and h = o*tanh(c'):
F_C_SHIFT = LUT_OUT_FRAC_BITS                               # f 2**-7 * c 2**-11 -> 2**-11
I_G_SHIFT = 2 * LUT_OUT_FRAC_BITS - CELL_FRAC_BITS          # i 2**-7 * g 2**-7 -> 2**-11
C_TO_LUT_SHIFT = CELL_FRAC_BITS - LUT_IN_FRAC_BITS          # c 2**-11 -> the LUT input 2**-4
H_SHIFT = 2 * LUT_OUT_FRAC_BITS - ACT_FRAC_BITS             # o 2**-7 * tanh 2**-7 -> h 2**-7


class Lut(enum.IntEnum):
    """Default contents of the activation tables (the host may load others)."""
    SIGMOID = 0
    TANH = 1
    RELU = 2
    IDENTITY = 3


def int_range(bits: int) -> tuple[int, int]:
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def saturate(x, bits: int) -> np.ndarray:
    """Clamp integers to the signed `bits`-bit range."""
    lo, hi = int_range(bits)
    return np.clip(np.asarray(x, dtype=np.int64), lo, hi)


def round_shift(x, shift) -> np.ndarray:
    """x / 2**shift rounded half up (toward +inf), on int64 (exact for |x| < 2**62)."""
    x = np.asarray(x, dtype=np.int64)
    if np.ndim(shift) == 0:                           # one shift (ACT, EW): plain integer arithmetic
        s = int(shift)
        if s < 0:
            raise ValueError(f"negative shift {s}")
        return (x + (1 << (s - 1))) >> s if s > 0 else x.copy()
    shift = np.asarray(shift, dtype=np.int64)
    bias = np.where(shift > 0, np.left_shift(np.int64(1), np.maximum(shift - 1, 0)), 0)
    return np.right_shift(x + bias, shift)


def wrap(x, bits: int) -> np.ndarray:
    """Two's complement wrap-around to `bits` bits; values already in range skip the modulo (the
    costly part on large batches) and come back as the modulo would return them (a new array, or a
    scalar for a scalar)."""
    x = np.asarray(x, dtype=np.int64)
    m = np.int64(1) << bits
    if x.size and -(m >> 1) <= x.min() and x.max() < (m >> 1):
        return x + 0
    return ((x + (m >> 1)) % m) - (m >> 1)


def requantize(acc, mult, shift, out_bits: int) -> np.ndarray:
    """An int32 accumulator scaled by the row's fixed-point multiplier and shift, saturated."""
    prod = wrap(acc, ACC_BITS) * np.asarray(mult, dtype=np.int64)
    return saturate(round_shift(prod, shift), out_bits)


def fixed_point(real) -> tuple[np.ndarray, np.ndarray]:
    """Each row's (mult, shift) with mult * 2**-shift ~ real > 0: mult in [2**14, 2**15) (a 16-bit
    signed multiplier with its top bit used) unless REQUANT_SHIFT_MAX caps the shift. The exporter
    and the trainer's exact fake quantization both call this, so they agree bit for bit."""
    r = np.atleast_1d(np.asarray(real, dtype=np.float64))
    if not np.all(r > 0) or not np.all(np.isfinite(r)):
        raise ValueError(f"requantization scales must be positive and finite, got {r[~(r > 0) | ~np.isfinite(r)][:4]}")
    top = 1 << (MULT_BITS - 1)
    shift = np.clip(MULT_BITS - 1 - np.ceil(np.log2(r)), 0, REQUANT_SHIFT_MAX).astype(np.int64)
    mult = np.floor(np.ldexp(r, shift) + 0.5)
    shift = np.where(mult >= top, shift - 1, shift)            # r * 2**shift rounded up to 2**15
    mult = np.floor(np.ldexp(r, shift) + 0.5)
    if np.any(shift < 0) or np.any(mult >= top):
        raise ValueError(f"requantization scale too large for a {MULT_BITS}-bit multiplier: {r.max()}")
    return mult.astype(np.int64), shift


def default_lut(table: Lut) -> np.ndarray:
    """The 256 int8 entries of a default table, index = input + 128."""
    x = (np.arange(LUT_ENTRIES) - 128) / (1 << LUT_IN_FRAC_BITS)
    scale = 1 << LUT_OUT_FRAC_BITS
    if table == Lut.SIGMOID:
        y = 1.0 / (1.0 + np.exp(-x))
    elif table == Lut.TANH:
        y = np.tanh(x)
    elif table == Lut.RELU:
        y = np.maximum(x, 0.0) / 8.0          # relu(x)/8 keeps [0, 8) inside the output range
    else:
        return saturate(np.arange(LUT_ENTRIES) - 128, ACT_BITS)
    return saturate(np.floor(y * scale + 0.5), ACT_BITS)


def default_luts() -> np.ndarray:
    """All tables, shape (LUT_TABLES, 256), int64."""
    return np.stack([default_lut(Lut(t)) for t in range(LUT_TABLES)])
