"""cocotb bench of the activation/elementwise unit (through `harnesses.ActivationHarness`).

Random ACT (every table) and EW (every function, both output widths) vectors with shifts 0..31
and operands at the int16 extremes, in place and out of place, back to back, compared with
`firmware.ops` word for word; the scratchpad outside the destination must keep its canaries,
and each op must take len + a fixed latency cycles.
"""

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge

from ..firmware import ops
from ..firmware.isa import LUT_TABLES, Ew
from ..firmware.number_formats import default_luts
from ..rtl.activation import LATENCY
from .simulator import bench_params

PIPELINE_CYCLES = LATENCY + 1   # after the last read: the pipeline, then done


class ActivationTB:
    def __init__(self, dut):
        self.dut = dut
        self.depth = bench_params()["depth"]
        self.model = np.zeros(self.depth, dtype=np.int64)

    async def setup(self):
        d = self.dut
        cocotb.start_soon(Clock(d.clk, 10, unit="ns").start())
        d.rst.value = 0
        d.start.value = d.spad_w_en.value = 0
        await FallingEdge(d.clk)

    async def write(self, base, values):
        d = self.dut
        for i, v in enumerate(values):
            d.spad_w_addr.value, d.spad_w_data.value, d.spad_w_en.value = base + i, int(v) & 0xFFFF, 1
            self.model[base + i] = int(v)
            await FallingEdge(d.clk)
        d.spad_w_en.value = 0

    async def read_all(self):
        d = self.dut
        out = []
        d.spad_r_addr.value = 0
        for i in range(self.depth):
            await FallingEdge(d.clk)
            d.spad_r_addr.value = i + 1
            out.append(d.spad_r_data.value.to_signed())
        return np.array(out)

    async def run(self, act, func, shift, sat16, dst, a, b, length):
        d = self.dut
        d.act.value, d.func.value, d.shift.value, d.sat16.value = act, func, shift, sat16
        d.dst.value, d.a.value, d.b.value, d.len.value = dst, a, b, length
        d.start.value = 1
        await FallingEdge(d.clk)
        d.start.value = 0
        cycles = 1
        while not int(d.done.value):
            await FallingEdge(d.clk)
            cycles += 1
            assert cycles < length + 20, f"unit still busy after {cycles} cycles for len {length}"
        await FallingEdge(d.clk)    # `done` is high in the unit's last busy cycle
        return cycles


@cocotb.test()
async def random_vectors(dut):
    tb = ActivationTB(dut)
    await tb.setup()
    rng = np.random.default_rng(bench_params().get("seed", 11))
    luts = default_luts()
    canary = rng.integers(-32768, 32768, tb.depth)
    await tb.write(0, canary)
    for case in range(bench_params().get("cases", 60)):
        length = int(rng.integers(0, 40))
        a, b = int(rng.integers(0, 64)), int(rng.integers(64, 128))
        dst = a if rng.random() < 0.25 else int(rng.integers(128, tb.depth - length))
        extreme = rng.random() < 0.3
        for base in (a, b):
            vals = (rng.choice([-32768, 32767, -129, 128, 0, -1], length) if extreme
                    else rng.integers(-400, 400, length))
            await tb.write(base, vals)
        act = int(rng.random() < 0.4)
        if act:
            func, shift, sat16 = int(rng.integers(LUT_TABLES)), int(rng.integers(0, 10)), 0
            expect = ops.act(tb.model[a:a + length], luts[func], shift)
        else:
            func, shift, sat16 = int(rng.integers(len(Ew))), int(rng.integers(0, 32)), int(rng.integers(2))
            expect = ops.ew(Ew(func), tb.model[a:a + length], tb.model[b:b + length], shift, bool(sat16))
        cycles = await tb.run(act, func, shift, sat16, dst, a, b, length)
        tb.model[dst:dst + length] = expect
        got = await tb.read_all()
        op = f"case {case}: {'ACT' if act else 'EW.' + Ew(func).name} func={func} shift={shift} sat16={sat16} dst={dst} a={a} b={b} len={length}"
        bad = np.nonzero(got != tb.model)[0]
        assert len(bad) == 0, (f"{op}: address {bad[0]} expected {tb.model[bad[0]]}, got {got[bad[0]]}"
                               f" ({len(bad)} mismatches; {'inside' if dst <= bad[0] < dst + length else 'outside'} the destination)")
        bound = length + PIPELINE_CYCLES if length else 1
        assert cycles == bound, f"{op}: took {cycles} cycles, expected {bound}"
