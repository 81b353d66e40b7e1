"""The integer semantics of each NEP op, once: used by the golden core and the integer golden RNN-T.

Everything is numpy int64 and vectorized; rounding, saturation and wrapping come from
`number_formats` so there is exactly one definition of each. Inputs are scratchpad values (int16);
outputs are the values the op writes back (int8 or int16 range, as int64).
"""

import numpy as np

from .isa import Ew
from .number_formats import (ACC_BITS, ACT_BITS, LUT_ENTRIES, SPAD_BITS, requantize, round_shift,
                             saturate, wrap)


def _ints(name: str, x, ndim: int) -> np.ndarray:
    a = np.asarray(x)
    if a.dtype.kind not in "iub" or a.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-D integer array, got dtype {a.dtype} shape {a.shape}")
    return a.astype(np.int64, copy=False)         # no copy when it already is (weights: every MATVEC)


def matvec(weights, x, bias, mult, shift, out_bits: int) -> np.ndarray:
    """y[r] = requantize(bias[r] + sum_c weights[r, c] * sat8(x[c]), mult[r], shift[r], out_bits).

    weights: (rows, cols) ints; x: (cols,) scratchpad values, saturated to int8 before use;
    bias, mult, shift: (rows,). The accumulator wraps modulo 2**32 (never reached by a legal
    matrix, see number_formats). Returns (rows,) int64 in the signed `out_bits` range.
    """
    w = _ints("weights", weights, 2)
    xs = saturate(_ints("x", x, 1), ACT_BITS)
    rows, cols = w.shape
    if xs.shape != (cols,):
        raise ValueError(f"x has shape {xs.shape}, expected ({cols},) to match weights {w.shape}")
    params = [_ints(n, p, 1) for n, p in (("bias", bias), ("mult", mult), ("shift", shift))]
    for name, p in zip(("bias", "mult", "shift"), params):
        if p.shape != (rows,):
            raise ValueError(f"{name} has shape {p.shape}, expected ({rows},)")
    acc = wrap(params[0] + w @ xs, ACC_BITS)
    return requantize(acc, params[1], params[2], out_bits)


def act(x, lut_table, shift: int) -> np.ndarray:
    """lut_table[sat8(round_shift(x, shift)) + 128] for each scratchpad value in x."""
    table = _ints("lut_table", lut_table, 1)
    if table.shape != (LUT_ENTRIES,):
        raise ValueError(f"lut_table has shape {table.shape}, expected ({LUT_ENTRIES},)")
    index = saturate(round_shift(_ints("x", x, 1), shift), ACT_BITS) + LUT_ENTRIES // 2
    return table[index]


def ew(func: Ew, a, b, shift: int, sat16: bool) -> np.ndarray:
    """sat(round_shift(f(a, b), shift)) with f from `Ew`, saturated to int16 if sat16 else int8.

    MOV ignores b (b may be None for MOV).
    """
    func = Ew(func)
    a = _ints("a", a, 1)
    if func == Ew.MOV:
        f = a
    else:
        b = _ints("b", b, 1)
        if b.shape != a.shape:
            raise ValueError(f"b has shape {b.shape}, expected {a.shape}")
        f = {Ew.ADD: np.add, Ew.SUB: np.subtract, Ew.MUL: np.multiply}[func](a, b)
    return saturate(round_shift(f, shift), SPAD_BITS if sat16 else ACT_BITS)
