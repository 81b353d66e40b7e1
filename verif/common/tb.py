"""The cocotb side of the NEP: a bus driver (`NepBus`) and a testbench (`TB`) owning clock and reset.

Timing (rtl.bus): inputs are driven right after a rising edge, so the core samples them at the next
one; a read's data is sampled in the ReadOnly phase of the edge after its `r_en` (the core registers
`r_data`). Bulk transfers stream one access per clock. Every wait on the core is bounded: `run`
returns `finished=False` instead of hanging when busy stays high past its cycle budget.
"""

from __future__ import annotations

import time
from typing import Iterable, Sequence

from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, First, NextTimeStep, ReadOnly, RisingEdge, Timer

from ...firmware.memory_map import BUS_DATA_BITS, Csr, Ctrl, Region, address
from .run_outcome import RunOutcome

DATA_MASK = (1 << BUS_DATA_BITS) - 1
CLOCK_PERIOD_NS = 10


class NepBus:
    """Drives the core's `bus__*` ports (Verilog names from `amaranth.back.verilog`)."""

    def __init__(self, dut, clk=None, period_ns: int = CLOCK_PERIOD_NS):
        self.dut = dut
        self.clk = clk if clk is not None else dut.clk
        self.period_ns = period_ns
        self._addr = dut.bus__addr
        self._w_data = dut.bus__w_data
        self._w_en = dut.bus__w_en
        self._r_en = dut.bus__r_en
        self._r_data = dut.bus__r_data
        self._busy = dut.busy
        self._in_readonly = False

    def idle(self) -> None:
        """Deassert every strobe (call once before the first edge)."""
        self._w_en.value = 0
        self._r_en.value = 0
        self._addr.value = 0
        self._w_data.value = 0

    async def _writable(self) -> None:
        # Signals cannot be driven in the ReadOnly phase; the next time step is before the next edge.
        if self._in_readonly:
            await NextTimeStep()
            self._in_readonly = False

    async def write(self, addr: int, data: int) -> None:
        await self.write_many([(addr, data)])

    async def write_many(self, writes: Iterable[tuple[int, int]]) -> int:
        """One write per clock; returns the number of writes."""
        await self._writable()
        n = 0
        addr, w_data, w_en, clk = self._addr, self._w_data, self._w_en, self.clk
        for a, d in writes:
            addr.value = a
            w_data.value = d & DATA_MASK
            w_en.value = 1
            await RisingEdge(clk)
            n += 1
        w_en.value = 0
        return n

    async def read(self, addr: int) -> int:
        return (await self.read_many([addr]))[0]

    async def read_many(self, addrs: Sequence[int]) -> list[int]:
        """One read per clock, pipelined: the data of read i is sampled at the edge that issues read i+1."""
        await self._writable()
        out: list[int] = []
        if not addrs:
            return out
        addr, r_en, r_data, clk = self._addr, self._r_en, self._r_data, self.clk
        addr.value = addrs[0]
        r_en.value = 1
        for i in range(len(addrs)):
            await RisingEdge(clk)
            if i + 1 < len(addrs):
                addr.value = addrs[i + 1]
            else:
                r_en.value = 0
            await ReadOnly()
            out.append(int(r_data.value))
        self._in_readonly = True
        return out

    async def csr(self, csr: Csr) -> int:
        return await self.read(address(Region.CSR, csr))

    async def run(self, max_cycles: int) -> RunOutcome:
        """Write Ctrl.START and wait until busy falls, at most `max_cycles` clocks.

        The wait is a single timer next to a FallingEdge trigger, so the simulator free-runs (no
        Python per clock). busy is expected within 2 clocks of START; a program that ends before
        busy is seen high counts as finished (STATUS tells the rest).
        """
        start = time.monotonic()
        await self.write(address(Region.CSR, Csr.CTRL), int(Ctrl.START))
        return await self.wait_idle(max_cycles, start)

    async def wait_idle(self, max_cycles: int, start: float | None = None) -> RunOutcome:
        """Wait (bounded) until busy falls; call right after the START write or while busy."""
        start = time.monotonic() if start is None else start
        for _ in range(3):
            if not self._in_readonly:
                await ReadOnly()
                self._in_readonly = True
            if int(self._busy.value):
                fired = await First(FallingEdge(self._busy), Timer(max_cycles * self.period_ns, unit="ns"))
                self._in_readonly = False
                finished = isinstance(fired, FallingEdge)
                if finished:
                    # Leave the edge's time step so the next access drives before the next edge.
                    await RisingEdge(self.clk)
                return RunOutcome(finished, time.monotonic() - start)
            await RisingEdge(self.clk)
            self._in_readonly = False
        return RunOutcome(True, time.monotonic() - start)


class TB:
    """Owns the DUT's clock, reset and bus driver. `await TB.create(dut)` returns it reset and idle."""

    def __init__(self, dut, period_ns: int = CLOCK_PERIOD_NS):
        self.dut = dut
        self.period_ns = period_ns
        self.clock = Clock(dut.clk, period_ns, unit="ns")
        self.bus = NepBus(dut, dut.clk, period_ns)

    @classmethod
    async def create(cls, dut, period_ns: int = CLOCK_PERIOD_NS) -> "TB":
        tb = cls(dut, period_ns)
        tb.clock.start()
        await tb.reset()
        return tb

    async def reset(self, cycles: int = 4) -> None:
        """Hold rst for `cycles` clocks with the bus idle (also the way out of a hung run)."""
        await self.bus._writable()
        self.bus.idle()
        self.dut.rst.value = 1
        for _ in range(cycles):
            await RisingEdge(self.dut.clk)
        self.dut.rst.value = 0
        await RisingEdge(self.dut.clk)
