"""Requantizer: a row's int32 accumulator plus bias, scaled by its fixed-point multiplier and shift.

out = saturate(round_shift(wrap32(acc + bias) * mult, shift), 16 if out16 else 8), exactly
`firmware.number_formats.requantize`. Fully pipelined (one row per cycle), `LATENCY` cycles.
"""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..firmware.number_formats import ACC_BITS, MULT_BITS
from .fixed_point import round_shift, saturate

LATENCY = 3


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

        total = Signal(signed(ACC_BITS))
        mult1, shift1, out16_1 = Signal.like(self.mult), Signal(6), Signal()
        v1, t1 = Signal(), Signal.like(self.tag)
        m.d.sync += [
            total.eq((self.acc + self.bias)[:ACC_BITS].as_signed()),
            mult1.eq(self.mult), shift1.eq(self.shift), out16_1.eq(self.out16),
            v1.eq(self.valid), t1.eq(self.tag),
        ]

        product = Signal(signed(ACC_BITS + MULT_BITS))
        shift2, out16_2 = Signal(6), Signal()
        v2, t2 = Signal(), Signal.like(self.tag)
        m.d.sync += [
            product.eq(total * mult1), shift2.eq(shift1), out16_2.eq(out16_1),
            v2.eq(v1), t2.eq(t1),
        ]

        scaled = round_shift(product, shift2)
        m.d.sync += [
            self.out_value.eq(Mux(out16_2, saturate(scaled, 16), saturate(scaled, 8))),
            self.out_valid.eq(v2), self.out_tag.eq(t2),
        ]
        return m
