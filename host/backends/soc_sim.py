"""The NEP SoC (`rtl.soc.NEPSoC`) in Verilator behind a pseudo-terminal: a dev board on /dev/pts/N.

`soc_pty.cpp` is the simulator's main: it Verilates the whole SoC (UART and link bridge included),
bridges the UART pins to a pty and prints the pty's path. The host then opens
`serial:/dev/pts/N` exactly as it would open `/dev/ttyUSB0`, so the `serial` backend, the link
protocol and the RTL bridge are tested together, byte for byte.

    with soc_simulator(config) as (process, pty_path):
        with open_device(f"serial:{pty_path}") as dev:
            ...

The executable is built once per (config, divisor) by `verilator.build_verilated`, cached under
build/soc_sim/ and serialized by a file lock (the same machinery as the Verilator backend's library).
The UART runs at clock / DIVISOR; at DIVISOR 8 a byte takes 80 clocks, so the link moves about one
byte per 80 simulated clocks. Measured (2026-11, 2-core machine at load average 6-10): the 4-lane
core with the regression's depths moves about 8-9 kB/s through the pty (host and device bytes
together, ~0.7M clocks/s), the default 16-lane core about 4 kB/s; builds take ~75 s and ~110 s. The simulator freezes the model and sleeps whenever nothing is in
flight (see soc_pty.cpp), so an idle one costs no CPU; it dies with its parent process.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

from ...firmware.errors import DeviceError
from ...firmware.link_protocol import IDLE_RESET_BYTES, MAX_WORDS
from ...firmware.memory_map import CoreConfig
from .verilator import _verilator_args, build_verilated

TOP_NAME = "nep_soc"
MAIN = Path(__file__).with_name("soc_pty.cpp")
EXECUTABLE = "soc_pty"
DIVISOR = 8                     # clocks per UART bit: small, so the simulated link is fast
START_TIMEOUT_S = 30.0          # from exec to the pty path on stdout


def _nep_soc(config: dict, divisor: int):
    """Top-level factory for `verif.simulator.generate_verilog`: NEPSoC of a CoreConfig given as a dict."""
    from ...rtl.soc import NEPSoC
    return NEPSoC(CoreConfig(**config), divisor)


def quiet_clocks(divisor: int) -> int:
    """Clocks the simulator keeps running after the last sign of activity before it freezes the model.

    Long enough for the bridge's idle resync (IDLE_RESET_BYTES byte-times, after which a frame cut
    short by a lost byte is dropped) and for the longest silent stretch of a frame's execution
    (a WRITE or READ of MAX_WORDS words: about 6 clocks a word), with a margin of 4 byte-times.
    """
    byte_clocks = 10 * divisor
    return max(IDLE_RESET_BYTES * byte_clocks, 8 * MAX_WORDS) + 4 * byte_clocks


def soc_sim_root() -> Path:
    from ...verif.simulator import BUILD_ROOT
    return BUILD_ROOT / "soc_sim"


def build_simulator(config: CoreConfig, divisor: int = DIVISOR, quiet: bool = True) -> Path:
    """The path of the SoC simulator executable for `config`, built first if no cached build exists."""
    return build_verilated(_nep_soc, {"config": asdict(config), "divisor": divisor}, TOP_NAME, [MAIN], EXECUTABLE,
                           root=soc_sim_root(), tag=f"{config.lanes}l-d{divisor}", args=_verilator_args(()),
                           what=f"the {config.lanes}-lane SoC simulator", quiet=quiet)


def start_soc_simulator(config: CoreConfig = CoreConfig(), divisor: int = DIVISOR) -> tuple[subprocess.Popen, str]:
    """Start a simulator (building it if needed) and return (process, pty path). The caller kills it.

    Raises DeviceError if the build fails or the simulator does not print its pty within
    START_TIMEOUT_S (its stderr is in the message).
    """
    exe = build_simulator(config, divisor)
    process = subprocess.Popen([str(exe), "--divisor", str(divisor), "--quiet-clocks", str(quiet_clocks(divisor))],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    line = b""
    deadline = time.monotonic() + START_TIMEOUT_S
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        ready, _, _ = select.select([process.stdout], [], [], max(left, 0))
        chunk = os.read(process.stdout.fileno(), 256) if ready else b""
        if not chunk:
            stop_soc_simulator(process)
            err = process.stderr.read().decode(errors="replace").strip()
            why = "did not print its pty" if left > 0 else f"printed no pty within {START_TIMEOUT_S:.0f} s"
            raise DeviceError(f"SoC simulator {exe} {why} (exit {process.returncode}): {err or 'no stderr'}")
        line += chunk
    return process, line.decode().strip()


def stop_soc_simulator(process: subprocess.Popen) -> None:
    """Terminate the simulator (SIGTERM, then SIGKILL after 2 s) and reap it."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(2.0)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    for pipe in (process.stdout, process.stderr):
        if pipe is not None:
            pipe.close()


@contextlib.contextmanager
def soc_simulator(config: CoreConfig = CoreConfig(), divisor: int = DIVISOR):
    """`start_soc_simulator` as a context manager yielding (process, pty path); the simulator dies on exit."""
    process, path = start_soc_simulator(config, divisor)
    try:
        yield process, path
    finally:
        stop_soc_simulator(process)


def run_soc_simulator(config: CoreConfig, divisor: int = DIVISOR) -> int:
    """`edgeasr soc-sim`: print the pty path, then serve it until Ctrl-C or SIGTERM (or the simulator exits)."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))       # unwind, so the simulator is stopped too
    print(f"building/starting the {config.lanes}-lane SoC simulator ...", file=sys.stderr, flush=True)
    with soc_simulator(config, divisor) as (process, path):
        print(path, flush=True)
        print(f"serving the NEP SoC on {path} (UART at clock/{divisor}); use --device serial:{path}; "
              f"Ctrl-C stops it", file=sys.stderr, flush=True)
        try:
            return process.wait()
        except KeyboardInterrupt:
            return 0
