"""Saturation and the one rounding rule (firmware.number_formats) as Amaranth expressions."""

from amaranth import *


def saturate(value: Value, bits: int) -> Value:
    """`value` clamped to the signed `bits`-bit range, as a signed `bits`-bit value."""
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return Mux(value > hi, hi, Mux(value < lo, lo, value))[:bits].as_signed()


def round_bias(value: Value, shift: Value) -> Value:
    """`value` + 2**(shift-1) (nothing for shift == 0), exact for every shift below len(value):
    the first half of `round_shift`, for pipelines that register between the add and the shift."""
    width = len(value) + 1
    half = (Const(1, width) << shift)[1:width]      # 2**(shift-1), and 0 for shift == 0
    return value.as_signed() + half


def shift_rounded(biased: Value, shift: Value, value_bits: int) -> Value:
    """The second half of `round_shift`: `biased` (from `round_bias` of a `value_bits`-bit value)
    shifted right arithmetically; 0 when shift >= value_bits, where (value + 2**(shift-1)) >> shift
    is 0 for every signed `value_bits`-bit value, so no wider adder or shifter is needed."""
    return Mux(shift >= value_bits, 0, biased >> shift)


def round_shift(value: Value, shift: Value) -> Value:
    """`value` / 2**shift rounded half up: add 2**(shift-1), then shift right arithmetically."""
    return shift_rounded(round_bias(value, shift), shift, len(value))
