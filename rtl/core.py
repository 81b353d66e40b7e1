"""The neural edge processor (NEP): memories, host bus, control/status registers and counters.

The host loads programs, compressed matrices, activations and lookup tables over the bus
(`firmware.memory_map`), writes CTRL.START and waits for `busy` to fall; STATUS then says HALTED
or ERROR with the error code and the PC of the failing instruction. While the core runs, its
units own the memory ports; the bus can still read registers, and writes are refused (STATUS
bit `refused`) rather than corrupting a running program.
"""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import Out
from amaranth.lib.memory import Memory

from ..firmware.isa import INSTRUCTION_BITS, LUT_TABLES
from ..firmware.memory_map import (BUS_DATA_BITS, CONFIG, CORE_ID, FORMAT_VERSION, REGION_SHIFT,
                                   STATUS, CoreConfig, Csr, Ctrl, Region, chunks)
from ..firmware.number_formats import LUT_ENTRIES, SPAD_BITS
from ..firmware.weight_format import MASK_BITS_PER_LANE, PARAM_WORD_BITS, mask_word_bits, value_word_bits
from . import block_ram
from .activation import ActivationUnit
from .bus import BusSignature
from .matvec import MatvecEngine
from .scratchpad import Scratchpad
from .sequencer import Sequencer

COUNTER_BITS = 64


