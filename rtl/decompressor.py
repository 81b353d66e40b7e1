"""Weight decompressor: turns mask words and packed value beats into one (index, weight) per lane per cycle.

Each cycle, every lane whose remaining mask for the current (row, segment) is non-zero takes its
lowest set bit j and the value in its slot of the current beat, and clears the bit. A segment
ends in the cycle in which every lane is down to at most one bit, so a segment costs
max(1, k) cycles for k beats and nothing is spent on zero weights.

Mask words and value words are each read in address order by a prefetcher into a small FIFO
(`FIFO_DEPTH` words), so no memory output or memory address sits in the per-cycle loop: the loop
only sees registers. Memory reads are synchronous (data one cycle after the address); the data is
registered into the FIFO on arrival. A matrix starts `START_CYCLES` cycles after `start` (filling
the FIFOs), then runs without bubbles: at most one word of each kind is used per cycle and the
FIFO is deep enough to cover the read round trip. Prefetching may read words past the matrix's
end; they are discarded at the next `start`.

Errors (in `error` with `done`): WEIGHT_TRUNCATED when a beat at or beyond the declared `beats`
is needed; WEIGHT_LENGTH when the matrix ends with fewer beats consumed than declared.
`done` and `error` are registered: they come one cycle after the matrix's last `valid` cycle
(or after the cycle that needed the missing beat). Mask bits for columns at or beyond `cols`
(in a row's last segment) are ignored.
"""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..firmware.isa import ErrorCode
from ..firmware.weight_format import MASK_BITS_PER_LANE, mask_word_bits, value_word_bits

INDEX_BITS = 16
FIFO_DEPTH = 4
START_CYCLES = 4        # `start` to the first `valid` cycle


def lowest_set_bit(m: Module, value: Value, name: str) -> Signal:
    """Index of the lowest set bit of `value` (0 when `value` is zero): a priority encoder."""
    index = Signal(range(len(value)), name=name)
    for bit in reversed(range(len(value))):
        with m.If(value[bit]):
            m.d.comb += index.eq(bit)
    return index


def prefetcher(m: Module, name: str, start: Value, base: Value, active: Value, mem_data: Value, pop: Value):
    """Reads consecutive words from `base` (given with `start`) into a FIFO while `active`.

    Returns (addr, head, count): the read address to drive (a register), the oldest word and the
    number of words held (both registers). `pop` drops the head; it must only be high when
    `count` is non-zero. An issued read arrives one cycle later and is registered into the FIFO,
    so a word is usable two cycles after its address; `count` plus the read in flight never
    exceeds FIFO_DEPTH, and with FIFO_DEPTH >= 3 one word per cycle can be used indefinitely.
    """
    width = len(mem_data)
    addr = Signal(17, name=f"{name}_addr")
    count = Signal(range(FIFO_DEPTH + 1), name=f"{name}_count")
    arriving = Signal(name=f"{name}_arriving")
    wr_ptr = Signal(range(FIFO_DEPTH), name=f"{name}_wr_ptr")
    rd_ptr = Signal(range(FIFO_DEPTH), name=f"{name}_rd_ptr")
    entries = Array(Signal(width, name=f"{name}_entry{i}") for i in range(FIFO_DEPTH))
    issue = active & (count + arriving < FIFO_DEPTH)
    with m.If(start):
        m.d.sync += [addr.eq(base), count.eq(0), arriving.eq(0), wr_ptr.eq(0), rd_ptr.eq(0)]
    with m.Else():
        m.d.sync += arriving.eq(issue)
        with m.If(issue):
            m.d.sync += addr.eq(addr + 1)
        with m.If(arriving):
            m.d.sync += [entries[wr_ptr].eq(mem_data), wr_ptr.eq(wr_ptr + 1)]
        with m.If(pop):
            m.d.sync += rd_ptr.eq(rd_ptr + 1)
        m.d.sync += count.eq(count + arriving - pop)
    return addr, entries[rd_ptr], count


