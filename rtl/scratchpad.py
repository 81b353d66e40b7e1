"""Activation scratchpad: int16 entries in one bank per lane (entry e lives in bank e % lanes).

In lane mode every bank's first read port follows its lane's address, so a MATVEC's lanes read
their activations in parallel. Otherwise both read ports are scalar: `a_addr`/`b_addr` name an
entry. One write port, one entry per cycle. Reads return the value before a write to the same
entry in the same cycle (in simulation: the FPGA build leaves that case undefined, see `block_ram`).

Read latency is `READ_LATENCY` (2) cycles for `lane_data`, `a_data` and `b_data`: each bank's
output is registered beside the bank, because an FPGA block RAM's unregistered output is too slow
to feed logic at 100 MHz (ECP5: ~5.8 ns clock-to-out). `a_now` is the `a_addr` entry one cycle
after the address, straight from the banks, for the host bus's single-cycle read only.
"""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.lib.memory import Memory

from ..firmware.number_formats import SPAD_BITS
from . import block_ram

READ_LATENCY = 2


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
            "a_now": Out(signed(SPAD_BITS)),
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

        a_bank1, b_bank1 = Signal(range(n)), Signal(range(n))
        a_bank2, b_bank2 = Signal(range(n)), Signal(range(n))
        m.d.sync += [a_bank1.eq(self.a_addr[:sel]), b_bank1.eq(self.b_addr[:sel]),
                     a_bank2.eq(a_bank1), b_bank2.eq(b_bank1)]
        a_now, a_words, b_words = [], [], []
        for lane in range(n):
            bank = Memory(shape=signed(SPAD_BITS), depth=self.bank_depth, init=[], attrs=block_ram.ATTRS)
            m.submodules[f"bank{lane}"] = bank
            rd_a, rd_b = block_ram.ReadPort(m, bank, f"bank{lane}_a"), block_ram.ReadPort(m, bank, f"bank{lane}_b")
            wr = bank.write_port()
            a_q = Signal(signed(SPAD_BITS), name=f"bank{lane}_a_q")
            b_q = Signal(signed(SPAD_BITS), name=f"bank{lane}_b_q")
            m.d.sync += [a_q.eq(rd_a.data), b_q.eq(rd_b.data)]
            m.d.comb += [
                rd_a.addr.eq(Mux(self.lane_mode, self.lane_addr[lane], self.a_addr >> sel)),
                rd_b.addr.eq(self.b_addr >> sel),
                self.lane_data[lane].eq(a_q),
                wr.addr.eq(self.w_addr >> sel),
                wr.data.eq(self.w_data),
                wr.en.eq(self.w_en & (self.w_addr[:sel] == lane)),
            ]
            a_now.append(rd_a.data)
            a_words.append(a_q)
            b_words.append(b_q)
        m.d.comb += [
            self.a_now.eq(Array(a_now)[a_bank1]),
            self.a_data.eq(Array(a_words)[a_bank2]),
            self.b_data.eq(Array(b_words)[b_bank2]),
        ]
        return m
