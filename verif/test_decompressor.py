"""cocotb bench of the weight decompressor (through `harnesses.DecompressorHarness`).

For random matrices of every sparsity (all-zero rows and matrices included), both widths and
balanced or unbalanced pruning, it checks that each lane emits exactly its non-zero weights with
their bank indices, in order, that rows end where they should, that the cycle count is the
zero-skipping bound sum(max(1, k)) over segments, that mask bits past the last column are
ignored, and that a stream declaring too few or too many
beats stops with WEIGHT_TRUNCATED / WEIGHT_LENGTH.
"""

import dataclasses

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge

from ..firmware.isa import ErrorCode
from ..firmware.weight_codec import balanced_prune, compress
from ..firmware.weight_format import MASK_BITS_PER_LANE, column, segments
from .common.sim_values import signed_fields, unsigned_fields
from .simulator import bench_params

INDEX_BITS = 16


def random_matrix(rng, lanes):
    rows, cols = int(rng.integers(1, 9)), int(rng.integers(1, 3 * lanes * MASK_BITS_PER_LANE))
    bits = int(rng.choice([4, 8]))
    hi = (1 << (bits - 1)) - 1
    w = rng.integers(-hi - 1, hi + 1, size=(rows, cols))
    sparsity = float(rng.choice([0.0, 0.25, 0.5, 0.75, 0.9, 1.0, rng.random()]))
    if rng.random() < 0.5:
        w = balanced_prune(w, sparsity, lanes)
    else:
        w[rng.random(w.shape) < sparsity] = 0
    if rng.random() < 0.3:
        w[int(rng.integers(rows))] = 0
    return w, bits


def with_stray_bits(cm, rng):
    """Mask words with random bits set for the non-existent columns past `cols` (to be ignored)."""
    words = [int(x) for x in cm.mask_words]
    last = cm.segments - 1
    stray = [lane * MASK_BITS_PER_LANE + j for lane in range(cm.lanes) for j in range(MASK_BITS_PER_LANE)
             if column(last, lane, j, cm.lanes) >= cm.cols]
    for r in range(cm.rows):
        for bit in stray:
            if rng.random() < 0.5:
                words[r * cm.segments + last] |= 1 << bit
    return dataclasses.replace(cm, mask_words=words)


