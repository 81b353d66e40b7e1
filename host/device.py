"""One device API for every NEP the host drives: the golden model, the Verilated RTL, a board.

A backend supplies four primitives on 32-bit bus words: a batch of writes, a batch of reads, START
plus a bounded wait for the core to go idle, and reset. Everything else (`load_words`,
`write_spad`, `read_spad`, `run`, `counters`, `status`, `config`) is written once here, on top of
`write_many`/`read_many`, with the bus formats of `firmware.loader`, so backends cannot drift apart.

`open_device("golden" | "verilator" | "serial:/dev/ttyUSB0", config)` picks a backend.

Edges:
- Bus addresses must fit 24 bits and data 32 bits (ValueError before anything reaches the device).
- `run` never hangs: a core still BUSY after `max_cycles` clocks raises `DeviceTimeout` (the core
  is left BUSY, refusing writes; `reset()` recovers it). The golden core runs synchronously and
  always finishes (its programs have no branches), so it never times out.
- A run that stops with STATUS.state ERROR raises `DeviceFault` (error code and PC).
- `write_spad`/`read_spad` reject ranges outside the scratchpad (the bus itself would silently drop
  such writes and read zeros).
"""

from __future__ import annotations

import abc
import time
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from ..firmware import loader
from ..firmware.errors import DeviceError
from ..firmware.memory_map import (BUS_ADDR_BITS, BUS_DATA_BITS, CONFIG, CORE_ID, COUNTERS, FORMAT_VERSION,
                                   CoreConfig, Csr, Ctrl, Region, State, address)
from ..firmware.weight_format import MASK_BITS_PER_LANE

COUNTER_MASK = (1 << 64) - 1
DEFAULT_MAX_CYCLES = 50_000_000       # ~1.5 min of Verilator time for the 16-lane core; a model step is ~10^4
_COUNTER_CSRS = [Csr[f"{name.upper()}_{half}"] for name in COUNTERS for half in ("LO", "HI")]
_CONFIG_CSRS = (Csr.ID, Csr.CONFIG, Csr.SPAD_DEPTH, Csr.PROG_DEPTH, Csr.PARAM_DEPTH, Csr.MASK_DEPTH,
                Csr.VALUE_DEPTH)


class DeviceTimeout(DeviceError):
    """The core was still BUSY when a run's cycle budget ran out."""


class BackendNotImplemented(DeviceError, NotImplementedError):
    """A backend named by `open_device` exists in the API but not yet in this checkout."""


@dataclass(frozen=True)
class RunResult:
    """One finished run (STATUS.state HALTED; an ERROR raises DeviceFault instead)."""
    state: State                  # always State.HALTED
    pc: int                       # address of the HALT that ended the run
    counters: dict[str, int]      # this run's counts, each of memory_map.COUNTERS (device counters keep summing)
    wall_seconds: float           # host time from START to idle

    @property
    def cycles(self) -> int:
        return self.counters["cycles"]


def _as_pairs(writes) -> np.ndarray:
    try:
        pairs = np.asarray(writes if isinstance(writes, np.ndarray) else list(writes), dtype=np.int64)
    except OverflowError:
        raise ValueError(f"bus writes must be (address, data) pairs of 24- and 32-bit ints; one does not "
                         f"fit 64 bits") from None
    if pairs.size == 0:
        return np.zeros((0, 2), dtype=np.uint32)
    if pairs.ndim != 2 or pairs.shape[1] != 2:
        raise ValueError(f"writes must be (address, data) pairs, got an array of shape {pairs.shape}")
    _check_addresses(pairs[:, 0])
    data = pairs[:, 1]
    bad = np.nonzero((data < 0) | (data >> BUS_DATA_BITS != 0))[0]
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"bus write {i}: data {int(data[i]):#x} does not fit {BUS_DATA_BITS} bits")
    return np.ascontiguousarray(pairs, dtype=np.uint32)


def _check_addresses(addrs: np.ndarray):
    bad = np.nonzero((addrs < 0) | (addrs >> BUS_ADDR_BITS != 0))[0]
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"bus access {i}: address {int(addrs[i]):#x} does not fit {BUS_ADDR_BITS} bits")


