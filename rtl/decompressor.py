"""Weight decompressor: turns mask words and packed value beats into one (index, weight) per lane per cycle.

Each cycle, every lane whose remaining mask for the current (row, segment) is non-zero takes its
lowest set bit j and the value in its slot of the current beat, and clears the bit. A segment
ends in the cycle in which every lane is down to at most one bit, so a segment costs
max(1, k) cycles for k beats and nothing is spent on zero weights. The next mask word is always
being read while the current one is consumed, so segments follow each other without bubbles.

Memory reads are synchronous (data one cycle after the address). `mask_addr`/`value_addr` are
driven combinationally with the address needed in the next cycle.

Errors (in `error` with `done`): WEIGHT_TRUNCATED when a beat at or beyond the declared `beats`
is needed; WEIGHT_LENGTH when the matrix ends with fewer beats consumed than declared.
Mask bits for columns at or beyond `cols` (in a row's last segment) are ignored.
"""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..firmware.isa import ErrorCode
from ..firmware.weight_format import MASK_BITS_PER_LANE, mask_word_bits, value_word_bits

INDEX_BITS = 16


def lowest_set_bit(m: Module, value: Value, name: str) -> Signal:
    """Index of the lowest set bit of `value` (0 when `value` is zero): a priority encoder."""
    index = Signal(range(len(value)), name=name)
    for bit in reversed(range(len(value))):
        with m.If(value[bit]):
            m.d.comb += index.eq(bit)
    return index


class Decompressor(wiring.Component):
    """Streams one matrix. Parameters are sampled when `start` is high (for one cycle).

    Per cycle while running: `valid` is high, `lane_valid[l]` says lane l carries a weight,
    `lane_index[l]` is its column's position in lane l's bank (segment*16 + j) and `lane_weight[l]`
    the int8 weight (int4 sign-extended). `row_end` marks the last cycle of row `row`.
    `done` pulses once after the last cycle (or on error, with `error` set).
    """

    def __init__(self, lanes: int):
        self.lanes = lanes
        super().__init__({
            "start": In(1),
            "rows": In(16),
            "cols": In(16),
            "segs": In(16),
            "w4": In(1),
            "mask_base": In(16),
            "value_base": In(16),
            "beats": In(32),

            "mask_addr": Out(17),
            "mask_data": In(mask_word_bits(lanes)),
            "value_addr": Out(17),
            "value_data": In(value_word_bits(lanes)),

            "busy": Out(1),
            "valid": Out(1),
            "lane_valid": Out(lanes),
            "lane_index": Out(INDEX_BITS).array(lanes),
            "lane_weight": Out(signed(8)).array(lanes),
            "row_end": Out(1),
            "row": Out(16),
            "done": Out(1),
            "error": Out(8),
        })

    def elaborate(self, platform):
        m = Module()
        n, mb = self.lanes, MASK_BITS_PER_LANE

        rows, segs = Signal(16), Signal(16)
        w4 = Signal()
        beats = Signal(32)
        value_base = Signal(16)
        mask_ptr = Signal(17)           # mask word the read port fetches for the next segment
        row, seg = Signal(16), Signal(16)
        beat = Signal(33)               # index of the current beat in the value stream
        remaining = Signal(n * mb)      # bits of the current segment not yet issued
        fresh = Signal()                # current segment's mask is on mask_data, not in `remaining`
        running = Signal()
        last_mask = Signal(n * mb)      # mask bits that stand for real columns in a row's last segment

        m.d.comb += self.busy.eq(running)

        # In the last segment, lane l owns the columns j*n + l < rem for rem = its column count;
        # bits beyond them are ignored, like the golden model does.
        rem = ((self.cols - 1) & (n * mb - 1)) + 1
        for lane in range(n):
            count = Signal(range(mb + 1), name=f"lane{lane}_last_bits")
            m.d.comb += count.eq(Mux(rem > lane, (rem - lane + n - 1) >> (n - 1).bit_length(), 0))
            with m.If(self.start):
                m.d.sync += last_mask[lane * mb:(lane + 1) * mb].eq((Const(1, mb + 1) << count) - 1)

        with m.If(self.start):
            m.d.sync += [
                rows.eq(self.rows), segs.eq(self.segs), w4.eq(self.w4), beats.eq(self.beats),
                value_base.eq(self.value_base), mask_ptr.eq(self.mask_base + 1),
                row.eq(0), seg.eq(0), beat.eq(0), fresh.eq(1), running.eq(1),
            ]

        # The masks of this cycle, and what is left of them after issuing one bit per lane.
        current = Signal(n * mb)
        left = Signal(n * mb)
        row_last_seg = seg + 1 == segs
        m.d.comb += current.eq(Mux(fresh, self.mask_data & Mux(row_last_seg, last_mask, Const(-1, n * mb)), remaining))
        lane_has = Signal(n)
        for lane in range(n):
            bits = current[lane * mb:(lane + 1) * mb]
            m.d.comb += [
                lane_has[lane].eq(bits.any()),
                left[lane * mb:(lane + 1) * mb].eq(bits & (bits - 1)),
            ]
            j = lowest_set_bit(m, bits, f"lane{lane}_bit")
            m.d.comb += self.lane_index[lane].eq(Cat(j, seg)[:INDEX_BITS])

        # The value word of the current beat, split into per-lane slots.
        half = beat[0] & w4
        for lane in range(n):
            byte = self.value_data[lane * 8:(lane + 1) * 8]
            nib = self.value_data.word_select(lane + n * half, 4)
            m.d.comb += self.lane_weight[lane].eq(Mux(w4, nib.as_signed(), byte.as_signed()))

        uses_beat = lane_has.any()
        seg_done = ~left.any()
        matrix_last = row_last_seg & (row + 1 == rows)
        next_beat = beat + uses_beat
        truncated = uses_beat & (beat >= beats)

        run = running
        m.d.comb += [
            self.valid.eq(run),
            self.lane_valid.eq(Mux(run, lane_has, 0)),
            self.row_end.eq(run & seg_done & row_last_seg),
            self.row.eq(row),
            self.mask_addr.eq(Mux(self.start, self.mask_base, mask_ptr)),
        ]
        # Address of the value word holding the beat consumed in the next cycle.
        fetch_beat = Mux(self.start, 0, Mux(run, next_beat, beat))
        fetch_base = Mux(self.start, self.value_base, value_base)
        m.d.comb += self.value_addr.eq(fetch_base + Mux(Mux(self.start, self.w4, w4),
                                                         fetch_beat >> 1, fetch_beat))

        with m.If(run):
            m.d.sync += [beat.eq(next_beat), remaining.eq(left), fresh.eq(0)]
            with m.If(truncated):
                m.d.comb += [self.done.eq(1), self.error.eq(ErrorCode.WEIGHT_TRUNCATED)]
                m.d.sync += running.eq(0)
            with m.Elif(seg_done):
                m.d.sync += [fresh.eq(1), mask_ptr.eq(mask_ptr + 1)]
                with m.If(row_last_seg):
                    m.d.sync += [seg.eq(0), row.eq(row + 1)]
                with m.Else():
                    m.d.sync += seg.eq(seg + 1)
                with m.If(matrix_last):
                    m.d.sync += running.eq(0)
                    m.d.comb += self.done.eq(1)
                    with m.If(next_beat != beats):
                        m.d.comb += self.error.eq(ErrorCode.WEIGHT_LENGTH)
        return m