class Decompressor(wiring.Component):
    """Streams one matrix. Parameters are sampled when `start` is high (for one cycle).

    Per cycle while running: `valid` is high, `lane_valid[l]` says lane l carries a weight,
    `lane_index[l]` is its column's position in lane l's bank (segment*16 + j) and `lane_weight[l]`
    the int8 weight (int4 sign-extended). `row_end` marks the last cycle of row `row`.
    `done` pulses once the cycle after the last `valid` cycle (or on error, with `error` set).
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
        beats_left = Signal(32)         # declared beats not yet consumed
        row, seg = Signal(16), Signal(16)
        last_seg = Signal()             # the current segment is its row's last
        odd = Signal()                  # the current beat is the high half of its int4 value word
        remaining = Signal(n * mb)      # bits of the current segment not yet issued
        loading = Signal()              # started, waiting for the first mask and value words
        running = Signal()
        last_mask = Signal(n * mb)      # mask bits that stand for real columns in a row's last segment

        m.d.comb += self.busy.eq(loading | running)

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
                rows.eq(self.rows), segs.eq(self.segs), w4.eq(self.w4), beats_left.eq(self.beats),
                row.eq(0), seg.eq(0), odd.eq(0), loading.eq(1), running.eq(0),
            ]

        # The masks of this cycle, and what is left of them after issuing one bit per lane.
        current = remaining
        left = Signal(n * mb)
        lane_has = Signal(n)
        lane_single = Signal(n)         # at most one bit left in the lane: its last weight this segment
        for lane in range(n):
            bits = current[lane * mb:(lane + 1) * mb]
            m.d.comb += [
                lane_has[lane].eq(bits.any()),
                left[lane * mb:(lane + 1) * mb].eq(bits & (bits - 1)),
                lane_single[lane].eq(~(bits & (bits - 1)).any()),
            ]
            j = lowest_set_bit(m, bits, f"lane{lane}_bit")
            m.d.comb += self.lane_index[lane].eq(Cat(j, seg)[:INDEX_BITS])

        uses_beat = lane_has.any()
        seg_done = lane_single.all()
        matrix_last = last_seg & (row + 1 == rows)
        truncated = uses_beat & (beats_left == 0)

        # Prefetchers. A mask word is used when it becomes `remaining`; a value word by its last beat.
        mask_pop, value_pop = Signal(), Signal()
        active = loading | running
        mask_addr, mask_head, mask_count = prefetcher(
            m, "mask", self.start, self.mask_base, active, self.mask_data, mask_pop)
        value_addr, value_head, value_count = prefetcher(
            m, "value", self.start, self.value_base, active, self.value_data, value_pop)
        m.d.comb += [
            self.mask_addr.eq(mask_addr), self.value_addr.eq(value_addr),
            value_pop.eq(running & uses_beat & (~w4 | odd)),
        ]

        def load_segment(is_last):
            """The head mask word becomes the current segment (row's last if `is_last`)."""
            m.d.comb += mask_pop.eq(1)
            m.d.sync += [remaining.eq(mask_head & Mux(is_last, last_mask, Const(-1, n * mb))),
                         last_seg.eq(is_last)]

        # The value word of the current beat, split into per-lane slots.
        half = odd & w4
        for lane in range(n):
            byte = value_head[lane * 8:(lane + 1) * 8]
            nib = value_head.word_select(lane + n * half, 4)
            m.d.comb += self.lane_weight[lane].eq(Mux(w4, nib.as_signed(), byte.as_signed()))

        m.d.comb += [
            self.valid.eq(running),
            self.lane_valid.eq(Mux(running, lane_has, 0)),
            self.row_end.eq(running & seg_done & last_seg),
            self.row.eq(row),
        ]

        done, error = Signal(), Signal(8)
        m.d.comb += [self.done.eq(done), self.error.eq(error)]
        m.d.sync += [done.eq(0), error.eq(0)]

        with m.If(loading & ~self.start & (mask_count != 0) & (value_count != 0)):
            load_segment(segs == 1)
            m.d.sync += [loading.eq(0), running.eq(1)]

        with m.If(running):
            m.d.sync += [beats_left.eq(beats_left - uses_beat), odd.eq(odd ^ (uses_beat & w4)),
                         remaining.eq(left)]
            with m.If(truncated):
                m.d.sync += [running.eq(0), done.eq(1), error.eq(ErrorCode.WEIGHT_TRUNCATED)]
            with m.Elif(seg_done):
                with m.If(last_seg):
                    m.d.sync += [seg.eq(0), row.eq(row + 1)]
                with m.Else():
                    m.d.sync += seg.eq(seg + 1)
                with m.If(matrix_last):
                    m.d.sync += [running.eq(0), done.eq(1)]
                    with m.If(beats_left != uses_beat):
                        m.d.sync += error.eq(ErrorCode.WEIGHT_LENGTH)
                with m.Else():
                    load_segment(Mux(last_seg, segs == 1, seg + 2 == segs))
        return m