def expected_stream(w, lanes):
    """Per (row, lane): the (bank index, weight) pairs the lane must emit, in order."""
    out = {}
    for r in range(w.shape[0]):
        for lane in range(lanes):
            cols = np.arange(lane, w.shape[1], lanes)
            nz = cols[w[r, cols] != 0]
            out[r, lane] = [(int(c // lanes), int(w[r, c])) for c in nz]
    return out


def ideal_cycles(w, lanes):
    seg_cols = lanes * MASK_BITS_PER_LANE
    total = 0
    for r in range(w.shape[0]):
        for s in range(segments(w.shape[1], lanes)):
            block = w[r, s * seg_cols:(s + 1) * seg_cols]
            counts = [np.count_nonzero(block[lane::lanes]) for lane in range(lanes)]
            total += max(1, max(counts))
    return total


class DecompressorTB:
    def __init__(self, dut):
        self.dut = dut
        self.lanes = bench_params()["lanes"]

    async def setup(self):
        cocotb.start_soon(Clock(self.dut.clk, 10, unit="ns").start())
        self.dut.rst.value = 1
        for name in ("start", "mask_w_en", "value_w_en"):
            getattr(self.dut, name).value = 0
        await RisingEdge(self.dut.clk)
        self.dut.rst.value = 0
        await RisingEdge(self.dut.clk)

    async def load(self, cm, mask_base, value_base):
        d = self.dut
        for i, word in enumerate(cm.mask_words):
            d.mask_w_addr.value, d.mask_w_data.value, d.mask_w_en.value = mask_base + i, int(word), 1
            await RisingEdge(d.clk)
        d.mask_w_en.value = 0
        for i, word in enumerate(cm.value_words):
            d.value_w_addr.value, d.value_w_data.value, d.value_w_en.value = value_base + i, int(word), 1
            await RisingEdge(d.clk)
        d.value_w_en.value = 0

    async def run(self, cm, mask_base, value_base, beats, max_cycles=100000):
        """Start, then sample every cycle until done; returns (emitted, row_ends, cycles, error)."""
        d, n = self.dut, self.lanes
        d.rows.value, d.cols.value, d.segs.value, d.w4.value = cm.rows, cm.cols, cm.segments, int(cm.weight_bits == 4)
        d.mask_base.value, d.value_base.value, d.beats.value = mask_base, value_base, beats
        await RisingEdge(d.clk)         # the bases are held from the cycle before `start` on
        d.start.value = 1
        await RisingEdge(d.clk)
        d.start.value = 0
        emitted = {(r, l): [] for r in range(cm.rows) for l in range(n)}
        row_ends, cycles = [], 0
        for _ in range(max_cycles):
            await ReadOnly()
            if int(d.valid.value):
                cycles += 1
                row = int(d.row.value)
                lane_valid = int(d.lane_valid.value)
                index = unsigned_fields(d.lane_index.value, INDEX_BITS, n)
                weight = signed_fields(d.lane_weight.value, 8, n)
                for lane in range(n):
                    if lane_valid >> lane & 1:
                        emitted[row, lane].append((index[lane], weight[lane]))
                if int(d.row_end.value):
                    row_ends.append(row)
            if int(d.done.value):
                return emitted, row_ends, cycles, int(d.error.value)
            await RisingEdge(d.clk)
        raise AssertionError(f"decompressor did not finish within {max_cycles} cycles")


@cocotb.test()
async def random_matrices(dut):
    tb = DecompressorTB(dut)
    await tb.setup()
    seed = bench_params().get("seed", 1)
    rng = np.random.default_rng(seed)
    for case in range(bench_params().get("cases", 40)):
        w, bits = random_matrix(rng, tb.lanes)
        rows = w.shape[0]
        zeros, ones = np.zeros(rows, dtype=np.int64), np.ones(rows, dtype=np.int64)
        cm = compress(w, zeros, ones, zeros, lanes=tb.lanes, weight_bits=bits)
        cm = with_stray_bits(cm, rng)
        mask_base, value_base = int(rng.integers(0, 8)), int(rng.integers(0, 8))
        await tb.load(cm, mask_base, value_base)
        emitted, row_ends, cycles, error = await tb.run(cm, mask_base, value_base, cm.beats)
        where = f"seed {seed} case {case} ({rows}x{w.shape[1]} int{bits})"
        assert error == ErrorCode.NONE, f"{where}: error {ErrorCode(error).name}"
        expected = expected_stream(w, tb.lanes)
        for key, pairs in expected.items():
            assert emitted[key] == pairs, (f"{where}: row {key[0]} lane {key[1]}: expected {pairs}, "
                                           f"got {emitted[key]}")
        assert row_ends == list(range(rows)), f"{where}: row ends {row_ends}"
        assert cycles == ideal_cycles(w, tb.lanes), f"{where}: {cycles} cycles, bound {ideal_cycles(w, tb.lanes)}"
        await RisingEdge(dut.clk)


@cocotb.test()
async def beat_count_errors(dut):
    """A header that declares one beat too few stops at that beat; one too many is reported at the end."""
    tb = DecompressorTB(dut)
    await tb.setup()
    rng = np.random.default_rng(7)
    w = rng.integers(-8, 8, size=(6, 3 * tb.lanes * MASK_BITS_PER_LANE))
    w = balanced_prune(w, 0.5, tb.lanes)
    zeros, ones = np.zeros(6, dtype=np.int64), np.ones(6, dtype=np.int64)
    cm = compress(w, zeros, ones, zeros, lanes=tb.lanes, weight_bits=4)
    await tb.load(cm, 0, 0)
    _, _, cycles, error = await tb.run(cm, 0, 0, cm.beats - 1)
    assert error == ErrorCode.WEIGHT_TRUNCATED, f"declared {cm.beats - 1} of {cm.beats} beats: {error}"
    assert cycles == cm.beats, f"truncation should be caught at beat {cm.beats - 1}, took {cycles} cycles"
    await RisingEdge(dut.clk)
    _, _, _, error = await tb.run(cm, 0, 0, cm.beats + 1)
    assert error == ErrorCode.WEIGHT_LENGTH, f"declared {cm.beats + 1} of {cm.beats} beats: {error}"
    await RisingEdge(dut.clk)
    _, _, _, error = await tb.run(cm, 0, 0, 0)
    assert error == ErrorCode.WEIGHT_TRUNCATED, f"declared 0 beats: {error}"
