"""Requantizer: a row's int32 accumulator plus bias, scaled by its fixed-point multiplier and shift.

out = saturate(round_shift(wrap32(acc + bias) * mult, shift), 16 if out16 else 8), exactly
`firmware.number_formats.requantize`. Fully pipelined (one row per cycle), `LATENCY` cycles:
sum; two 16-bit partial products (each fits one FPGA multiplier); their 48-bit sum; the rounding
bias; the shift; saturation. Every stage has at most one carry chain or one mux tree.
"""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..firmware.number_formats import ACC_BITS, MULT_BITS
from .fixed_point import round_bias, saturate, shift_rounded

LATENCY = 6
HALF_BITS = ACC_BITS // 2


class Requantizer(wiring.Component):
    def __init__(self, tag_bits: int = 16):
        super().__init__({
            "valid": In(1),
            "acc": In(signed(ACC_BITS)),
            "bias": In(signed(ACC_BITS)),
            "mult": In(signed(MULT_BITS)),
            "shift": In(6),
            "out16": In(1),
            "tag": In(tag_bits),

            "out_valid": Out(1),
            "out_value": Out(signed(16)),
            "out_tag": Out(tag_bits),
        })

    def elaborate(self, platform):
        m = Module()

        # Control travels beside the data: (valid, tag, shift, out16) per stage.
        ctrl = [self.valid, self.tag, self.shift, self.out16]

        def advance(ctrl):
            nxt = [Signal.like(c) for c in ctrl]
            m.d.sync += [q.eq(c) for q, c in zip(nxt, ctrl)]
            return nxt

        total = Signal(signed(ACC_BITS))
        mult1 = Signal.like(self.mult)
        m.d.sync += [total.eq((self.acc + self.bias)[:ACC_BITS].as_signed()), mult1.eq(self.mult)]
        ctrl = advance(ctrl)

        # total * mult = (hi * mult) << 16 + lo * mult, with lo the unsigned low half.
        lo = Signal(signed(HALF_BITS + MULT_BITS + 1))
        hi = Signal(signed(HALF_BITS + MULT_BITS))
        m.d.sync += [lo.eq(total[:HALF_BITS].as_unsigned() * mult1),
                     hi.eq(total[HALF_BITS:].as_signed() * mult1)]
        ctrl = advance(ctrl)

        product = Signal(signed(ACC_BITS + MULT_BITS))
        m.d.sync += product.eq((hi << HALF_BITS) + lo)
        ctrl = advance(ctrl)

        biased = round_bias(product, ctrl[2])
        biased_q = Signal(biased.shape())
        m.d.sync += biased_q.eq(biased)
        ctrl = advance(ctrl)

        scaled = Signal(signed(len(biased_q)))
        m.d.sync += scaled.eq(shift_rounded(biased_q, ctrl[2], len(product)))
        ctrl = advance(ctrl)

        out16 = ctrl[3]
        m.d.sync += [
            self.out_value.eq(Mux(out16, saturate(scaled, 16), saturate(scaled, 8))),
            self.out_valid.eq(ctrl[0]), self.out_tag.eq(ctrl[1]),
        ]
        return m
