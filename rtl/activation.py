"""Activation and elementwise unit: the ACT (lookup table) and EW (add, sub, mul, mov) vector ops.

One element per cycle through a three-stage pipeline: read the operands; compute, round, saturate
and look the table up; write. Enough for an LSTM cell: gate activations by table, products and
sums of int8 gates and the int16 cell state with shifts that align their scales.

The lookup tables (LUT_TABLES x 256 int8) live here, initialised to the default sigmoid, tanh,
relu and identity tables; the host may overwrite them through the `lut_w_*` port and read them
through `lut_r_*` while the unit is idle.
"""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.lib.memory import Memory

from ..firmware.isa import LUT_TABLES, Ew
from ..firmware.number_formats import ACT_BITS, LUT_ENTRIES, SPAD_BITS, default_luts
from .fixed_point import round_shift, saturate

LUT_ADDR_BITS = (LUT_TABLES * LUT_ENTRIES - 1).bit_length()


class ActivationUnit(wiring.Component):
    def __init__(self):
        super().__init__({
            "start": In(1),
            "act": In(1),
            "func": In(4),
            "shift": In(6),
            "sat16": In(1),
            "dst": In(16),
            "a": In(16),
            "b": In(16),
            "len": In(16),
            "busy": Out(1),
            "done": Out(1),
            "issued": Out(1),

            "a_addr": Out(16),
            "a_data": In(signed(SPAD_BITS)),
            "b_addr": Out(16),
            "b_data": In(signed(SPAD_BITS)),
            "w_addr": Out(16),
            "w_data": Out(signed(SPAD_BITS)),
            "w_en": Out(1),

            "lut_w_addr": In(LUT_ADDR_BITS),
            "lut_w_data": In(8),
            "lut_w_en": In(1),
            "lut_r_addr": In(LUT_ADDR_BITS),
            "lut_r_data": Out(signed(8)),
        })

    def elaborate(self, platform):
        m = Module()

        init = [int(v) for v in default_luts().reshape(-1)]
        m.submodules.lut = lut = Memory(shape=signed(8), depth=len(init), init=init)
        lut_rd, lut_wr = lut.read_port(), lut.write_port()
        m.d.comb += [
            lut_wr.addr.eq(self.lut_w_addr), lut_wr.data.eq(self.lut_w_data),
            lut_wr.en.eq(self.lut_w_en),
            self.lut_r_data.eq(lut_rd.data),
        ]

        act, func, shift, sat16 = Signal(), Signal(4), Signal(6), Signal()
        dst, a, b, length = Signal(16), Signal(16), Signal(16), Signal(16)
        index = Signal(17)
        running = Signal()
        with m.If(self.start):
            m.d.sync += [
                act.eq(self.act), func.eq(self.func), shift.eq(self.shift), sat16.eq(self.sat16),
                dst.eq(self.dst), a.eq(self.a), b.eq(self.b), length.eq(self.len),
                index.eq(0), running.eq(1),
            ]

        # Stage 0: read the operands.
        issue = running & (index < length)
        v1, i1 = Signal(), Signal(16)
        m.d.comb += [
            self.a_addr.eq(a + index), self.b_addr.eq(b + index),
            self.issued.eq(issue), self.busy.eq(running),
        ]
        m.d.sync += [v1.eq(issue), i1.eq(index)]
        with m.If(issue):
            m.d.sync += index.eq(index + 1)

        # Stage 1: compute, round, saturate; address the table.
        x, y = self.a_data, self.b_data
        raw = Signal(signed(2 * SPAD_BITS + 1))
        with m.Switch(func):
            with m.Case(Ew.ADD):
                m.d.comb += raw.eq(x + y)
            with m.Case(Ew.SUB):
                m.d.comb += raw.eq(x - y)
            with m.Case(Ew.MUL):
                m.d.comb += raw.eq(x * y)
            with m.Default():
                m.d.comb += raw.eq(x)
        scaled = round_shift(raw, shift)
        elementwise = Mux(sat16, saturate(scaled, 16), saturate(scaled, 8))
        lut_in = saturate(round_shift(x, shift), ACT_BITS)
        m.d.comb += lut_rd.addr.eq(Mux(running,
                                       Cat((lut_in + 128)[:8], func[:(LUT_TABLES - 1).bit_length()]),
                                       self.lut_r_addr))
        v2, i2, ew2 = Signal(), Signal(16), Signal(signed(SPAD_BITS))
        m.d.sync += [v2.eq(v1), i2.eq(i1), ew2.eq(elementwise)]

        # Stage 2: write.
        m.d.comb += [
            self.w_en.eq(v2),
            self.w_addr.eq(dst + i2),
            self.w_data.eq(Mux(act, lut_rd.data, ew2)),
        ]

        with m.If(running & ~issue & ~v1 & ~v2):
            m.d.comb += self.done.eq(1)
            m.d.sync += running.eq(0)
        return m
