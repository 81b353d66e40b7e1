"""Activation scratchpad: int16 entries in one bank per lane (entry e lives in bank e % lanes).

In lane mode every bank's first read port follows its lane's address, so a MATVEC's lanes read
their activations in parallel. Otherwise both read ports are scalar: `a_addr`/`b_addr` name an
entry and `a_data`/`b_data` return it one cycle later. One write port, one entry per cycle.
Reads return the value before a write to the same entry in the same cycle.
"""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.lib.memory import Memory

from ..firmware.number_formats import SPAD_BITS


class Scratchpad(wiring.Component):
    def __init__(self, lanes: int, depth: int):
        assert depth % lanes == 0 and lanes & (lanes - 1) == 0
        self.lanes, self.depth = lanes, depth
        self.bank_depth = depth // lanes
        bank_bits = max(1, (self.bank_depth - 1).bit_length())
        super().__init__({
            "lane_mode": In(1),
            "lane_addr": In(bank_bits).array(lanes),
            "lane_data": Out(signed(SPAD_BITS)).array(lanes),
            "a_addr": In(16),
            "a_data": Out(signed(SPAD_BITS)),
            "b_addr": In(16),
            "b_data": Out(signed(SPAD_BITS)),
            "w_addr": In(16),
            "w_data": In(signed(SPAD_BITS)),
            "w_en": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        n = self.lanes
        sel = (n - 1).bit_length()

        a_bank, b_bank = Signal(range(n)), Signal(range(n))
        m.d.sync += [a_bank.eq(self.a_addr[:sel]), b_bank.eq(self.b_addr[:sel])]
        a_words, b_words = [], []
        for lane in range(n):
            bank = Memory(shape=signed(SPAD_BITS), depth=self.bank_depth, init=[])
            m.submodules[f"bank{lane}"] = bank
            rd_a, rd_b = bank.read_port(), bank.read_port()
            wr = bank.write_port()
            m.d.comb += [
                rd_a.addr.eq(Mux(self.lane_mode, self.lane_addr[lane], self.a_addr >> sel)),
                rd_b.addr.eq(self.b_addr >> sel),
                self.lane_data[lane].eq(rd_a.data),
                wr.addr.eq(self.w_addr >> sel),
                wr.data.eq(self.w_data),
                wr.en.eq(self.w_en & (self.w_addr[:sel] == lane)),
            ]
            a_words.append(rd_a.data)
            b_words.append(rd_b.data)
        m.d.comb += [
            self.a_data.eq(Array(a_words)[a_bank]),
            self.b_data.eq(Array(b_words)[b_bank]),
        ]
        return m
