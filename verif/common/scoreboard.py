"""Observing a case on a device, and comparing a device's observation with the golden core's.

`observe` loads a case, starts it, waits (bounded) and reads back every scratchpad entry, every
counter and STATUS. `compare` checks the device against the golden observation word by word and
explains each difference: which instruction (disassembled, with its PC) last wrote the address, the
address, expected and got; a difference at an address no executed instruction writes is reported as
negative-space damage. `check_golden` holds the golden core to what the generator intended (error
code, untouched memory outside the destinations), so a golden or generator bug cannot hide either.

Compared exactly: scratchpad, STATUS (state, error, pc, refused), RETIRED, and MACS/SKIPPED (except
after a weight-stream error, where the ISA leaves a partial MATVEC's counts and destination
unspecified). CYCLES and STALLS are the implementation's and are reported, not compared.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...firmware.assembler import disassemble
from ...firmware.isa import ErrorCode
from ...firmware.memory_map import BUS_DATA_BITS, COUNTERS, STATUS, Csr, Region, State, address
from ...firmware.number_formats import SPAD_BITS, wrap
from ..random_program import Case, write_ranges
from .device import Device

WEIGHT_STREAM_ERRORS = (ErrorCode.WEIGHT_TRUNCATED, ErrorCode.WEIGHT_LENGTH)
MAX_LISTED = 8


@dataclass
class Observation:
    """What a device showed after a case: None fields when the run did not finish."""
    finished: bool
    spad: np.ndarray | None = None
    counters: dict[str, int] = field(default_factory=dict)
    status: dict[str, int] = field(default_factory=dict)
    wall_seconds: float = 0.0


def csr_addresses() -> list[int]:
    out = []
    for name in COUNTERS:
        out += [address(Region.CSR, Csr[f"{name.upper()}_LO"]), address(Region.CSR, Csr[f"{name.upper()}_HI"])]
    return out + [address(Region.CSR, Csr.STATUS)]


async def observe(device: Device, case: Case) -> Observation:
    """Load `case` on `device`, run it within `case.max_cycles`, and read back everything compared."""
    await device.write_many(case.writes())
    outcome = await device.run(case.max_cycles)
    if not outcome.finished:
        await device.recover()
        return Observation(False, wall_seconds=outcome.wall_seconds)
    depth = case.config.spad_depth
    data = await device.read_many([address(Region.SPAD, i) for i in range(depth)] + csr_addresses())
    spad = wrap(np.array(data[:depth], dtype=np.int64) & ((1 << SPAD_BITS) - 1), SPAD_BITS)
    regs = data[depth:]
    counters = {name: regs[2 * i] | regs[2 * i + 1] << BUS_DATA_BITS for i, name in enumerate(COUNTERS)}
    status = STATUS.unpack(regs[-1])
    return Observation(True, spad, counters, status, outcome.wall_seconds)


def describe_pc(case: Case, pc: int) -> str:
    instr = case.program.get(pc)
    if instr is None:
        return f"pc {pc}: (no instruction)"
    note = f"  [{instr.note}]" if instr.note else ""
    return f"pc {pc}: {disassemble(instr.word)}{note}"


def _status_text(status: dict[str, int]) -> str:
    state = State(status["state"]).name if status["state"] in set(State) else status["state"]
    error = ErrorCode(status["error"]).name if status["error"] in set(ErrorCode) else status["error"]
    return f"state={state} error={error} pc={status['pc']} refused={status['refused']}"


def _unspecified(case: Case, expected: Observation) -> tuple[int, int] | None:
    """The destination a failed MATVEC may have half-written (ISA check 7), as (start, length)."""
    if expected.status.get("error") not in WEIGHT_STREAM_ERRORS:
        return None
    instr = case.program.get(expected.status["pc"])
    if instr is None or instr.matrix is None:
        return None
    return instr.fields["dst"], instr.matrix.cm.rows


def compare(case: Case, expected: Observation, got: Observation) -> list[str]:
    """Every difference between the golden (`expected`) and the device (`got`), explained."""
    if not got.finished:
        return [f"hang: busy still high after {case.max_cycles} cycles"]
    problems = []
    if got.status != expected.status:
        pc = expected.status["pc"]
        problems.append(f"STATUS expected {_status_text(expected.status)}, got {_status_text(got.status)}; "
                        f"expected stop at {describe_pc(case, pc)}")
    weight_error = expected.status.get("error") in WEIGHT_STREAM_ERRORS
    for name in ("retired",) + (() if weight_error else ("macs", "skipped")):
        if got.counters[name] != expected.counters[name]:
            problems.append(f"counter {name.upper()} expected {expected.counters[name]}, got {got.counters[name]}")
    differ = got.spad != expected.spad
    hole = _unspecified(case, expected)
    if hole is not None:
        differ[hole[0]:hole[0] + hole[1]] = False
    bad = np.nonzero(differ)[0]
    if bad.size:
        ranges = write_ranges(case, upto_pc=expected.status["pc"])
        problems.append(f"{bad.size} scratchpad entries differ (first {min(bad.size, MAX_LISTED)} below)")
        for addr in bad[:MAX_LISTED]:
            writer = [pc for pc, start, n in ranges if start <= addr < start + n]
            where = describe_pc(case, writer[-1]) if writer else "outside every destination (negative space)"
            problems.append(f"  spad[{addr}] expected {expected.spad[addr]}, got {got.spad[addr]}; {where}")
    return problems


def check_golden(case: Case, expected: Observation) -> list[str]:
    """The golden core against the generator's intent: error code, and memory outside destinations."""
    problems = []
    status = expected.status
    want_state = State.HALTED if case.intended_error == ErrorCode.NONE else State.ERROR
    if status["state"] != want_state or status["error"] != case.intended_error:
        problems.append(f"golden stopped with {_status_text(status)} but the case intends "
                        f"{case.intended_error.name} ({case.kind}); stop at {describe_pc(case, status['pc'])}")
    touched = np.zeros(case.config.spad_depth, dtype=bool)
    for _, start, n in write_ranges(case, upto_pc=status["pc"]):
        touched[start:start + n] = True
    changed = np.nonzero((expected.spad != case.spad) & ~touched)[0]
    if changed.size:
        problems.append(f"golden changed {changed.size} entries outside every destination, "
                        f"first spad[{changed[0]}] {case.spad[changed[0]]} -> {expected.spad[changed[0]]}")
    return problems
