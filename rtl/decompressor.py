"""Weight decompressor: turns mask words and packed value beats into one (index, weight) per lane per cycle.

Each cycle, every lane whose remaining mask for the current (row, segment) is non-zero takes its
lowest set bit j and the value in its slot of the current beat, and clears the bit. A segment
ends in the cycle in which every lane is down to at most one bit, so a segment costs
max(1, k) cycles for k beats and nothing is spent on zero weights.

Mask words and value words are each read in address order by a prefetcher into a small FIFO,
so no memory output or memory address sits in the per-cycle loop: the loop only sees registers.
Memory reads are synchronous (data one cycle after the address); the data is registered on
arrival (beside the block RAM, whose output is slow), then queued. While idle, each prefetcher
addresses its base, so the first words are read in the `start` cycle itself: `mask_base` and
`value_base` must hold their values from the cycle before `start` on. A matrix starts
`START_CYCLES` cycles after `start` (filling the FIFOs; the flags the loop needs are computed from
the registered mask word over two register stages), then runs without bubbles: at most one word of each kind is used per
cycle and the FIFO is deep enough to cover the read round trip. Prefetching may read words past the matrix's
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
START_CYCLES = 5        # `start` to the first `valid` cycle


def lowest_set_bit(m: Module, value: Value, name: str) -> Signal:
    """Index of the lowest set bit of `value` (0 when `value` is zero): a priority encoder."""
    index = Signal(range(len(value)), name=name)
    for bit in reversed(range(len(value))):
        with m.If(value[bit]):
            m.d.comb += index.eq(bit)
    return index


def prefetcher(m: Module, name: str, start: Value, base: Value, active: Value, mem_data: Value, pop: Value,
               stage=None, prepare=()):
    """Reads consecutive words from `base` into a FIFO while `active`, the first in the `start` cycle.

    Returns (addr, head, count, staged): the read address to drive (a register), the oldest entry
    and the number of entries held (both registers), and the staging register. `pop` drops the
    head; it must only be high when `count` is non-zero. While not `active` the address follows
    `base`, so `base` must not change in the cycle of `start`. An issued read arrives one cycle
    later and is registered (as `stage(word, arriving)` when given: it may keep its own state,
    advanced when `arriving`); each function in `prepare` then computes the next stage from the
    last register, registered too except the last one's result, which is what the FIFO holds.
    Entries held plus reads in flight never exceed the FIFO's depth, which is the round trip
    (issue to the freed slot being seen: 3 cycles plus one per `prepare` stage), so one word per
    cycle is sustained.
    """
    assert prepare, "the arriving word is always registered before it is queued"
    depth = 3 + len(prepare)
    addr = Signal(17, name=f"{name}_addr")
    count = Signal(range(depth + 1), name=f"{name}_count")
    arriving = Signal(name=f"{name}_arriving")
    arrived = mem_data if stage is None else stage(mem_data, arriving)
    staged, write = Signal(len(arrived), name=f"{name}_staged"), Signal(name=f"{name}_staged_valid")
    with m.If(start):
        m.d.sync += write.eq(0)
    with m.Else():
        m.d.sync += [staged.eq(arrived), write.eq(arriving)]
    word, in_flight = staged, arriving + write
    for i, step in enumerate(prepare):
        word = step(word)
        if i < len(prepare) - 1:
            q, valid = Signal(len(word), name=f"{name}_prepared{i}"), Signal(name=f"{name}_prepared{i}_valid")
            m.d.sync += [q.eq(word), valid.eq(write & ~start)]
            word, write, in_flight = q, valid, in_flight + valid
    wr_ptr = Signal(range(depth), name=f"{name}_wr_ptr")
    rd_ptr = Signal(range(depth), name=f"{name}_rd_ptr")
    entries = Array(Signal(len(word), name=f"{name}_entry{i}") for i in range(depth))
    issue = active & (count + in_flight < depth)

    def advance(ptr):
        return Mux(ptr == depth - 1, 0, ptr + 1)

    with m.If(start):
        # `addr` is `base` now (it followed `base` while idle): that read is the first.
        m.d.sync += [addr.eq(addr + 1), count.eq(0), arriving.eq(1), wr_ptr.eq(0), rd_ptr.eq(0)]
    with m.Else():
        m.d.sync += arriving.eq(issue)
        with m.If(~active):
            m.d.sync += addr.eq(base)
        with m.Elif(issue):
            m.d.sync += addr.eq(addr + 1)
        with m.If(write):
            m.d.sync += [entries[wr_ptr].eq(word), wr_ptr.eq(advance(wr_ptr))]
        with m.If(pop):
            m.d.sync += rd_ptr.eq(advance(rd_ptr))
        m.d.sync += count.eq(count + write - pop)
    return addr, entries[rd_ptr], count, staged


def count_at_least(m: Module, bits: Value, cap: int, name: str) -> list:
    """Flags [popcount(bits) >= 1, ..., >= cap] from a balanced tree of saturating counts.

    Plain AND/OR logic (no adder, so no carry chain) a few LUTs deep; every tree node is its own
    named signal, which keeps the simulator's generated code small.
    """
    level = [Cat(bit, Const(0, cap - 1)) for bit in bits]       # thermometer code: bit k is ">= k+1"
    depth = 0
    while len(level) > 1:
        nxt = []
        for i in range(0, len(level) - 1, 2):
            a, b = level[i], level[i + 1]
            node = Signal(cap, name=f"{name}_ge{depth}_{i // 2}")
            for k in range(cap):        # a + b >= k+1: a >= k+1, b >= k+1, or a >= t and b >= k+1-t
                terms = [a[k], b[k]] + [a[t - 1] & b[k - t] for t in range(1, k + 1)]
                m.d.comb += node[k].eq(Cat(*terms).any())
            nxt.append(node)
        if len(level) % 2:
            nxt.append(level[-1])
        level, depth = nxt, depth + 1
    return [level[0][k] for k in range(cap)]


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

            "mask_q": Out(mask_word_bits(lanes)),
            "value_q": Out(value_word_bits(lanes)),
        })

    def elaborate(self, platform):
        m = Module()
        n, mb = self.lanes, MASK_BITS_PER_LANE

        rows, segs = Signal(16), Signal(16)
        w4 = Signal()
        beats_left = Signal(32)         # declared beats not yet consumed
        exhausted = Signal()            # beats_left == 0
        row, seg = Signal(16), Signal(16)
        last_row = Signal()             # the current row is the matrix's last
        last_seg = Signal()             # the current segment is its row's last
        odd = Signal()                  # the current beat is the high half of its int4 value word
        remaining = Signal(n * mb)      # bits of the current segment not yet issued
        lane_has = Signal(n)            # lanes with a bit in `remaining`
        lane_ge2 = Signal(n)            # lanes with at least 2 bits in `remaining`
        lane_ge3 = Signal(n)            # lanes with at least 3 bits in `remaining`
        seg_done = Signal()             # every lane has at most one bit left: the segment's last cycle
        loading = Signal()              # started, waiting for the first mask and value words
        running = Signal()
        last_mask = Signal(n * mb)      # mask bits that stand for real columns in a row's last segment
        any_has = Signal()              # lane_has.any()

        m.d.comb += self.busy.eq(loading | running)

        # In the last segment, lane l owns the columns j*n + l < rem for rem = its column count;
        # bits beyond them are ignored, like the golden model does.
        # `rem` is registered at `start`; the first mask word is staged a cycle later, with the
        # bits to keep (`keep`, from `rem`) beside it.
        rem = Signal(range(n * mb + 1))
        with m.If(self.start):
            m.d.sync += rem.eq(((self.cols - 1) & (n * mb - 1)) + 1)
        for lane in range(n):
            for j in range(mb):
                m.d.comb += last_mask[lane * mb + j].eq(j * n + lane < rem)

        with m.If(self.start):
            m.d.sync += [
                rows.eq(self.rows), segs.eq(self.segs), w4.eq(self.w4), beats_left.eq(self.beats),
                exhausted.eq(self.beats == 0), row.eq(0), seg.eq(0), last_row.eq(self.rows == 1),
                odd.eq(0), loading.eq(1), running.eq(0),
            ]

        # Mask words become FIFO entries ready to load: the word as it arrives is registered with
        # "last segment of its row" (nothing in between, so the register can sit beside the block
        # RAMs: their output is slow, ~5.8 ns on an ECP5), then from that register the word with
        # the bits past `cols` cleared in a row's last segment and each lane's "at least 1, 2, 3
        # bits" (registered), then "every lane has at most one bit" and "some lane has a bit".
        # The segment a word belongs to is counted down as words arrive.
        fetch_left, fetch_last, segs_m1 = Signal(16), Signal(), Signal(16)
        with m.If(self.start):
            m.d.sync += segs_m1.eq(self.segs - 1)

        def stage_mask(word, arriving):
            with m.If(self.start):
                m.d.sync += [fetch_left.eq(self.segs - 1), fetch_last.eq(self.segs == 1)]
            with m.Elif(arriving):
                m.d.sync += [fetch_left.eq(Mux(fetch_last, segs_m1, fetch_left - 1)),
                             fetch_last.eq(Mux(fetch_last, segs_m1 == 0, fetch_left == 1))]
            # The bits to keep are registered beside the word, so that "last segment" is not one
            # flag fanned out to every mask bit in front of the count trees.
            m.d.sync += keep.eq(Mux(fetch_last, last_mask, Const(-1, n * mb)))
            return Cat(word[:n * mb], fetch_last)

        keep = Signal(n * mb)

        def prepare_mask(staged):
            last = staged[n * mb]
            masked = Signal(n * mb, name="mask_prepared")
            m.d.comb += masked.eq(staged[:n * mb] & keep)
            has, ge2, ge3 = (Signal(n, name=f"mask_prepared_{what}") for what in ("has", "ge2", "ge3"))
            for lane in range(n):
                flags = count_at_least(m, masked[lane * mb:(lane + 1) * mb], 3, f"mask_lane{lane}")
                m.d.comb += [has[lane].eq(flags[0]), ge2[lane].eq(flags[1]), ge3[lane].eq(flags[2])]
            return Cat(masked, has, ge2, ge3, last)

        def summarize_mask(prepared):
            ge2, has = prepared[n * mb + n:n * mb + 2 * n], prepared[n * mb:n * mb + n]
            return Cat(prepared[:n * mb + 3 * n], ~ge2.any(), prepared[n * mb + 3 * n], has.any())

        mask_pop, value_pop = Signal(), Signal()
        active = loading | running
        mask_addr, mask_head, mask_count, mask_staged = prefetcher(
            m, "mask", self.start, self.mask_base, active, self.mask_data, mask_pop,
            stage=stage_mask, prepare=(prepare_mask, summarize_mask))
        value_addr, value_head, value_count, value_staged = prefetcher(
            m, "value", self.start, self.value_base, active, self.value_data, value_pop,
            prepare=(lambda staged: staged,))   # registered beside the block RAM, then queued
        m.d.comb += [self.mask_addr.eq(mask_addr), self.value_addr.eq(value_addr)]
        head_mask = mask_head[:n * mb]
        head_has = mask_head[n * mb:n * mb + n]
        head_ge2 = mask_head[n * mb + n:n * mb + 2 * n]
        head_ge3 = mask_head[n * mb + 2 * n:n * mb + 3 * n]
        head_single = mask_head[n * mb + 3 * n]
        head_last = mask_head[n * mb + 3 * n + 1]
        head_any = mask_head[n * mb + 3 * n + 2]
        # The words as registered on arrival, for the host bus's reads (no second register on
        # the block RAM outputs): valid the cycle after the address while the core is idle.
        m.d.comb += [self.mask_q.eq(mask_staged[:n * mb]), self.value_q.eq(value_staged)]

        # This cycle's segment: one bit per lane is issued. Each lane's "at least 1, 2, 3 bits"
        # flags are registers that shift down by one as a bit is issued; only "at least 4" is
        # counted on `remaining`, and it feeds a register, so the segment's end (no lane with 3
        # bits now, so none with 2 next cycle) is a 16-input OR of registers.
        left, left_ge3 = Signal(n * mb), Signal(n)
        for lane in range(n):
            bits = remaining[lane * mb:(lane + 1) * mb]
            ge4 = count_at_least(m, bits, 4, f"lane{lane}_left")[3]
            # bits & (bits - 1) written as logic (a bit stays if a lower one is set): synthesis
            # reused the subtraction's carry chain for count flags, which put it on a long path.
            rest = Cat(Const(0, 1), *[bits[k] & bits[:k].any() for k in range(1, mb)])
            m.d.comb += [left[lane * mb:(lane + 1) * mb].eq(rest), left_ge3[lane].eq(ge4)]
            j = lowest_set_bit(m, bits, f"lane{lane}_bit")
            m.d.comb += self.lane_index[lane].eq(Cat(j, seg)[:INDEX_BITS])

        uses_beat = any_has             # lane_has.any(), kept as a register beside lane_has
        matrix_last = last_seg & last_row
        truncated = uses_beat & exhausted
        m.d.comb += value_pop.eq(running & uses_beat & (~w4 | odd))

        def load_segment():
            """The head mask entry becomes the current segment."""
            m.d.comb += mask_pop.eq(1)
            m.d.sync += [remaining.eq(head_mask), lane_has.eq(head_has), any_has.eq(head_any), lane_ge2.eq(head_ge2),
                         lane_ge3.eq(head_ge3), seg_done.eq(head_single), last_seg.eq(head_last)]

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

        # `start` never comes while loading or running (a matrix ends, by `done`, before the next
        # starts), so the load needs no `~start` term: `start` stays off the segment registers.
        with m.If(loading & (mask_count != 0) & (value_count != 0)):
            load_segment()
            m.d.sync += [loading.eq(0), running.eq(1)]

        with m.If(running):
            with m.If(uses_beat):
                m.d.sync += [beats_left.eq(beats_left - 1), exhausted.eq(beats_left == 1), odd.eq(odd ^ w4)]
            m.d.sync += [remaining.eq(left), lane_has.eq(lane_ge2), any_has.eq(lane_ge2.any()),
                         lane_ge2.eq(lane_ge3), lane_ge3.eq(left_ge3),
                         seg_done.eq(~lane_ge3.any())]
            with m.If(truncated):
                m.d.sync += [running.eq(0), done.eq(1), error.eq(ErrorCode.WEIGHT_TRUNCATED)]
            with m.Elif(seg_done):
                with m.If(last_seg):
                    m.d.sync += [seg.eq(0), row.eq(row + 1), last_row.eq(row + 2 == rows)]
                with m.Else():
                    m.d.sync += seg.eq(seg + 1)
                with m.If(matrix_last):
                    m.d.sync += [running.eq(0), done.eq(1)]
                    with m.If(Mux(uses_beat, beats_left != 1, beats_left != 0)):
                        m.d.sync += error.eq(ErrorCode.WEIGHT_LENGTH)
                with m.Else():
                    load_segment()
        return m
