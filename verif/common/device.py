"""One asynchronous interface in front of every NEP a test can drive: the RTL under cocotb and the
golden core in plain Python. The scoreboard and the random-program regression only see `Device`, so
they run against GoldenCore without any simulator (golden vs golden checks the generator itself).
"""

from __future__ import annotations

from typing import Iterable, Protocol, Sequence

from ...firmware.memory_map import CoreConfig, Csr, Ctrl, Region, address
from .run_outcome import RunOutcome


class Device(Protocol):
    name: str
    config: CoreConfig

    async def write_many(self, writes: Iterable[tuple[int, int]]) -> None: ...

    async def read_many(self, addrs: Sequence[int]) -> list[int]: ...

    async def run(self, max_cycles: int) -> RunOutcome:
        """START the program at PC_START and wait for the core to stop, at most `max_cycles`."""

    async def recover(self) -> None:
        """Bring the core back to IDLE after a run that did not finish (reset)."""


class GoldenDevice:
    """firmware.golden_core.GoldenCore behind the Device interface; START runs synchronously."""

    def __init__(self, config: CoreConfig, name: str = "golden"):
        from ...firmware.golden_core import GoldenCore
        self.name = name
        self.config = config
        self.core = GoldenCore(config)

    async def write_many(self, writes):
        write = self.core.write
        for addr, data in writes:
            write(addr, data)

    async def read_many(self, addrs):
        read = self.core.read
        return [read(a) for a in addrs]

    async def run(self, max_cycles: int) -> RunOutcome:
        import time
        start = time.monotonic()
        self.core.write(address(Region.CSR, Csr.CTRL), int(Ctrl.START))
        return RunOutcome(True, time.monotonic() - start)

    async def recover(self):
        from ...firmware.golden_core import GoldenCore
        self.core = GoldenCore(self.config)


class RtlDevice:
    """The simulated RTL core driven through `tb.TB` (cocotb)."""

    def __init__(self, tb, config: CoreConfig, name: str = "rtl"):
        self.name = name
        self.config = config
        self.tb = tb

    async def write_many(self, writes):
        await self.tb.bus.write_many(writes)

    async def read_many(self, addrs):
        return await self.tb.bus.read_many(list(addrs))

    async def run(self, max_cycles: int) -> RunOutcome:
        return await self.tb.bus.run(max_cycles)

    async def recover(self):
        await self.tb.reset()
