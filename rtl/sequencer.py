"""Sequencer: fetches, checks and dispatches instructions until HALT or the first error.

Every check of `firmware.isa` ("Checks, in this order") is made here before a unit starts, so a
unit only ever sees legal, in-range work; only the weight stream's own length errors come back
from the MATVEC engine. Programs have no branches, each unit finishes in a bounded number of
cycles and the PC only grows, so a run always ends: the core cannot hang.

Instruction and header fields are read through `lib.data` views built from the ISA's formats.
Every memory word is registered before it is decoded, and the range checks are spread over a few
cycles (sums, verdicts, then the first failing check), so no check is a long path: an instruction
costs a few cycles of overhead (FETCH, LOAD, DECODE; NOP and HALT one more; MATVEC adds two header
reads and three check cycles, ACT/EW three check cycles).
"""

from amaranth import *
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..firmware import isa
from ..firmware.isa import ErrorCode, Ew, Opcode
from ..firmware.memory_map import CoreConfig, State
from ..firmware.weight_format import (HEADER0, HEADER1, HEADER_WORDS, MATRIX_MAGIC,
                                      MASK_BITS_PER_LANE, PARAM_WORD_BITS)


def ranges_meet(x: Value, y: Value, length_x: Value, y_end: Value, x_end: Value) -> Value:
    """[x, x_end) and [y, y_end) share an entry; `length_x` and the ends are precomputed
    (x_end = x + length_x), so this is a pair of comparisons."""
    return (length_x != 0) & (x < y_end) & (y < x_end)