class NEPCore(wiring.Component):
    """A NEP build of `config` (lanes and memory depths).

    `bus_read_latency` is 1 (the `rtl.bus` contract: data the cycle after `r_en`; simulators and
    harnesses), 2 (data two cycles after `r_en`, every memory word registered right after its
    block RAM; the bus reads the program, mask, value and parameter words from the registers the
    sequencer and the MATVEC engine have on them, so each of those block RAM outputs feeds one
    register less) or 3 (one more register on every region's word before the region multiplexer:
    what the SoC on an FPGA uses, with a link bridge that waits for it). Latency 2 and 3 also post
    the bus's memory writes: the write's address, data and enables (decided from `busy`, the
    region and the range check) are registered and reach the block RAMs a cycle later, so only a
    register sits in front of their write ports. A read of a word in the cycle right after a write
    to it then returns the old word; the link bridge never does that (its bus accesses are at least
    six cycles apart, and a READ frame answers only after the WRITE frame before it). Registers,
    START and everything the core runs see a posted write in time: the sequencer reads no memory
    before the cycle after START. They post CTRL.START too (`start_delay` = 1: the sequencer starts
    a cycle after the write, so the decoding of the bus write is not in front of its state).

    Every build posts the units' scratchpad writes: a MATVEC's or ACT/EW's write reaches the banks
    a cycle after the unit makes it, so only a register sits in front of the banks' write ports.
    Nothing reads an entry in the cycle after a unit wrote it: within an op the destination is
    read (if at all) before it is written, and a MATVEC's `done` comes two cycles after its last
    write, an ACT/EW's one cycle after, each several cycles before the next op's reads.

    `counter_bits` (33..64) is the width of the five event counters: a small FPGA may keep fewer
    than 64 bits; the counters then wrap at 2**counter_bits and their HI words hold the bits above
    32 that exist, zero-extended.
    """

    def __init__(self, config: CoreConfig = CoreConfig(), bus_read_latency: int = 1,
                 counter_bits: int = COUNTER_BITS):
        assert bus_read_latency in (1, 2, 3), bus_read_latency
        assert 32 < counter_bits <= COUNTER_BITS, counter_bits
        self.config = config
        self.bus_read_latency = bus_read_latency
        self.counter_bits = counter_bits
        self.start_delay = int(bus_read_latency >= 2)     # cycles from the CTRL.START write to the start
        super().__init__({"bus": Out(BusSignature()), "busy": Out(1)})

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        n = cfg.lanes
        bus = self.bus

        m.submodules.sequencer = seq = Sequencer(cfg)
        bank_bits = max(1, (cfg.spad_depth // n - 1).bit_length())
        m.submodules.matvec = mv = MatvecEngine(n, bank_bits)
        m.submodules.activation = act = ActivationUnit()
        m.submodules.scratchpad = spad = Scratchpad(n, cfg.spad_depth)

        # `busy`: the sequencer runs, or ran last cycle (see Counters below for that tail). It is a
        # register, because it steers every memory's address and the bus's write enables: START
        # always makes the sequencer busy in the next cycle, so busy = seq.busy | seq.busy one cycle
        # ago = a register of (seq.busy | seq.start).
        busy = Signal()
        m.d.sync += busy.eq(seq.busy | seq.start)
        m.d.comb += self.busy.eq(busy)
        posted = "sync" if self.bus_read_latency >= 2 else "comb"      # the bus's memory writes
        region = bus.addr[REGION_SHIFT:]
        offset = bus.addr[:REGION_SHIFT]
        refused = Signal()
        may_write = bus.w_en & ~busy
        with m.If(bus.w_en & busy & (region != Region.CSR)):
            m.d.sync += refused.eq(1)
        with m.If(bus.r_en & busy & (region != Region.CSR)):
            m.d.sync += refused.eq(1)

        def refuse_misses(region_id, hit):
            """A write to `region_id` that `hit` no entry (past the memory's depth) is refused."""
            with m.If(bus.w_en & ~busy & (region == region_id) & ~hit):
                m.d.sync += refused.eq(1)

        # Wide memories reached from the bus in 32-bit chunks.
        read_words = {}

        def late(word):
            """`word` (valid the cycle after r_en) as the bus returns it: registered if latency 2."""
            if self.bus_read_latency == 1:
                return word
            q = Signal.like(word)
            m.d.sync += q.eq(word)
            return q

        def chunked(name, region_id, width, depth, core_addr, word_q=None):
            """A bus-visible memory; `word_q`, when given, is a unit's register of the read word
            (the word one cycle after the address, every cycle while the core is idle), which the
            bus reads with latency 2 and 3 instead of a register of its own."""
            mem = Memory(shape=unsigned(width), depth=depth, init=[], attrs=block_ram.ATTRS)
            m.submodules[name] = mem
            # A word narrower than the bus (2-lane values) takes the low bits of its one chunk.
            rd = block_ram.ReadPort(m, mem, name)
            wr = mem.write_port(granularity=min(width, BUS_DATA_BITS))
            nchunks = chunks(width)
            sel = (nchunks - 1).bit_length()
            word, chunk = offset >> sel, offset[:sel] if sel else C(0, 1)
            hit = may_write & (region == region_id) & (word < depth) & (chunk < max(1, width // BUS_DATA_BITS))
            m.d[posted] += [
                wr.addr.eq(word),
                wr.data.eq(Cat(*[bus.w_data] * max(1, width // BUS_DATA_BITS))[:width]),
                wr.en.eq(Mux(hit, 1 << chunk, 0)),
            ]
            m.d.comb += rd.addr.eq(Mux(busy, core_addr, word))
            refuse_misses(region_id, hit)
            chunk_q = Signal(max(sel, 1))
            with m.If(bus.r_en):
                m.d.sync += chunk_q.eq(chunk)
            # Latency 2 registers the whole word straight off the block RAM, then picks the chunk.
            word_late = late(rd.data) if word_q is None or self.bus_read_latency == 1 else word_q
            read_words[region_id] = word_late.word_select(late(chunk_q), BUS_DATA_BITS) if sel else word_late
            return rd

        prog_rd = chunked("program", Region.PROGRAM, INSTRUCTION_BITS, cfg.prog_depth, seq.prog_addr, seq.prog_q)
        param_rd = chunked("params", Region.PARAM, PARAM_WORD_BITS, cfg.param_depth,
                           Mux(mv.busy, mv.param_addr, seq.param_addr), mv.param_q)
        mask_rd = chunked("masks", Region.MASK, mask_word_bits(n), cfg.mask_depth, mv.mask_addr, mv.mask_q)
        value_rd = chunked("values", Region.VALUE, value_word_bits(n), cfg.value_depth, mv.value_addr,
                           mv.value_q)

        # Sequencer <-> units.
        m.d.comb += [
            seq.prog_data.eq(prog_rd.data),
            seq.param_data.eq(param_rd.data),
            mv.param_data.eq(param_rd.data),
            mv.mask_data.eq(mask_rd.data),
            mv.value_data.eq(value_rd.data),
            mv.start.eq(seq.mv_start), mv.rows.eq(seq.mv_rows), mv.cols.eq(seq.mv_cols),
            mv.segs.eq(seq.mv_segs), mv.w4.eq(seq.mv_w4), mv.out16.eq(seq.mv_out16),
            mv.mask_base.eq(seq.mv_mask_base), mv.value_base.eq(seq.mv_value_base),
            mv.beats.eq(seq.mv_beats), mv.dst.eq(seq.mv_dst), mv.src.eq(seq.mv_src),
            mv.mat.eq(seq.mv_mat), mv.weights.eq(seq.mv_weights),
            seq.mv_done.eq(mv.done), seq.mv_error.eq(mv.error),
            act.start.eq(seq.act_start), act.act.eq(seq.act_act), act.func.eq(seq.act_func),
            act.shift.eq(seq.act_shift), act.sat16.eq(seq.act_sat16), act.dst.eq(seq.act_dst),
            act.a.eq(seq.act_a), act.b.eq(seq.act_b), act.len.eq(seq.act_len),
            seq.act_done.eq(act.done),
        ]

        # Scratchpad: lanes during MATVEC, the activation unit during ACT/EW, else the bus.
        spad_hit = may_write & (region == Region.SPAD) & (offset < cfg.spad_depth)
        refuse_misses(Region.SPAD, spad_hit)
        m.d.comb += [
            spad.lane_mode.eq(mv.busy),
            spad.a_addr.eq(Mux(busy, act.a_addr, offset)),
            spad.b_addr.eq(act.b_addr),
            act.a_data.eq(spad.a_data),
            act.b_data.eq(spad.b_data),
        ]
        for lane in range(n):
            m.d.comb += [spad.lane_addr[lane].eq(mv.lane_addr[lane]),
                         mv.lane_data[lane].eq(spad.lane_data[lane])]
        # The units' writes are always posted (registered here), the bus's with latency 2 and 3; a
        # unit writes only while `busy`, when the bus may not, so the two never meet.
        unit_w_addr, unit_w_data, unit_w_en = Signal(16), Signal(signed(SPAD_BITS)), Signal()
        m.d.comb += [unit_w_addr.eq(Mux(mv.w_en, mv.w_addr, act.w_addr)),
                     unit_w_data.eq(Mux(mv.w_en, mv.w_data, act.w_data)), unit_w_en.eq(mv.w_en | act.w_en)]
        if posted == "comb":    # the bus writes at once: only the units' write is registered first
            unit_q_addr, unit_q_data, unit_q_en = Signal(16), Signal(signed(SPAD_BITS)), Signal()
            m.d.sync += [unit_q_addr.eq(unit_w_addr), unit_q_data.eq(unit_w_data), unit_q_en.eq(unit_w_en)]
            unit_w_addr, unit_w_data, unit_w_en = unit_q_addr, unit_q_data, unit_q_en
        m.d[posted] += [spad.w_addr.eq(Mux(unit_w_en, unit_w_addr, offset)),
                        spad.w_data.eq(Mux(unit_w_en, unit_w_data, bus.w_data[:SPAD_BITS])),
                        spad.w_en.eq(unit_w_en | spad_hit)]
        read_words[Region.SPAD] = (spad.a_now if self.bus_read_latency == 1 else spad.a_data).as_signed()

        lut_depth = LUT_TABLES * LUT_ENTRIES
        lut_hit = may_write & (region == Region.LUT) & (offset < lut_depth)
        refuse_misses(Region.LUT, lut_hit)
        m.d[posted] += [act.lut_w_addr.eq(offset), act.lut_w_data.eq(bus.w_data[:8]), act.lut_w_en.eq(lut_hit)]
        m.d.comb += act.lut_r_addr.eq(offset)
        read_words[Region.LUT] = late(act.lut_r_data).as_signed()

        # Counters. Each cycle's increments are registered, then added (no unit's control logic
        # in front of a 64-bit carry chain); `busy` stays high one cycle longer than the sequencer
        # so that the host never reads a counter with an increment still in flight.
        counters = {name: Signal(self.counter_bits, name=name)
                    for name in ("cycles", "macs", "skipped", "stalls", "retired")}
        clear = bus.w_en & (region == Region.CSR) & (offset == Csr.CTRL) & \
            ((bus.w_data & Ctrl.CLEAR_COUNTERS) != 0)
        issued = mv.issued | act.issued
        increments = {
            "cycles": seq.busy,
            "macs": mv.mac_count,
            "skipped": Mux(mv.done & (mv.error == 0), mv.skipped, 0),
            "stalls": seq.busy & ~issued,
            "retired": seq.retired,
        }
        pending = {name: Signal.like(inc, name=f"{name}_inc") for name, inc in increments.items()}
        with m.If(clear):
            m.d.sync += [c.eq(0) for c in counters.values()]
            m.d.sync += [p.eq(0) for p in pending.values()]
        with m.Else():
            m.d.sync += [pending[name].eq(inc) for name, inc in increments.items()]
            m.d.sync += [counters[name].eq(counters[name] + pending[name]) for name in counters]

        # Control registers.
        pc_start = Signal(16)
        ctrl_write = bus.w_en & (region == Region.CSR) & (offset == Csr.CTRL)
        start = ctrl_write & ((bus.w_data & Ctrl.START) != 0)
        if self.start_delay:
            start_q = Signal()
            m.d.sync += start_q.eq(start)
            start = start_q
        m.d.comb += [seq.start.eq(start & ~busy), seq.pc_start.eq(pc_start)]
        with m.If(start & ~busy):
            m.d.sync += refused.eq(0)
        with m.Elif(start & busy):
            m.d.sync += refused.eq(1)
        with m.If(may_write & (region == Region.CSR) & (offset == Csr.PC_START)):
            m.d.sync += pc_start.eq(bus.w_data)

        status = Signal(STATUS.layout())
        m.d.comb += [status.state.eq(seq.state), status.refused.eq(refused),
                     status.error.eq(seq.error), status.pc.eq(seq.pc)]
        config_word = CONFIG.pack(lanes=n, mask_bits=MASK_BITS_PER_LANE, version=FORMAT_VERSION)
        csr_values = {
            Csr.ID: C(CORE_ID, 32),
            Csr.CONFIG: C(config_word, 32),
            Csr.SPAD_DEPTH: C(cfg.spad_depth, 32),
            Csr.PROG_DEPTH: C(cfg.prog_depth, 32),
            Csr.PARAM_DEPTH: C(cfg.param_depth, 32),
            Csr.MASK_DEPTH: C(cfg.mask_depth, 32),
            Csr.VALUE_DEPTH: C(cfg.value_depth, 32),
            Csr.PC_START: pc_start,
            Csr.STATUS: status.as_value(),
        }
        for name, sig in counters.items():
            csr_values[Csr[f"{name.upper()}_LO"]] = sig[:32]
            csr_values[Csr[f"{name.upper()}_HI"]] = sig[32:]
        # A register read: the offset is decoded to an index into the registers (the last index
        # reads 0), then the index selects the value. With latency 2 the index is registered in
        # between, so neither step is a long path.
        regs = list(csr_values.values())
        csr_index = Signal(range(len(regs) + 1))
        m.d.comb += csr_index.eq(len(regs))
        with m.Switch(offset):
            for i, reg in enumerate(csr_values):
                with m.Case(reg):
                    m.d.comb += csr_index.eq(i)
        csr_table = Array(regs + [C(0, 32)])
        csr_q = Signal(32)
        region_q = Signal(4)
        busy_q = Signal()
        with m.If(bus.r_en):
            m.d.sync += [region_q.eq(region), busy_q.eq(busy)]
        if self.bus_read_latency == 1:
            with m.If(bus.r_en):
                m.d.sync += csr_q.eq(csr_table[csr_index])
        else:
            index_q = Signal.like(csr_index)
            with m.If(bus.r_en):
                m.d.sync += index_q.eq(csr_index)
            m.d.sync += csr_q.eq(csr_table[index_q])

        region_q, busy_q = late(region_q), late(busy_q)
        if self.bus_read_latency == 3:
            # One more register on each region's word and on the selection, before the multiplexer.
            def again(value):
                q = Signal.like(value)
                m.d.sync += q.eq(value)
                return q
            read_words = {region_id: again(word) for region_id, word in read_words.items()}
            csr_q, region_q, busy_q = again(csr_q), again(region_q), again(busy_q)
        with m.Switch(region_q):
            with m.Case(Region.CSR):
                m.d.comb += bus.r_data.eq(csr_q)
            for region_id, word in read_words.items():
                with m.Case(region_id):
                    m.d.comb += bus.r_data.eq(Mux(busy_q, 0, word))
        return m
