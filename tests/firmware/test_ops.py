"""ops: each op's integer semantics on hand-computed cases and at the rounding/saturation edges."""

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from edgeasr.firmware import ops
from edgeasr.firmware.isa import Ew
from edgeasr.firmware.number_formats import Lut, default_lut


def test_matvec_hand_computed():
    w = np.array([[2, -3], [1, 1], [0, 0]])
    x = np.array([5, 300])                       # 300 saturates to 127 before use
    bias = np.array([10, -5, 7])
    mult = np.array([3, 1, -2])
    shift = np.array([4, 0, 1])
    # row 0: 10 + 10 - 381 = -361; * 3 = -1083; (-1083 + 8) >> 4 = -68 (floor of -67.19)
    # row 1: -5 + 5 + 127 = 127; * 1 = 127
    # row 2: 7 * -2 = -14; (-14 + 1) >> 1 = -7
    assert_array_equal(ops.matvec(w, x, bias, mult, shift, 8), [-68, 127, -7])


def test_matvec_saturates_output_and_input():
    w = np.array([[127, 127]])
    x = np.array([-32768, -32768])               # both read as -128
    one = np.array([1])
    assert_array_equal(ops.matvec(w, x, np.array([0]), one, np.array([0]), 16), [-32512])
    assert_array_equal(ops.matvec(w, x, np.array([0]), one, np.array([0]), 8), [-128])


def test_matvec_accumulator_wraps_at_32_bits():
    w = np.array([[1]])
    out = ops.matvec(w, np.array([1]), np.array([2**31 - 1]), np.array([1]), np.array([16]), 16)
    assert_array_equal(out, [-(2**31) >> 16])     # 2**31 wraps to -2**31


def test_matvec_shift_63_is_exact():
    w = np.array([[1]])
    big = ops.matvec(w, np.array([0]), np.array([-(2**31)]), np.array([-(2**15)]), np.array([63]), 16)
    assert_array_equal(big, [0])                  # 2**46 / 2**63 rounds to 0
    half = ops.matvec(w, np.array([0]), np.array([2**30]), np.array([2]), np.array([32]), 16)
    assert_array_equal(half, [1])                 # exactly one half rounds up


@pytest.mark.parametrize("a, b, func, shift, sat16, want", [
    (1, 2, Ew.ADD, 1, False, 2),                  # 1.5 rounds up
    (-1, -2, Ew.ADD, 1, False, -1),               # -1.5 rounds up to -1
    (-5, 0, Ew.ADD, 1, False, -2),                # -2.5 -> -2
    (3, 5, Ew.SUB, 0, False, -2),
    (100, 100, Ew.MUL, 0, False, 127),
    (100, 100, Ew.MUL, 0, True, 10000),
    (-300, 300, Ew.MUL, 0, True, -32768),
    (-300, 300, Ew.MUL, 31, True, 0),             # (-90000 + 2**30) >> 31
    (-(2**15), 2**15 - 1, Ew.MUL, 31, True, 0),   # largest product magnitude, shift 31
    (-(2**15), -(2**15), Ew.MUL, 31, True, 1),    # 2**30 / 2**31 = one half rounds up
    (32767, 32767, Ew.ADD, 0, True, 32767),
    (-32768, 32767, Ew.SUB, 0, True, -32768),
    (-200, 12345, Ew.MOV, 0, False, -128),        # MOV ignores b
    (200, 0, Ew.MOV, 0, True, 200),
])
def test_ew_edges(a, b, func, shift, sat16, want):
    assert_array_equal(ops.ew(func, np.array([a]), np.array([b]), shift, sat16), [want])


def test_ew_mov_accepts_no_b():
    assert_array_equal(ops.ew(Ew.MOV, np.array([7, -7]), None, 1, False), [4, -3])


def test_act_indexes_with_saturated_rounded_input():
    table = np.arange(256) - 100                  # entry = index - 100, easy to read back
    x = np.array([0, 300, -129, -128, 127, 3, -3])
    assert_array_equal(ops.act(x, table, 0), [28, 155, -100, -100, 155, 31, 25])
    assert_array_equal(ops.act(np.array([3, -3, 4095]), table, 1), [28 + 2, 28 - 1, 155])


def test_act_default_tables_at_the_ends():
    sigmoid = default_lut(Lut.SIGMOID)
    assert_array_equal(ops.act(np.array([-30000, 0, 30000]), sigmoid, 0), [sigmoid[0], 64, 127])
    identity = default_lut(Lut.IDENTITY)
    assert_array_equal(ops.act(np.array([-5, 5]), identity, 0), [-5, 5])


def test_shape_errors():
    with pytest.raises(ValueError, match=r"^x has shape \(3,\), expected \(2,\) to match weights \(1, 2\)$"):
        ops.matvec(np.zeros((1, 2), int), np.zeros(3, int), [0], [1], [0], 8)
    with pytest.raises(ValueError, match=r"^lut_table has shape \(10,\), expected \(256,\)$"):
        ops.act(np.zeros(2, int), np.zeros(10, int), 0)
    with pytest.raises(ValueError, match=r"^b has shape \(1,\), expected \(2,\)$"):
        ops.ew(Ew.ADD, np.zeros(2, int), np.zeros(1, int), 0, False)
