"""MATVEC engine: decompressor -> lane activation reads -> MAC array -> row parameters -> requantizer -> write.

Every stage accepts one beat (or one row) per cycle, so a matrix takes the decompressor's cycles
(about ceil(nnz / lanes)) plus a fixed pipeline latency. `done` rises when the last row has been
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

            "mac_count": Out(range(lanes + 1)),
            "skipped": Out(32),     # zero weights of the finished matrix, valid with `done`
        })

    def elaborate(self, platform):
        m = Module()
        n = self.lanes
        m.submodules.decompressor = dec = Decompressor(n)
        m.submodules.mac_array = mac = MacArray(n)
        m.submodules.requantizer = rq = Requantizer()

        rows, cols, out16 = Signal(16), Signal(16), Signal()
        dst, src_row, mat = Signal(16), Signal(16), Signal(16)
        running = Signal()
        written = Signal(17)
        macs = Signal(32)
        with m.If(self.start):
            m.d.sync += [
                rows.eq(self.rows), cols.eq(self.cols), out16.eq(self.out16), dst.eq(self.dst),
                src_row.eq(self.src >> (n - 1).bit_length()), mat.eq(self.mat),
                running.eq(1), written.eq(0), macs.eq(0),
            ]
        m.d.comb += [
            dec.start.eq(self.start), dec.rows.eq(self.rows), dec.cols.eq(self.cols), dec.segs.eq(self.segs),
            dec.w4.eq(self.w4), dec.mask_base.eq(self.mask_base),
            dec.value_base.eq(self.value_base), dec.beats.eq(self.beats),
            self.mask_addr.eq(dec.mask_addr), dec.mask_data.eq(self.mask_data),
            self.value_addr.eq(dec.value_addr), dec.value_data.eq(self.value_data),
            self.busy.eq(running),
        ]

        # Lane activation reads, and the decompressor's beat delayed to meet their data.
        count = Signal(range(n + 1))
        m.d.comb += count.eq(sum(dec.lane_valid[i] for i in range(n)))
        m.d.comb += self.mac_count.eq(count)
        with m.If(dec.valid):
            m.d.sync += macs.eq(macs + count)
        lane_valid, row_end, row = Signal(n), Signal(), Signal(16)
        valid = Signal()
        m.d.sync += [valid.eq(dec.valid), lane_valid.eq(dec.lane_valid), row_end.eq(dec.row_end),
                     row.eq(dec.row)]
        for lane in range(n):
            w = Signal(signed(8), name=f"weight{lane}")
            m.d.sync += w.eq(dec.lane_weight[lane])
            m.d.comb += [
                self.lane_addr[lane].eq(src_row + dec.lane_index[lane]),
                mac.weight[lane].eq(w),
                mac.x[lane].eq(self.lane_data[lane]),
            ]
        m.d.comb += [
            mac.clear.eq(self.start), mac.valid.eq(valid), mac.lane_valid.eq(lane_valid),
            mac.row_end.eq(row_end), mac.tag.eq(row),
        ]

        # Row parameters are read as the row's sum leaves the MAC array.
        acc_q, tag_q, valid_q = Signal(signed(32)), Signal(16), Signal()
        m.d.comb += self.param_addr.eq(mat + HEADER_WORDS + mac.out_tag)
        m.d.sync += [acc_q.eq(mac.out_acc), tag_q.eq(mac.out_tag), valid_q.eq(mac.out_valid)]
        params = data.View(ROW_PARAMS.layout(), self.param_data)
        m.d.comb += [
            rq.valid.eq(valid_q), rq.acc.eq(acc_q), rq.tag.eq(tag_q),
            rq.bias.eq(params.bias), rq.mult.eq(params.mult), rq.shift.eq(params.shift),
            rq.out16.eq(out16),
        ]

        m.d.comb += [
            self.w_en.eq(rq.out_valid & running),
            self.w_addr.eq(dst + rq.out_tag),
            self.w_data.eq(rq.out_value),
        ]
        with m.If(self.w_en):
            m.d.sync += written.eq(written + 1)

        with m.If(dec.done & (dec.error != 0)):
            m.d.comb += [self.done.eq(1), self.error.eq(dec.error)]
            m.d.sync += running.eq(0)
        with m.Elif(running & (written == rows)):
            m.d.comb += [self.done.eq(1), self.skipped.eq(rows * cols - macs)]
            m.d.sync += running.eq(0)
        return m