class Device(abc.ABC):
    """A NEP behind its host bus (`firmware.memory_map`). Use as a context manager to close it."""

    name: str = "device"

    def __init__(self):
        self._config: CoreConfig | None = None

    # --- what a backend implements -----------------------------------------------------------------

    @abc.abstractmethod
    def _write_pairs(self, pairs: np.ndarray) -> None:
        """Bus writes in order; `pairs` is (n, 2) uint32 [address, data], checked."""

    @abc.abstractmethod
    def _read_words(self, addrs: np.ndarray) -> np.ndarray:
        """Bus reads in order; `addrs` is (n,) uint32, checked. Returns (n,) unsigned data."""

    @abc.abstractmethod
    def _start(self, max_cycles: int) -> bool:
        """Write CTRL.START and wait until the core is idle or `max_cycles` clocks passed; True if idle."""

    @abc.abstractmethod
    def reset(self) -> None:
        """Return to the reset state (memories need not be cleared; STATUS reads IDLE)."""

    def close(self) -> None:
        """Release the backend's resources; the device is unusable afterwards."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- the bus -----------------------------------------------------------------------------------

    def write(self, addr: int, data: int) -> None:
        self.write_many([(addr, data)])

    def read(self, addr: int) -> int:
        return self.read_many([addr])[0]

    def write_many(self, writes: Iterable[tuple[int, int]] | np.ndarray) -> None:
        """Bus writes in order (one clock each on the RTL). Raises ValueError for a bad address/data."""
        pairs = _as_pairs(writes)
        if len(pairs):
            self._write_pairs(pairs)

    def read_many(self, addrs: Sequence[int] | np.ndarray) -> list[int]:
        """Bus reads in order, as unsigned 32-bit ints."""
        try:
            a = np.asarray(addrs, dtype=np.int64).reshape(-1)
        except OverflowError:
            raise ValueError(f"bus addresses must fit {BUS_ADDR_BITS} bits; one does not fit 64") from None
        if a.size == 0:
            return []
        _check_addresses(a)
        return [int(x) for x in self._read_words(np.ascontiguousarray(a, dtype=np.uint32))]

    def _reader(self, addrs: Sequence[int]):
        """A `read(addr)` callable answering `addrs` from one bulk read (for firmware.loader's readers)."""
        return dict(zip(addrs, self.read_many(addrs))).__getitem__

    # --- helpers on the bus ------------------------------------------------------------------------

    def config(self) -> CoreConfig:
        """The core's size, read from its ID/CONFIG/depth registers (once; cached).

        Raises DeviceError if the ID is not a NEP's or the format version or mask width differ
        from this host's.
        """
        if self._config is None:
            addrs = [address(Region.CSR, c) for c in _CONFIG_CSRS]
            ident, word, *depths = self.read_many(addrs)
            if ident != CORE_ID:
                raise DeviceError(f"{self.name}: CSR ID reads {ident:#010x}, expected a NEP core ({CORE_ID:#010x})")
            fields = CONFIG.unpack(word)
            if fields["version"] != FORMAT_VERSION or fields["mask_bits"] != MASK_BITS_PER_LANE:
                raise DeviceError(f"{self.name}: CSR CONFIG says format version {fields['version']} with "
                                  f"{fields['mask_bits']} mask bits per lane; this host speaks version "
                                  f"{FORMAT_VERSION} with {MASK_BITS_PER_LANE}")
            names = ("spad_depth", "prog_depth", "param_depth", "mask_depth", "value_depth")
            try:
                self._config = CoreConfig(lanes=fields["lanes"], **dict(zip(names, depths)))
            except ValueError as e:
                raise DeviceError(f"{self.name}: the size registers describe no valid core: {e}") from None
        return self._config

    def load_words(self, region: Region, base_word: int, words) -> None:
        """Unsigned memory words of `region`'s width from word `base_word` (wide words in 32-bit chunks)."""
        region = Region(region)
        table = self.config().region_words()
        if region not in table:
            raise ValueError(f"{region.name} is not a memory region; expected one of "
                             f"{', '.join(r.name for r in table)}")
        depth, bits = table[region]
        words = list(words)
        if base_word < 0 or base_word + len(words) > depth:
            raise ValueError(f"{region.name} words [{base_word}, {base_word + len(words)}) leave the "
                             f"region's {depth} words")
        self.write_many(loader.region_writes(region, base_word, words, bits))

    def read_words(self, region: Region, base_word: int, count: int) -> list[int]:
        """`count` unsigned words of `region` from `base_word` (the inverse of `load_words`)."""
        region = Region(region)
        depth, bits = self.config().region_words()[region]
        if base_word < 0 or count < 0 or base_word + count > depth:
            raise ValueError(f"{region.name} words [{base_word}, {base_word + count}) leave the "
                             f"region's {depth} words")
        n = loader.chunks(bits)
        addrs = [address(region, w * n + c) for w in range(base_word, base_word + count) for c in range(n)]
        return loader.region_read(self._reader(addrs), region, base_word, count, bits)

    def _check_spad(self, base: int, n: int):
        depth = self.config().spad_depth
        if base < 0 or n < 0 or base + n > depth:
            raise ValueError(f"scratchpad entries [{base}, {base + n}) leave the scratchpad "
                             f"(depth {depth} entries)")

    def write_spad(self, base: int, values) -> None:
        """int16 scratchpad entries from entry `base` (ValueError if one does not fit int16)."""
        values = np.asarray(values)
        self._check_spad(base, values.size)
        self.write_many(loader.spad_writes(base, values))

    def read_spad(self, base: int, n: int) -> np.ndarray:
        """`n` scratchpad entries from `base` as int64."""
        self._check_spad(base, n)
        addrs = [address(Region.SPAD, base + i) for i in range(n)]
        return loader.read_spad(self._reader(addrs), base, n)

    def counters(self) -> dict[str, int]:
        """Each of memory_map.COUNTERS since the last CLEAR_COUNTERS (64-bit, wrapping)."""
        return loader.read_counters(self._reader([address(Region.CSR, c) for c in _COUNTER_CSRS]))

    def clear_counters(self) -> None:
        self.write(*loader.csr_write(Csr.CTRL, Ctrl.CLEAR_COUNTERS))

    def status(self) -> dict[str, int]:
        """STATUS as a dict: state (memory_map.State), refused, error (isa.ErrorCode), pc."""
        return loader.read_status(self._reader([address(Region.CSR, Csr.STATUS)]))

    def _snapshot(self) -> tuple[dict[str, int], dict[str, int]]:
        """(status, counters) from one bulk read."""
        addrs = [address(Region.CSR, Csr.STATUS)] + [address(Region.CSR, c) for c in _COUNTER_CSRS]
        read = self._reader(addrs)
        return loader.read_status(read), loader.read_counters(read)

    def run(self, pc_start: int = 0, max_cycles: int = DEFAULT_MAX_CYCLES) -> RunResult:
        """Run the program at `pc_start` to its HALT and return the run's status and counts.

        Raises DeviceFault (error code, PC) if the core stops with an error, DeviceTimeout if it is
        still BUSY after `max_cycles` clocks, DeviceError if it is already BUSY (after a timeout:
        `reset()` first). The device's counters keep summing across runs; the result holds this
        run's share.
        """
        if max_cycles <= 0:
            raise ValueError(f"max_cycles must be positive, got {max_cycles}")
        status, before = self._snapshot()
        if status["state"] == State.BUSY:
            raise DeviceError(f"{self.name}: core is BUSY at pc {status['pc']} before START (a run that timed "
                              f"out?); reset() the device first")
        self.write(*loader.csr_write(Csr.PC_START, pc_start))
        start = time.perf_counter()
        finished = self._start(max_cycles)
        wall = time.perf_counter() - start
        status, after = self._snapshot()
        if not finished:
            raise DeviceTimeout(f"{self.name}: core still BUSY at pc {status['pc']} after {max_cycles} cycles "
                                f"(started at pc {pc_start}); reset() the device before using it again")
        fault = loader.fault(status)
        if fault is not None:
            raise fault
        if status["state"] != State.HALTED:
            raise DeviceError(f"{self.name}: after START the core reads state {State(status['state']).name}, "
                              f"expected HALTED or ERROR")
        counts = {k: (after[k] - before[k]) & COUNTER_MASK for k in COUNTERS}
        return RunResult(State.HALTED, status["pc"], counts, wall)


BACKENDS = ("golden", "verilator", "serial:PORT")


def open_device(spec: str, config: CoreConfig | None = None) -> Device:
    """A device by name: "golden", "verilator" (built for `config`, default CoreConfig()), or
    "serial:/dev/ttyUSB0[@BAUD]" (the board reports its own config; `config`, if given, is checked;
    BAUD defaults to 115200 and does not matter on a pty).
    """
    if spec == "golden":
        from .backends.golden import GoldenDevice
        return GoldenDevice(config or CoreConfig())
    if spec == "verilator":
        from .backends.verilator import VerilatorDevice
        return VerilatorDevice(config or CoreConfig())
    if spec.startswith("serial:") and len(spec) > len("serial:"):
        from .backends.serial import SerialDevice, parse_spec
        path, baudrate = parse_spec(spec[len("serial:"):])
        return SerialDevice(path, config, baudrate=baudrate)
    raise ValueError(f"unknown device {spec!r}; expected one of {', '.join(BACKENDS)}")
