"""The RTL core (`rtl.core.NEPCore`) Verilated into a shared library and driven through ctypes.

This is the host's default embedded simulator. `nep_harness.cpp` wraps the Verilated model in a C
ABI whose every call moves a whole batch: writes, reads (one per clock, pipelined as the bus
allows) or a run to idle, with the clock loop in C.

Builds: the core's Verilog for a `CoreConfig` (from `verif.simulator.generate_verilog`, memoized
there) plus the harness, the Verilator version and the options name a folder
`build/nep_lib/nep_core-<lanes>l-<hash>/` that holds the library. A folder whose `build.ok` exists is
reused as is; a changed design gets a new folder. Builds are serialized by a file lock per folder, so
threads, processes and pytest-xdist workers asking for the same core build it once. The warning
waivers and the wheel's environment are `verif.simulator`'s (one list for the project); the C++
optimization options are `MAKE_OPTIONS` below.

Speed (measured 2026-11 on the 2-core build machine while other jobs kept its load average at 8):
the default-size 16-lane core free-runs a 256x512 int4 50%-sparse MATVEC (4115 cycles) at 1.2M
cycles/s (best of 20 runs, wall), about 1.0M per CPU second. perf puts over half the time in the
design's clocked logic (Verilator's `nba` function) and under 1% in the harness, so a faster
simulation needs a leaner design or other Verilator options, not a different harness.
`time_matvec` measures it.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import shutil
import subprocess
import threading
import time
import weakref
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ...firmware import loader
from ...firmware.errors import DeviceError
from ...firmware.memory_map import CoreConfig, Csr, Ctrl
from ..device import Device

TOP_NAME = "nep_core"
HARNESS = Path(__file__).with_name("nep_harness.cpp")
LIBRARY_NAME = "libnep.so"
RESET_CYCLES = 4
# The model's hot code at -O2 (the wheel's default is -Os); its constructors (which zero the
# memories, thousands of lines for a big core) stay unoptimized, which halves the build time.
MAKE_OPTIONS = "OPT_FAST=-O2 OPT_GLOBAL=-O2"
# Link the harness as a shared library; -Bsymbolic keeps each library's calls inside itself, so
# cores of different configs (libraries with the same symbol names) can live in one process.
LINK_ARGS = ("-CFLAGS", "-fPIC", "-LDFLAGS", "-shared", "-LDFLAGS", "-Wl,-Bsymbolic")

_u32p = ctypes.POINTER(ctypes.c_uint32)
_loaded: dict[Path, ctypes.CDLL] = {}
_built: dict[CoreConfig, Path] = {}         # this process's builds: skips regenerating the Verilog
_loaded_lock = threading.Lock()


def _nep_core(config: dict):
    """Top-level factory for `verif.simulator.generate_verilog`: NEPCore of a CoreConfig given as a dict."""
    from ...rtl.core import NEPCore
    return NEPCore(CoreConfig(**config))


def _verilator_args(link_args: tuple[str, ...] = LINK_ARGS) -> list[str]:
    from ...verif.simulator import AMARANTH_WAIVERS
    return [*AMARANTH_WAIVERS, "-MAKEFLAGS", MAKE_OPTIONS, *link_args]


def _verilator_version() -> str:
    from importlib.metadata import version
    return version("verilator")


def _digest(*parts: object) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(json.dumps(part, sort_keys=True).encode() if not isinstance(part, str) else part.encode())
        h.update(b"\0")
    return h.hexdigest()[:12]


def library_root() -> Path:
    from ...verif.simulator import BUILD_ROOT
    return BUILD_ROOT / "nep_lib"


def build_verilated(top_factory, params: dict, top_name: str, sources: list[Path], output: str, *,
                    root: Path, tag: str, args: list[str], what: str, quiet: bool = True) -> Path:
    """The path of `output` Verilated from `top_factory(**params)` plus the C++ `sources`, built if needed.

    The Verilog, the sources' text, `args` and the Verilator version name the folder
    `root/<top_name>-<tag>-<hash>/`; a folder whose `build.ok` exists is reused, and a file lock per
    folder makes concurrent callers build it once. Raises DeviceError (with the tail of the build
    log; `what` names the design in the message) if Verilator or the C++ build fails.
    """
    from ...verif import simulator
    verilog = simulator.generate_verilog(top_factory, params, top_name)
    texts = [src.read_text() for src in sources]
    key = _digest(verilog, params, args, *texts, _verilator_version())
    build_dir = root / f"{top_name}-{tag}-{key}"
    product, stamp = build_dir / output, build_dir / "build.ok"
    if stamp.exists() and product.exists():
        return product
    from ...verif.simulator import file_lock
    with file_lock(build_dir.with_name(build_dir.name + ".lock")):
        if stamp.exists() and product.exists():          # another worker built it while we waited
            return product
        build_dir.mkdir(parents=True, exist_ok=True)
        (build_dir / f"{top_name}.v").write_text(verilog)
        for src, text in zip(sources, texts):
            (build_dir / src.name).write_text(text)
        (build_dir / "params.json").write_text(json.dumps(params, indent=1, sort_keys=True))
        obj_dir = build_dir / "obj"
        shutil.rmtree(obj_dir, ignore_errors=True)
        cmd = [simulator.verilator_binary(), "--cc", "--exe", "--build", "-j", str(os.cpu_count() or 2),
               *args, "--top-module", top_name, "--Mdir", str(obj_dir), "-o", output,
               f"{top_name}.v", *(src.name for src in sources)]
        start = time.monotonic()
        log_path = build_dir / "build.log"
        with open(log_path, "w") as log:
            log.write(" ".join(cmd) + "\n")
            log.flush()
            proc = subprocess.run(cmd, cwd=build_dir, stdout=log if quiet else None,
                                  stderr=subprocess.STDOUT if quiet else None)
        if proc.returncode != 0 or not (obj_dir / output).exists():
            tail = log_path.read_text()[-4000:]
            raise DeviceError(f"Verilator build of {what} failed (exit {proc.returncode}); "
                              f"log {log_path}:\n{tail}")
        os.replace(obj_dir / output, product)
        stamp.write_text(f"{time.monotonic() - start:.1f} s build\n")
        return product


def build_library(config: CoreConfig, quiet: bool = True) -> Path:
    """The path of the harness library for `config`, building it first if no cached build exists.

    Raises DeviceError (with the tail of the build log) if Verilator or the C++ build fails.
    """
    return build_verilated(_nep_core, {"config": asdict(config)}, TOP_NAME, [HARNESS], LIBRARY_NAME,
                           root=library_root(), tag=f"{config.lanes}l", args=_verilator_args(),
                           what=f"the {config.lanes}-lane core", quiet=quiet)


def _declare(lib: ctypes.CDLL) -> ctypes.CDLL:
    vp, u32, u64, size = ctypes.c_void_p, ctypes.c_uint32, ctypes.c_uint64, ctypes.c_size_t
    signatures = {
        "nep_create": ([], vp),
        "nep_destroy": ([vp], None),
        "nep_reset": ([vp, u32], None),
        "nep_write_many": ([vp, _u32p, size], None),
        "nep_read_many": ([vp, _u32p, _u32p, size], None),
        "nep_run_until_idle": ([vp, u64], u64),
        "nep_busy": ([vp], ctypes.c_int),
        "nep_cycles": ([vp], u64),
    }
    for name, (argtypes, restype) in signatures.items():
        fn = getattr(lib, name)
        fn.argtypes, fn.restype = argtypes, restype
    return lib


def load_library(config: CoreConfig) -> ctypes.CDLL:
    """The harness library for `config`, built if needed and loaded once per process."""
    path = _built.get(config)
    if path is None:
        path = _built[config] = build_library(config)
    with _loaded_lock:
        if path not in _loaded:
            _loaded[path] = _declare(ctypes.CDLL(str(path)))
        return _loaded[path]


class VerilatorDevice(Device):
    """A Verilated NEPCore of `config`, reset and idle. Not to be shared between threads."""

    name = "verilator"

    def __init__(self, config: CoreConfig = CoreConfig()):
        super().__init__()
        self._lib = load_library(config)
        self._handle = self._lib.nep_create()
        if not self._handle:
            raise DeviceError("verilator: nep_create returned no model")
        self._finalizer = weakref.finalize(self, self._lib.nep_destroy, self._handle)
        self._lib.nep_reset(self._handle, RESET_CYCLES)
        self.last_run_clocks = 0        # clocks the last `_start` waited (START to idle)

    def _live(self):
        if not self._finalizer.alive:
            raise DeviceError("verilator: the device is closed")
        return self._handle

    def _write_pairs(self, pairs: np.ndarray) -> None:
        self._lib.nep_write_many(self._live(), pairs.ctypes.data_as(_u32p), len(pairs))

    def _read_words(self, addrs: np.ndarray) -> np.ndarray:
        out = np.empty(len(addrs), dtype=np.uint32)
        self._lib.nep_read_many(self._live(), addrs.ctypes.data_as(_u32p), out.ctypes.data_as(_u32p), len(addrs))
        return out

    def _start(self, max_cycles: int) -> bool:
        self._write_pairs(np.array([loader.csr_write(Csr.CTRL, Ctrl.START)], dtype=np.uint32))
        self.last_run_clocks = int(self._lib.nep_run_until_idle(self._live(), max_cycles))
        return not self._lib.nep_busy(self._handle)

    def reset(self) -> None:
        """Pulse rst: STATUS IDLE, counters zero; memories keep their contents (as on the FPGA)."""
        self._lib.nep_reset(self._live(), RESET_CYCLES)

    @property
    def clocks(self) -> int:
        """Clock cycles simulated since the device was created (bus traffic included)."""
        return int(self._lib.nep_cycles(self._live()))

    def close(self) -> None:
        self._finalizer()


# --- fast paths for benches ------------------------------------------------------------------------

def run_jobs(config: CoreConfig, jobs: list[dict]) -> list[dict]:
    """`verif.jobs.rtl_jobs` without cocotb: each job's writes, START, wait, reads, on one device.

    A job is {"writes": [[addr, data], ...], "max_cycles": n, "reads": [addr, ...]}; its result is
    {"finished", "reads", "counters", "status", "wall_seconds"} with wall_seconds from START to idle.
    """
    out = []
    with VerilatorDevice(config) as dev:
        for job in jobs:
            dev.write_many(job["writes"])
            start = time.perf_counter()
            finished = dev._start(int(job["max_cycles"]))
            wall = time.perf_counter() - start
            reads = dev.read_many(job["reads"])
            status = dev.status()
            out.append({"finished": finished, "wall_seconds": wall, "reads": reads,
                        "counters": dev.counters(), "status": {k: int(v) for k, v in status.items()}})
            if not finished:
                dev.reset()
    return out


def time_matvec(cm, x, config: CoreConfig | None = None, *, device: VerilatorDevice | None = None,
                repeats: int = 1) -> tuple[int, float]:
    """(cycles, wall_seconds) of `MATVEC; HALT` for the compressed matrix `cm` on input `x`.

    cycles is the core's CYCLES counter for the program; wall_seconds is the host time from START
    to idle (the best of `repeats` runs), so cycles / wall_seconds is the free-running simulation
    speed. The matrix sits at param/mask/value word 0, x at scratchpad 0 and the output right after
    x (rounded up to the lanes). Pass `device` to reuse one (its memories are overwritten).
    """
    from ...firmware.assembler import Program
    config = config or CoreConfig(lanes=cm.lanes)
    own = device is None
    dev = device or VerilatorDevice(config)
    try:
        dst = -(-cm.cols // config.lanes) * config.lanes
        dev.write_spad(0, x)
        dev.write_many(loader.matrix_writes(cm, 0, 0, 0))
        dev.write_many(loader.program_writes(Program().matvec(dst=dst, src=0, mat=0).halt().words()))
        best = None
        for _ in range(max(1, repeats)):
            result = dev.run(0, max_cycles=64 * cm.rows * cm.cols // config.lanes + 10_000)
            if best is None or result.wall_seconds < best.wall_seconds:
                best = result
        return best.cycles, best.wall_seconds
    finally:
        if own:
            dev.close()
