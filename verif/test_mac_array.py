"""cocotb bench of the MAC array: random beats against `firmware.ops` row sums.

Each cycle carries random lane-valid bits, int8/int4 weights and int16 activations (many outside
int8, to hit the MAC's input saturation), with idle cycles and rows of every length, including
one-beat rows back to back. Every closed row's sum must equal the reference, in order, with its tag.
Inputs change on falling edges; outputs are sampled there too.
"""

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge

from ..firmware.number_formats import ACT_BITS, saturate, wrap
from ..rtl.mac_array import latency
from .simulator import bench_params


def row_sum(weights, xs, valids):
    """Reference: sum of weight * sat8(x) over valid lanes, wrapped to int32."""
    products = [w * int(saturate(x, ACT_BITS)) for w, x, v in zip(weights, xs, valids) if v]
    return int(wrap(sum(products), 32))


@cocotb.test()
async def random_rows(dut):
    lanes = bench_params()["lanes"]
    rng = np.random.default_rng(bench_params().get("seed", 3))
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    dut.valid.value = dut.clear.value = dut.row_end.value = 0
    await FallingEdge(dut.clk)
    dut.rst.value = 0

    expected, got = [], []
    acc, tag = [], 0
    cycles = bench_params().get("cycles", 3000)
    for cycle in range(cycles + 3 * latency(lanes)):
        active = cycle < cycles and rng.random() < 0.85
        if active:
            valids = rng.random(lanes) < rng.random()
            w4 = rng.random() < 0.5
            wmax = 7 if w4 else 127
            extreme = rng.random() < 0.2
            weights = rng.choice([-wmax - 1, wmax], lanes) if extreme else rng.integers(-wmax - 1, wmax + 1, lanes)
            xs = rng.choice([-32768, 32767, -129, 128], lanes) if extreme else rng.integers(-300, 300, lanes)
            end = rng.random() < 0.3
            dut.valid.value = 1
            dut.lane_valid.value = int(sum(int(v) << i for i, v in enumerate(valids)))
            for i in range(lanes):
                getattr(dut, f"weight__{i}").value = int(weights[i]) & 0xFF
                getattr(dut, f"x__{i}").value = int(xs[i]) & 0xFFFF
            dut.row_end.value = int(end)
            dut.tag.value = tag
            acc.append(row_sum(weights, xs, valids))
            if end:
                expected.append((int(wrap(sum(acc), 32)), tag))
                acc, tag = [], (tag + 1) & 0xFFFF
        else:
            dut.valid.value = 0
            dut.row_end.value = 0
        await FallingEdge(dut.clk)
        if int(dut.out_valid.value):
            got.append((dut.out_acc.value.to_signed(), int(dut.out_tag.value)))

    assert len(got) == len(expected), f"{len(got)} rows out, {len(expected)} expected"
    for i, (g, e) in enumerate(zip(got, expected)):
        assert g == e, f"row {i}: expected sum {e[0]} tag {e[1]}, got sum {g[0]} tag {g[1]}"


@cocotb.test()
async def clear_discards_partial_row(dut):
    """`clear` drops a half-accumulated row, so an aborted matrix cannot leak into the next."""
    lanes = bench_params()["lanes"]
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 0
    dut.clear.value = 0
    for i in range(lanes):
        getattr(dut, f"weight__{i}").value = 3
        getattr(dut, f"x__{i}").value = 5
    dut.lane_valid.value = (1 << lanes) - 1
    dut.valid.value, dut.row_end.value = 1, 0
    await FallingEdge(dut.clk)
    dut.valid.value = 0
    for _ in range(latency(lanes) + 1):
        await FallingEdge(dut.clk)
    dut.clear.value = 1
    await FallingEdge(dut.clk)
    dut.clear.value = 0
    dut.lane_valid.value = 1
    dut.valid.value, dut.row_end.value = 1, 1
    await FallingEdge(dut.clk)
    dut.valid.value = dut.row_end.value = 0
    for _ in range(latency(lanes) + 1):
        await FallingEdge(dut.clk)
        if int(dut.out_valid.value):
            assert dut.out_acc.value.to_signed() == 15, f"expected 15, got {dut.out_acc.value.to_signed()}"
            return
    raise AssertionError("the row never came out")