class Sequencer(wiring.Component):
    def __init__(self, config: CoreConfig):
        self.config = config
        super().__init__({
            "start": In(1),
            "pc_start": In(16),
            "busy": Out(1),
            "state": Out(2),
            "error": Out(8),
            "pc": Out(16),
            "retired": Out(1),

            "prog_addr": Out(17),
            "prog_data": In(isa.INSTRUCTION_BITS),
            "prog_q": Out(isa.INSTRUCTION_BITS),   # the instruction register: while idle, prog_data a cycle later
            "param_addr": Out(17),
            "param_data": In(PARAM_WORD_BITS),

            "mv_start": Out(1),
            "mv_rows": Out(16),
            "mv_cols": Out(16),
            "mv_segs": Out(16),
            "mv_w4": Out(1),
            "mv_out16": Out(1),
            "mv_mask_base": Out(16),
            "mv_value_base": Out(16),
            "mv_beats": Out(32),
            "mv_dst": Out(16),
            "mv_src": Out(16),
            "mv_mat": Out(16),
            "mv_weights": Out(32),      # rows * cols, for the MATVEC's skipped-weight count
            "mv_done": In(1),
            "mv_error": In(8),

            "act_start": Out(1),
            "act_act": Out(1),
            "act_func": Out(4),
            "act_shift": Out(6),
            "act_sat16": Out(1),
            "act_dst": Out(16),
            "act_a": Out(16),
            "act_b": Out(16),
            "act_len": Out(16),
            "act_done": In(1),
        })

    def _legality(self, word: Value) -> Value:
        """The rule of `isa.decode_error`, as logic over an instruction word. Returns (legal,
        reserved): one "legal as this opcode" bit per opcode and "a reserved bit is set"; the word
        is illegal when `reserved` or no `legal` bit is set."""
        view = data.View(isa.INSTRUCTION.layout(), word)
        legal = []
        for op, used in isa.FIELDS_USED.items():
            ok = view.opcode == op
            for name in isa.INSTRUCTION.fields:
                if name != "opcode" and name not in used:
                    ok &= getattr(view, name) == 0
            if op == Opcode.EW:
                ok &= view.func <= max(Ew)
            if op == Opcode.ACT:
                ok &= view.func < isa.LUT_TABLES
            if op in isa.MAX_SHIFT:
                ok &= view.shift <= isa.MAX_SHIFT[op]
            legal.append(ok)
        reserved = (word & isa.INSTRUCTION.reserved_mask) != 0
        return Cat(*legal), reserved

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        n = cfg.lanes
        seg_shift = (n * MASK_BITS_PER_LANE - 1).bit_length()

        pc = Signal(17)
        state = Signal(2, init=State.IDLE)
        error = Signal(8)
        ir = Signal(isa.INSTRUCTION.layout())
        h0 = Signal(HEADER0.layout())
        h1 = Signal(HEADER1.layout())
        m.d.comb += [self.state.eq(state), self.error.eq(error), self.pc.eq(pc),
                     self.busy.eq(state == State.BUSY), self.prog_q.eq(ir.as_value())]

        def fail(code):
            m.d.sync += [state.eq(State.ERROR), error.eq(code)]
            m.next = "IDLE"

        def retire():
            m.d.comb += self.retired.eq(1)
            m.d.sync += pc.eq(pc + 1)
            m.next = "FETCH"

        # MATVEC job, derived from the latched instruction and header.
        rows, cols = h0.rows, h0.cols
        segs = Signal(16)               # registered in HEADER1, from header word 0
        value_words = Mux(h0.w4, (h1.beats + 1) >> 1, h1.beats)
        m.d.comb += [
            self.mv_rows.eq(rows), self.mv_cols.eq(cols), self.mv_segs.eq(segs),
            self.mv_w4.eq(h0.w4), self.mv_out16.eq(h0.out16),
            self.mv_mask_base.eq(h1.mask_base), self.mv_value_base.eq(h1.value_base),
            self.mv_beats.eq(h1.beats),
            self.mv_dst.eq(ir.dst), self.mv_src.eq(ir.a), self.mv_mat.eq(ir.b),
        ]
        # ACT/EW job.
        is_act = ir.opcode == Opcode.ACT
        m.d.comb += [
            self.act_act.eq(is_act), self.act_func.eq(ir.func), self.act_shift.eq(ir.shift),
            self.act_sat16.eq(ir.sat16), self.act_dst.eq(ir.dst), self.act_a.eq(ir.a),
            self.act_b.eq(ir.b), self.act_len.eq(ir.len),
        ]
        # The parameter memory's address: `ir.b` in DECODE (header word 0), then the register
        # `param_addr` = `ir.b + 1` from DECODE on (header word 1, read in HEADER0). The program
        # memory's output feeds `ir` alone.
        param_addr = Signal(17)
        m.d.comb += [self.prog_addr.eq(pc), self.param_addr.eq(param_addr)]

        # Two multipliers, each fed by registers only: rows * segs (read in MV_SUM) and rows * cols
        # (kept for the MATVEC, read in MV_FLAGS). One shared multiplier put the state decode of its
        # operand multiplexer in front of the multiplier.
        weights, seg_cells, row_cells = Signal(32), Signal(32), Signal(32)
        m.d.comb += [seg_cells.eq(rows * segs), row_cells.eq(rows * cols), self.mv_weights.eq(weights)]

        with m.FSM():
            with m.State("IDLE"):
                # `ir` follows the program memory while idle: the host bus reads program words there.
                m.d.sync += ir.eq(self.prog_data)
                with m.If(self.start):
                    m.d.sync += [pc.eq(self.pc_start), state.eq(State.BUSY), error.eq(0)]
                    m.next = "FETCH"

            with m.State("FETCH"):
                # The program memory sees `pc` now; its word is on prog_data next cycle.
                with m.If(pc >= cfg.prog_depth):
                    fail(ErrorCode.ADDRESS_RANGE)
                with m.Else():
                    m.next = "LOAD"

            with m.State("LOAD"):
                # The word is registered before anything looks at it.
                m.d.sync += ir.eq(self.prog_data)
                m.next = "DECODE"

            # DECODE registers the legality verdicts and the MATVEC's parameter range check, and
            # dispatches on the opcode alone; the next state acts on the verdicts first.
            legal, reserved, param_oob = Signal(len(isa.FIELDS_USED)), Signal(), Signal()
            illegal = reserved | ~legal.any()
            with m.State("DECODE"):
                # Header word 0 of a MATVEC's matrix is read now, at ir.b.
                m.d.comb += self.param_addr.eq(ir.b)
                word_legal, word_reserved = self._legality(ir.as_value())
                m.d.sync += [legal.eq(word_legal), reserved.eq(word_reserved),
                             param_oob.eq(ir.b + HEADER_WORDS > cfg.param_depth), param_addr.eq(ir.b + 1)]
                with m.If(ir.opcode == Opcode.MATVEC):
                    m.next = "HEADER0"
                with m.Elif((ir.opcode == Opcode.ACT) | (ir.opcode == Opcode.EW)):
                    m.next = "EW_SUM"
                with m.Else():
                    m.next = "SIMPLE"

            with m.State("SIMPLE"):
                # NOP, HALT, or an opcode that is illegal.
                with m.If(illegal):
                    fail(ErrorCode.ILLEGAL_INSTRUCTION)
                with m.Elif(ir.opcode == Opcode.NOP):
                    retire()
                with m.Else():
                    m.d.comb += self.retired.eq(1)
                    m.d.sync += state.eq(State.HALTED)
                    m.next = "IDLE"

            with m.State("HEADER0"):
                # DECODE presented `mat`; header word 0 is here now, word 1 comes next.
                with m.If(illegal):
                    fail(ErrorCode.ILLEGAL_INSTRUCTION)
                with m.Elif(param_oob):
                    fail(ErrorCode.ADDRESS_RANGE)
                with m.Else():
                    m.d.sync += h0.eq(self.param_data)
                    m.next = "HEADER1"

            with m.State("HEADER1"):
                m.d.sync += [h1.eq(self.param_data),
                             segs.eq((cols + (n * MASK_BITS_PER_LANE - 1)) >> seg_shift)]
                m.next = "MV_SUM"

            # The checks take three cycles: ends of every range (MV_SUM), each check's verdict
            # (MV_FLAGS), then the first failing check in the ISA's order (MV_CHECK).
            param_end = Signal(18)
            mask_cells = Signal(32)
            value_end = Signal(34)
            a_end, dst_end = Signal(17), Signal(17)
            with m.State("MV_SUM"):
                m.d.sync += [
                    param_end.eq(ir.b + HEADER_WORDS + rows), mask_cells.eq(seg_cells),
                    value_end.eq(h1.value_base + value_words),
                    a_end.eq(ir.a + cols), dst_end.eq(ir.dst + rows),
                ]
                m.next = "MV_FLAGS"

            bad_header, out_of_range, misaligned, overlap = Signal(), Signal(), Signal(), Signal()
            with m.State("MV_FLAGS"):
                m.d.sync += [
                    weights.eq(row_cells),
                    bad_header.eq((h0.magic != MATRIX_MAGIC) | (h0.lanes != n) | (rows == 0) |
                                  (cols == 0) |
                                  ((h0.as_value() & HEADER0.reserved_mask) != 0) |
                                  ((h1.as_value() & HEADER1.reserved_mask) != 0)),
                    out_of_range.eq((param_end > cfg.param_depth) |
                                    (h1.mask_base + mask_cells > cfg.mask_depth) |
                                    (value_end > cfg.value_depth) |
                                    (a_end > cfg.spad_depth) |
                                    (dst_end > cfg.spad_depth)),
                    misaligned.eq(ir.a[:(n - 1).bit_length()] != 0),
                    overlap.eq((cols != 0) & ranges_meet(ir.dst, ir.a, rows, a_end, dst_end)),
                ]
                m.next = "MV_CHECK"

            with m.State("MV_CHECK"):
                with m.If(bad_header):
                    fail(ErrorCode.WEIGHT_HEADER)
                with m.Elif(out_of_range):
                    fail(ErrorCode.ADDRESS_RANGE)
                with m.Elif(misaligned):
                    fail(ErrorCode.MISALIGNED)
                with m.Elif(overlap):
                    fail(ErrorCode.OVERLAP)
                with m.Else():
                    m.d.comb += self.mv_start.eq(1)
                    m.next = "MV_WAIT"

            with m.State("MV_WAIT"):
                with m.If(self.mv_done):
                    with m.If(self.mv_error != 0):
                        fail(self.mv_error)
                    with m.Else():
                        retire()

            # ACT/EW: the ends of the ranges (EW_SUM), each check's verdict (EW_FLAGS), then the
            # first failing check (EW_CHECK), so that `act_start` comes from registers.
            ew_len = ir.len
            ew_a_end, ew_b_end, ew_dst_end = Signal(17), Signal(17), Signal(17)
            with m.State("EW_SUM"):
                m.d.sync += [ew_a_end.eq(ir.a + ew_len), ew_b_end.eq(ir.b + ew_len),
                             ew_dst_end.eq(ir.dst + ew_len)]
                with m.If(illegal):
                    fail(ErrorCode.ILLEGAL_INSTRUCTION)
                with m.Else():
                    m.next = "EW_FLAGS"

            ew_out_of_range, ew_overlap = Signal(), Signal()
            with m.State("EW_FLAGS"):
                m.d.sync += [
                    ew_out_of_range.eq((ew_a_end > cfg.spad_depth) |
                                       (~is_act & (ew_b_end > cfg.spad_depth)) |
                                       (ew_dst_end > cfg.spad_depth)),
                    ew_overlap.eq(((ir.dst != ir.a) & ranges_meet(ir.dst, ir.a, ew_len, ew_a_end, ew_dst_end)) |
                                  (~is_act & (ir.dst != ir.b) &
                                   ranges_meet(ir.dst, ir.b, ew_len, ew_b_end, ew_dst_end))),
                ]
                m.next = "EW_CHECK"

            with m.State("EW_CHECK"):
                with m.If(ew_out_of_range):
                    fail(ErrorCode.ADDRESS_RANGE)
                with m.Elif(ew_overlap):
                    fail(ErrorCode.OVERLAP)
                with m.Else():
                    m.d.comb += self.act_start.eq(1)
                    m.next = "EW_WAIT"

            with m.State("EW_WAIT"):
                with m.If(self.act_done):
                    retire()
        return m
