"""Saturation and the one rounding rule (firmware.number_formats) as Amaranth expressions."""

from amaranth import *


def saturate(value: Value, bits: int) -> Value:
    """`value` clamped to the signed `bits`-bit range, as a signed `bits`-bit value."""
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return Mux(value > hi, hi, Mux(value < lo, lo, value))[:bits].as_signed()


def round_bias(value: Value, shift: Value) -> Value:
    """`value` + 2**(shift-1) (nothing for shift == 0), wide enough never to wrap: the first half
    of `round_shift`, for pipelines that register between the add and the shift."""
    width = max(len(value), 1 << len(shift)) + 1
    half = (Const(1, width) << shift)[1:width]      # 2**(shift-1), and 0 for shift == 0
    return value.as_signed() + half


def round_shift(value: Value, shift: Value) -> Value:
    """`value` / 2**shift rounded half up: add 2**(shift-1), then shift right arithmetically."""
    return round_bias(value, shift) >> shift
