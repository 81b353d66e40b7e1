"""Activation and elementwise unit: the ACT (lookup table) and EW (add, sub, mul, mov) vector ops.

One element per cycle through a pipeline, `LATENCY` cycles from an element's read to its write:
the scratchpad read (READ_LATENCY), operand register, compute (add, sub and one multiplier, each
registered), select (or pass), rounding bias, shift, saturate, table read, table word register,
write. Every block RAM output and every multiplier sits between registers (for 100 MHz on an
ECP5). Elements of one op never depend on each other (the sequencer allows dst == a or dst == b
only element for element), so the depth costs a fixed number of cycles per op, not per element.
Enough for an LSTM cell: gate activations by table, products and sums of int8 gates and the int16
cell state with shifts that align their scales.

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
from . import block_ram
from .fixed_point import round_bias, saturate, shift_rounded
from .scratchpad import READ_LATENCY

LUT_ADDR_BITS = (LUT_TABLES * LUT_ENTRIES - 1).bit_length()
LATENCY = READ_LATENCY + 8      # cycles from an element's read to its write


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
        m.submodules.lut = lut = Memory(shape=signed(8), depth=len(init), init=init, attrs=block_ram.ATTRS)
        lut_rd, lut_wr = block_ram.ReadPort(m, lut, "lut"), lut.write_port()
        m.d.comb += [
            lut_wr.addr.eq(self.lut_w_addr), lut_wr.data.eq(self.lut_w_data),
            lut_wr.en.eq(self.lut_w_en),
            self.lut_r_data.eq(lut_rd.data),
        ]

        act, func, shift, sat16 = Signal(), Signal(4), Signal(6), Signal()
        running = Signal()
        with m.If(self.start):
            m.d.sync += [
                act.eq(self.act), func.eq(self.func), shift.eq(self.shift), sat16.eq(self.sat16),
                running.eq(1),
            ]

        # Stage 0: issue the operand reads (from address registers, no adder on the way to the
        # scratchpad); the scratchpad answers READ_LATENCY cycles later. `more` (a register) says
        # elements are left to issue.
        left, more = Signal(16), Signal()
        issue = running & more
        a_ptr, b_ptr = Signal(16), Signal(16)
        m.d.comb += [
            self.a_addr.eq(a_ptr), self.b_addr.eq(b_ptr),
            self.issued.eq(issue), self.busy.eq(running),
        ]
        with m.If(self.start):
            m.d.sync += [a_ptr.eq(self.a), b_ptr.eq(self.b), left.eq(self.len), more.eq(self.len != 0)]
        with m.Elif(issue):
            m.d.sync += [left.eq(left - 1), more.eq(left != 1), a_ptr.eq(a_ptr + 1), b_ptr.eq(b_ptr + 1)]

        # Each later stage is a valid bit plus its data; `stages` holds every stage's valid so that
        # `done` waits for the pipeline to drain. Elements leave in order, so the write address
        # is a pointer that starts at dst and counts the writes.
        stages = []

        def stage(valid):
            v = Signal(name=f"v{len(stages) + 1}")
            m.d.sync += v.eq(valid)
            stages.append(v)
            return v

        v = stage(issue)
        for _ in range(READ_LATENCY - 1):
            v = stage(v)

        # Operands arrive (from the banks' registers through the bank mux): register them. The
        # multiplier has operand registers of its own, loaded only for an arriving element (so
        # synthesis keeps them apart from x and y and can place them beside the multiplier).
        x, y = Signal(signed(SPAD_BITS)), Signal(signed(SPAD_BITS))
        x_mul, y_mul = Signal(signed(SPAD_BITS)), Signal(signed(SPAD_BITS))
        m.d.sync += [x.eq(self.a_data), y.eq(self.b_data)]
        with m.If(v):
            m.d.sync += [x_mul.eq(self.a_data), y_mul.eq(self.b_data)]
        v = stage(v)

        # Compute: sum, difference and product, each registered (the multiplier alone is ~4 ns on
        # an ECP5), then the one the instruction asks for (ACT passes its operand through); then
        # round, shift and saturate, one stage each.
        x2 = Signal(signed(SPAD_BITS))
        added, subtracted = Signal(signed(SPAD_BITS + 1)), Signal(signed(SPAD_BITS + 1))
        multiplied = Signal(signed(2 * SPAD_BITS))
        m.d.sync += [x2.eq(x), added.eq(x + y), subtracted.eq(x - y), multiplied.eq(x_mul * y_mul)]
        v = stage(v)
        raw = Signal(signed(2 * SPAD_BITS + 1))
        with m.If(act):
            m.d.sync += raw.eq(x2)
        with m.Else():
            with m.Switch(func):
                with m.Case(Ew.ADD):
                    m.d.sync += raw.eq(added)
                with m.Case(Ew.SUB):
                    m.d.sync += raw.eq(subtracted)
                with m.Case(Ew.MUL):
                    m.d.sync += raw.eq(multiplied)
                with m.Default():
                    m.d.sync += raw.eq(x2)
        v = stage(v)

        biased = Signal(round_bias(raw, shift).shape())
        m.d.sync += biased.eq(round_bias(raw, shift))
        v = stage(v)

        scaled = Signal(signed(len(biased)))
        m.d.sync += scaled.eq(shift_rounded(biased, shift, len(raw)))
        v = stage(v)

        # EW saturates to int16 or int8; ACT saturates its table index to ACT_BITS.
        sat = Signal(signed(SPAD_BITS))
        m.d.sync += sat.eq(Mux(~act & sat16, saturate(scaled, 16), saturate(scaled, ACT_BITS)))
        v = stage(v)

        # Look the table up (and keep the elementwise result beside it); register the table's word.
        m.d.comb += lut_rd.addr.eq(Mux(running,
                                       Cat((sat + 128)[:ACT_BITS], func[:(LUT_TABLES - 1).bit_length()]),
                                       self.lut_r_addr))
        ew = Signal(signed(SPAD_BITS))
        m.d.sync += ew.eq(sat)
        v = stage(v)
        looked_up = Signal(signed(8))
        m.d.sync += looked_up.eq(lut_rd.data)
        ew2 = Signal(signed(SPAD_BITS))
        m.d.sync += ew2.eq(ew)
        v = stage(v)

        # Write.
        w_ptr = Signal(16)
        with m.If(self.start):
            m.d.sync += w_ptr.eq(self.dst)
        with m.Elif(v):
            m.d.sync += w_ptr.eq(w_ptr + 1)
        m.d.comb += [
            self.w_en.eq(v),
            self.w_addr.eq(w_ptr),
            self.w_data.eq(Mux(act, looked_up, ew2)),
        ]

        with m.If(running & ~issue & ~Cat(*stages).any()):
            m.d.comb += self.done.eq(1)
            m.d.sync += running.eq(0)
        return m
