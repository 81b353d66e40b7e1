"""The golden core (`firmware.golden_core.GoldenCore`) as a `Device`.

START runs the whole program synchronously inside the bus write, so `_start` always reports the
core idle and a run can never time out. Its CYCLES and STALLS counters are the golden model's
estimate (see its docstring); MACS, SKIPPED and RETIRED are exact and match the RTL.
"""

from __future__ import annotations

import numpy as np

from ...firmware import loader
from ...firmware.golden_core import GoldenCore
from ...firmware.memory_map import CoreConfig, Csr, Ctrl
from ..device import Device


class GoldenDevice(Device):
    name = "golden"

    def __init__(self, config: CoreConfig = CoreConfig()):
        super().__init__()
        self._build_config = config
        self.core = GoldenCore(config)          # for tests that look inside; the host uses the bus

    def _write_pairs(self, pairs: np.ndarray) -> None:
        write = self.core.write
        for addr, data in pairs.tolist():
            write(addr, data)

    def _read_words(self, addrs: np.ndarray) -> np.ndarray:
        read = self.core.read
        return np.array([read(a) for a in addrs.tolist()], dtype=np.uint32)

    def _start(self, max_cycles: int) -> bool:
        self.core.write(*loader.csr_write(Csr.CTRL, Ctrl.START))
        return True

    def reset(self) -> None:
        self.core = GoldenCore(self._build_config)
