"""N-lane int8 x int8 multiply-accumulate array with a pipelined adder tree and one int32 accumulator.

Lane l multiplies its weight by its activation (the int16 scratchpad entry saturated to int8) when
`lane_valid[l]` is high; idle lanes contribute zero. The lane products of a cycle are summed by a
binary tree with a register after every level (operands and products are registered too), then added into the accumulator. The cycle that
carries `row_end` closes the row: its total appears on `out_acc` with `out_valid` and the
accumulator restarts from zero (as it does on `clear`), so rows follow each other without a bubble.

Latency from the inputs to `out_valid`: `LATENCY(lanes)` cycles. The accumulator wraps modulo 2**32.
"""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..firmware.number_formats import ACC_BITS, ACT_BITS
from .fixed_point import saturate


def tree_levels(lanes: int) -> int:
    return (lanes - 1).bit_length()


def latency(lanes: int) -> int:
    """Cycles from a lane input to its row's `out_valid`: operands, product, tree levels, accumulator."""
    return 2 + tree_levels(lanes) + 1


class MacArray(wiring.Component):
    def __init__(self, lanes: int, tag_bits: int = 16):
        self.lanes = lanes
        super().__init__({
            "clear": In(1),
            "valid": In(1),
            "lane_valid": In(lanes),
            "weight": In(signed(8)).array(lanes),
            "x": In(signed(16)).array(lanes),
            "row_end": In(1),
            "tag": In(tag_bits),

            "out_valid": Out(1),
            "out_acc": Out(signed(ACC_BITS)),
            "out_tag": Out(tag_bits),
        })

    def elaborate(self, platform):
        m = Module()
        n = self.lanes

        # Stage 1: operands (the activation saturated to int8, the weight zeroed on an idle lane);
        # stage 2: products, straight from registers into the multipliers and back.
        level = []
        for lane in range(n):
            w, x8 = Signal(signed(8), name=f"weight{lane}"), Signal(signed(ACT_BITS), name=f"x8_{lane}")
            m.d.sync += [w.eq(Mux(self.lane_valid[lane], self.weight[lane], 0)),
                         x8.eq(saturate(self.x[lane], ACT_BITS))]
            p = Signal(signed(16), name=f"product{lane}")
            m.d.sync += p.eq(w * x8)
            level.append(p)
        valid, row_end, tag = self.valid, self.row_end, self.tag
        for stage in range(2):
            v, e, t = Signal(), Signal(), Signal.like(self.tag)
            m.d.sync += [v.eq(valid), e.eq(row_end), t.eq(tag)]
            valid, row_end, tag = v, e, t

        # Adder tree, one register per level.
        depth = 0
        while len(level) > 1:
            depth += 1
            width = 16 + depth
            nxt = []
            for i in range(0, len(level), 2):
                s = Signal(signed(width), name=f"sum{depth}_{i // 2}")
                m.d.sync += s.eq(level[i] + level[i + 1] if i + 1 < len(level) else level[i])
                nxt.append(s)
            level = nxt
            v, e, t = Signal(), Signal(), Signal.like(self.tag)
            m.d.sync += [v.eq(valid), e.eq(row_end), t.eq(tag)]
            valid, row_end, tag = v, e, t
        total = level[0]

        # Accumulator.
        acc = Signal(signed(ACC_BITS))
        summed = (acc + total)[:ACC_BITS].as_signed()
        m.d.sync += [self.out_valid.eq(0)]
        with m.If(self.clear):
            m.d.sync += acc.eq(0)
        with m.Elif(valid):
            with m.If(row_end):
                m.d.sync += [acc.eq(0), self.out_acc.eq(summed), self.out_valid.eq(1),
                             self.out_tag.eq(tag)]
            with m.Else():
                m.d.sync += acc.eq(summed)
        return m
