"""MATVEC engine: decompressor -> lane activation reads -> MAC array -> row parameters -> requantizer -> write.

Every stage accepts one beat (or one row) per cycle, so a matrix takes the decompressor's cycles
(about ceil(nnz / lanes)) plus a fixed pipeline latency. Every memory output is registered before
it feeds logic, and lane addresses are registered before they reach the scratchpad. `done` rises when the last row has been
written, or at once with `error` when the weight stream is found inconsistent; writes still in
flight after an error are dropped, so nothing outside the destination range is ever touched.
"""

from amaranth import *
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..firmware.number_formats import SPAD_BITS
from ..firmware.weight_format import HEADER_WORDS, PARAM_WORD_BITS, ROW_PARAMS, mask_word_bits, value_word_bits
from .decompressor import Decompressor
from .mac_array import MacArray
from .requantizer import Requantizer
from .scratchpad import READ_LATENCY


def popcount(bits: Value) -> Value:
    """Number of set bits, summed as a balanced tree (a chain of adders would be lanes deep)."""
    level = [bits[i] for i in range(len(bits))]
    while len(level) > 1:
        level = [level[i] + level[i + 1] if i + 1 < len(level) else level[i] for i in range(0, len(level), 2)]
    return level[0]


class MatvecEngine(wiring.Component):
    def __init__(self, lanes: int, bank_bits: int):
        self.lanes = lanes
        super().__init__({
            "start": In(1),
            "rows": In(16),
            "cols": In(16),
            "segs": In(16),
            "w4": In(1),
            "out16": In(1),
            "mask_base": In(16),
            "value_base": In(16),
            "beats": In(32),
            "dst": In(16),
            "src": In(16),
            "mat": In(16),
            "weights": In(32),      # rows * cols (the sequencer's multiplier computes it)
            "busy": Out(1),
            "done": Out(1),
            "error": Out(8),

            "mask_addr": Out(17),
            "mask_data": In(mask_word_bits(lanes)),
            "value_addr": Out(17),
            "value_data": In(value_word_bits(lanes)),
            "param_addr": Out(17),
            "param_data": In(PARAM_WORD_BITS),
            "lane_addr": Out(bank_bits).array(lanes),
            "lane_data": In(signed(SPAD_BITS)).array(lanes),
            "w_addr": Out(16),
            "w_data": Out(signed(SPAD_BITS)),
            "w_en": Out(1),

            # The memory words as registered on arrival (the cycle after the address, every cycle
            # while idle): the host bus reads them, so no block RAM output feeds two registers.
            "mask_q": Out(mask_word_bits(lanes)),
            "value_q": Out(value_word_bits(lanes)),
            "param_q": Out(PARAM_WORD_BITS),

            "mac_count": Out(range(lanes + 1)),
            "issued": Out(1),       # mac_count != 0, without the popcount
            "skipped": Out(32),     # zero weights of the finished matrix, valid with `done`
        })

    def elaborate(self, platform):
        m = Module()
        n = self.lanes
        m.submodules.decompressor = dec = Decompressor(n)
        m.submodules.mac_array = mac = MacArray(n)
        m.submodules.requantizer = rq = Requantizer()

        rows, cols, out16 = Signal(16), Signal(16), Signal()
        dst, src_row = Signal(16), Signal(16)
        running = Signal()
        written = Signal(17)
        macs = Signal(32)
        weights = Signal(32)
        mat_params = Signal(17)             # parameter word of row 0
        with m.If(self.start):
            m.d.sync += [
                rows.eq(self.rows), cols.eq(self.cols), out16.eq(self.out16), dst.eq(self.dst),
                src_row.eq(self.src >> (n - 1).bit_length()), mat_params.eq(self.mat + HEADER_WORDS),
                weights.eq(self.weights), running.eq(1), written.eq(0), macs.eq(0),
            ]
        skipped = Signal(32)                # valid once the last beat has been counted
        m.d.sync += skipped.eq(weights - macs)
        m.d.comb += [
            dec.start.eq(self.start), dec.rows.eq(self.rows), dec.cols.eq(self.cols), dec.segs.eq(self.segs),
            dec.w4.eq(self.w4), dec.mask_base.eq(self.mask_base),
            dec.value_base.eq(self.value_base), dec.beats.eq(self.beats),
            self.mask_addr.eq(dec.mask_addr), dec.mask_data.eq(self.mask_data),
            self.value_addr.eq(dec.value_addr), dec.value_data.eq(self.value_data),
            self.busy.eq(running),
            self.mask_q.eq(dec.mask_q), self.value_q.eq(dec.value_q),
        ]

        # Lane activation reads: the addresses are registered (stage A), the scratchpad answers
        # READ_LATENCY cycles later; the decompressor's beat is delayed to meet its data.
        def delay(value, cycles, name):
            for i in range(cycles):
                q = Signal.like(value, name=f"{name}_d{i + 1}")
                m.d.sync += q.eq(value)
                value = q
            return value

        valid_a, lane_valid_a, row_end_a, row_a = Signal(), Signal(n), Signal(), Signal(16)
        m.d.sync += [valid_a.eq(dec.valid), lane_valid_a.eq(dec.lane_valid), row_end_a.eq(dec.row_end),
                     row_a.eq(dec.row)]
        count = Signal(range(n + 1))
        m.d.comb += count.eq(popcount(lane_valid_a))
        m.d.comb += [self.mac_count.eq(count), self.issued.eq(lane_valid_a.any())]
        # The count is registered before the 32-bit sum (`done` comes many cycles after the last beat).
        count_q, counted = Signal.like(count), Signal()
        m.d.sync += [count_q.eq(count), counted.eq(valid_a & ~self.start)]
        with m.If(counted & ~self.start):
            m.d.sync += macs.eq(macs + count_q)
        for lane in range(n):
            addr = Signal.like(self.lane_addr[lane], name=f"lane{lane}_addr")
            w = Signal(signed(8), name=f"weight{lane}")
            m.d.sync += [addr.eq(src_row + dec.lane_index[lane]), w.eq(dec.lane_weight[lane])]
            m.d.comb += [
                self.lane_addr[lane].eq(addr),
                mac.weight[lane].eq(delay(w, READ_LATENCY, f"weight{lane}")),
                mac.x[lane].eq(self.lane_data[lane]),
            ]
        m.d.comb += [
            mac.clear.eq(self.start), mac.valid.eq(delay(valid_a, READ_LATENCY, "valid")),
            mac.lane_valid.eq(delay(lane_valid_a, READ_LATENCY, "lane_valid")),
            mac.row_end.eq(delay(row_end_a, READ_LATENCY, "row_end")),
            mac.tag.eq(delay(row_a, READ_LATENCY, "row")),
        ]

        # Row parameters are read as the row's sum leaves the MAC array: the address is registered
        # (no adder in front of the memory), the word is registered on arrival, and the sum waits.
        params_q = Signal(PARAM_WORD_BITS)
        param_addr = Signal.like(self.param_addr)
        m.d.sync += [param_addr.eq(mat_params + mac.out_tag), params_q.eq(self.param_data)]
        m.d.comb += [self.param_addr.eq(param_addr), self.param_q.eq(params_q)]
        params = data.View(ROW_PARAMS.layout(), params_q)
        m.d.comb += [
            rq.valid.eq(delay(mac.out_valid, 3, "acc_valid")), rq.acc.eq(delay(mac.out_acc, 3, "acc")),
            rq.tag.eq(delay(dst + mac.out_tag, 3, "acc_tag")),     # the row's destination entry
            rq.bias.eq(params.bias), rq.mult.eq(params.mult), rq.shift.eq(params.shift),
            rq.out16.eq(out16),
        ]

        m.d.comb += [
            self.w_en.eq(rq.out_valid & running),
            self.w_addr.eq(rq.out_tag),
            self.w_data.eq(rq.out_value),
        ]
        with m.If(self.w_en):
            m.d.sync += written.eq(written + 1)

        # `finished` registers "every row written" so that `done` comes from a register: the
        # sequencer's next state follows it in the same cycle.
        finished = Signal()
        m.d.sync += finished.eq(running & (written == rows) & ~finished & ~self.start)
        with m.If(dec.done & (dec.error != 0)):
            m.d.comb += [self.done.eq(1), self.error.eq(dec.error)]
            m.d.sync += running.eq(0)
        with m.Elif(running & finished):
            m.d.comb += [self.done.eq(1), self.skipped.eq(skipped)]
            m.d.sync += running.eq(0)
        return m
