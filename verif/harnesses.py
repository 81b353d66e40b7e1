"""Small Amaranth top levels that give one RTL block real memories, so its bench drives only data.

Each harness exposes a plain write port per memory (`*_w_addr`, `*_w_data`, `*_w_en`) for the
bench to load, and the block's own ports unchanged, so the block meets the same synchronous
memories it meets inside the core.
"""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..firmware.isa import INSTRUCTION_BITS
from ..firmware.number_formats import SPAD_BITS
from ..firmware.weight_format import PARAM_WORD_BITS, mask_word_bits, value_word_bits
from ..rtl.activation import ActivationUnit
from ..rtl.decompressor import INDEX_BITS, Decompressor
from ..rtl.scratchpad import Scratchpad


class DecompressorHarness(wiring.Component):
    def __init__(self, lanes: int, mask_depth: int, value_depth: int):
        self.lanes, self.mask_depth, self.value_depth = lanes, mask_depth, value_depth
        super().__init__({
            "start": In(1), "rows": In(16), "cols": In(16), "segs": In(16), "w4": In(1),
            "mask_base": In(16), "value_base": In(16), "beats": In(32),
            "mask_w_addr": In(16), "mask_w_data": In(mask_word_bits(lanes)), "mask_w_en": In(1),
            "value_w_addr": In(16), "value_w_data": In(value_word_bits(lanes)), "value_w_en": In(1),
            "busy": Out(1), "valid": Out(1), "lane_valid": Out(lanes),
            "lane_index": Out(INDEX_BITS * lanes), "lane_weight": Out(8 * lanes),
            "row_end": Out(1), "row": Out(16), "done": Out(1), "error": Out(8),
        })

    def elaborate(self, platform):
        m = Module()
        n = self.lanes
        m.submodules.dec = dec = Decompressor(n)
        m.submodules.masks = masks = Memory(shape=mask_word_bits(n), depth=self.mask_depth, init=[])
        m.submodules.values = values = Memory(shape=value_word_bits(n), depth=self.value_depth, init=[])
        mrd, mwr = masks.read_port(), masks.write_port()
        vrd, vwr = values.read_port(), values.write_port()
        m.d.comb += [
            mwr.addr.eq(self.mask_w_addr), mwr.data.eq(self.mask_w_data), mwr.en.eq(self.mask_w_en),
            vwr.addr.eq(self.value_w_addr), vwr.data.eq(self.value_w_data), vwr.en.eq(self.value_w_en),
            mrd.addr.eq(dec.mask_addr), dec.mask_data.eq(mrd.data),
            vrd.addr.eq(dec.value_addr), dec.value_data.eq(vrd.data),
            dec.start.eq(self.start), dec.rows.eq(self.rows), dec.cols.eq(self.cols), dec.segs.eq(self.segs),
            dec.w4.eq(self.w4), dec.mask_base.eq(self.mask_base),
            dec.value_base.eq(self.value_base), dec.beats.eq(self.beats),
            self.busy.eq(dec.busy), self.valid.eq(dec.valid), self.lane_valid.eq(dec.lane_valid),
            self.lane_index.eq(Cat(*dec.lane_index)), self.lane_weight.eq(Cat(*dec.lane_weight)),
            self.row_end.eq(dec.row_end), self.row.eq(dec.row), self.done.eq(dec.done),
            self.error.eq(dec.error),
        ]
        return m


class ActivationHarness(wiring.Component):
    """The activation unit on a (non-banked use of a) scratchpad, as in the core outside MATVEC."""

    def __init__(self, depth: int):
        self.depth = depth
        super().__init__({
            "start": In(1), "act": In(1), "func": In(4), "shift": In(6), "sat16": In(1),
            "dst": In(16), "a": In(16), "b": In(16), "len": In(16),
            "busy": Out(1), "done": Out(1), "issued": Out(1),
            "spad_w_addr": In(16), "spad_w_data": In(signed(SPAD_BITS)), "spad_w_en": In(1),
            "spad_r_addr": In(16), "spad_r_data": Out(signed(SPAD_BITS)),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.unit = unit = ActivationUnit()
        m.submodules.spad = spad = Scratchpad(4, self.depth)
        busy = unit.busy
        m.d.comb += [
            unit.start.eq(self.start), unit.act.eq(self.act), unit.func.eq(self.func),
            unit.shift.eq(self.shift), unit.sat16.eq(self.sat16), unit.dst.eq(self.dst),
            unit.a.eq(self.a), unit.b.eq(self.b), unit.len.eq(self.len),
            self.busy.eq(busy), self.done.eq(unit.done), self.issued.eq(unit.issued),
            spad.a_addr.eq(Mux(busy, unit.a_addr, self.spad_r_addr)),
            spad.b_addr.eq(unit.b_addr),
            unit.a_data.eq(spad.a_data), unit.b_data.eq(spad.b_data),
            self.spad_r_data.eq(spad.a_now),
            spad.w_addr.eq(Mux(busy, unit.w_addr, self.spad_w_addr)),
            spad.w_data.eq(Mux(busy, unit.w_data, self.spad_w_data)),
            spad.w_en.eq(Mux(busy, unit.w_en, self.spad_w_en)),
        ]
        return m


class SequencerHarness(wiring.Component):
    """The sequencer with its program and parameter memories; the units are the bench's to play."""

    def __init__(self, **config):
        from ..firmware.memory_map import CoreConfig
        from ..rtl.sequencer import Sequencer
        self.config = CoreConfig(**config)
        self._sequencer = Sequencer(self.config)
        members = {
            "prog_w_addr": In(16), "prog_w_data": In(INSTRUCTION_BITS), "prog_w_en": In(1),
            "param_w_addr": In(16), "param_w_data": In(PARAM_WORD_BITS), "param_w_en": In(1),
        }
        for name, member in self._sequencer.signature.members.items():
            if name not in ("prog_addr", "prog_data", "param_addr", "param_data"):
                members[name] = member
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        m.submodules.sequencer = seq = self._sequencer
        m.submodules.program = prog = Memory(shape=INSTRUCTION_BITS, depth=cfg.prog_depth, init=[])
        m.submodules.params = params = Memory(shape=PARAM_WORD_BITS, depth=cfg.param_depth, init=[])
        prd, pwr = prog.read_port(), prog.write_port()
        ard, awr = params.read_port(), params.write_port()
        m.d.comb += [
            pwr.addr.eq(self.prog_w_addr), pwr.data.eq(self.prog_w_data), pwr.en.eq(self.prog_w_en),
            awr.addr.eq(self.param_w_addr), awr.data.eq(self.param_w_data), awr.en.eq(self.param_w_en),
            prd.addr.eq(seq.prog_addr), seq.prog_data.eq(prd.data),
            ard.addr.eq(seq.param_addr), seq.param_data.eq(ard.data),
        ]
        for name, member in seq.signature.members.items():
            if name in ("prog_addr", "prog_data", "param_addr", "param_data"):
                continue
            if member.flow == wiring.In:
                m.d.comb += getattr(seq, name).eq(getattr(self, name))
            else:
                m.d.comb += getattr(self, name).eq(getattr(seq, name))
        return m
