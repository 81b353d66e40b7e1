"""cocotb bench of the requantizer: random and edge rows against `number_formats.requantize`.

Edges: int32 extremes of accumulator and bias (the sum wraps), multipliers of both signs and
zero, every shift 0..63, both output widths; a row enters every cycle, so the pipeline is full.
"""

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge

from ..firmware.number_formats import requantize, wrap
from ..rtl.requantizer import LATENCY
from .simulator import bench_params

INT32 = (-(1 << 31), (1 << 31) - 1)


@cocotb.test()
async def random_rows(dut):
    rng = np.random.default_rng(bench_params().get("seed", 5))
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 0
    dut.valid.value = 0
    expected, got = [], []
    rows = bench_params().get("rows", 4000)
    for i in range(rows + LATENCY + 2):
        if i < rows:
            edge = rng.random() < 0.25
            acc = int(rng.choice(INT32)) if edge else int(rng.integers(-(1 << 20), 1 << 20))
            bias = int(rng.choice(INT32)) if edge else int(rng.integers(-(1 << 16), 1 << 16))
            mult = int(rng.choice([-(1 << 15), (1 << 15) - 1, 0, 1])) if edge else int(rng.integers(-(1 << 15), 1 << 15))
            shift = int(rng.integers(0, 64))
            out16 = int(rng.integers(2))
            dut.valid.value = 1
            dut.acc.value, dut.bias.value = acc & 0xFFFFFFFF, bias & 0xFFFFFFFF
            dut.mult.value, dut.shift.value, dut.out16.value, dut.tag.value = mult & 0xFFFF, shift, out16, i & 0xFFFF
            value = int(requantize(int(wrap(acc + bias, 32)), mult, shift, 16 if out16 else 8))
            expected.append((value, i & 0xFFFF, (acc, bias, mult, shift, out16)))
        else:
            dut.valid.value = 0
        await FallingEdge(dut.clk)
        if int(dut.out_valid.value):
            got.append((dut.out_value.value.to_signed(), int(dut.out_tag.value)))
    assert len(got) == len(expected), f"{len(got)} rows out, {len(expected)} in"
    for (g, tag), (e, etag, inputs) in zip(got, expected):
        assert (g, tag) == (e, etag), f"row {etag} {inputs}: expected {e}, got {g} (tag {tag})"
