"""cocotb bench of the whole NEP core: random programs and fault cases compared with the golden core.

Run through `simulator.run_bench(regression.nep_core, "edgeasr.verif.test_core", params, testcase=...)`
(pytest: tests/verif/test_core.py; long runs: `edgeasr regress`). Environment:
    NEP_PARAMS   the build parameters (set by run_bench): {"config": CoreConfig fields}
    NEP_SEED, NEP_COUNT, NEP_FIRST   regress: cases FIRST..FIRST+COUNT-1 of seed SEED
    NEP_CASES    replay: "seed:index,..." (each case is self-contained)
    NEP_KINDS    faults: comma-separated fault kinds (random_program.FAULT_ERROR), NEP_COUNT each
    NEP_REPORT   JSON-lines file receiving one CaseResult per case
"""

import os
from pathlib import Path

import cocotb

from ..firmware.memory_map import CONFIG, CORE_ID, CoreConfig, Csr, Region, address
from .common.device import GoldenDevice, RtlDevice
from .common.tb import TB
from .random_program import FAULT_ERROR, make_case
from .regression import cases_for, parse_cases, run_cases
from .simulator import bench_params


def _config() -> CoreConfig:
    return CoreConfig(**bench_params()["config"])


def _report() -> Path | None:
    path = os.environ.get("NEP_REPORT")
    return Path(path) if path else None


async def _devices(dut):
    config = _config()
    tb = await TB.create(dut)
    return RtlDevice(tb, config), GoldenDevice(config), config


def _assert_passed(results):
    failed = [r for r in results if not r.passed]
    assert not failed, f"{len(failed)} of {len(results)} cases failed, first: seed={failed[0].seed} " \
                       f"case={failed[0].index} ({failed[0].kind}): " + " | ".join(failed[0].problems[:4])


@cocotb.test()
async def identity(dut):
    """ID, CONFIG and the depth registers read what the build was configured with."""
    rtl, golden, config = await _devices(dut)
    csrs = [Csr.ID, Csr.CONFIG, Csr.SPAD_DEPTH, Csr.PROG_DEPTH, Csr.PARAM_DEPTH, Csr.MASK_DEPTH, Csr.VALUE_DEPTH]
    addrs = [address(Region.CSR, c) for c in csrs]
    got, want = await rtl.read_many(addrs), await golden.read_many(addrs)
    assert got == want, f"CSRs {[c.name for c in csrs]}: expected {want}, got {got}"
    assert got[0] == CORE_ID and CONFIG.unpack(got[1])["lanes"] == config.lanes


@cocotb.test()
async def regress(dut):
    """NEP_COUNT random cases of seed NEP_SEED (from NEP_FIRST), every one compared with the golden core."""
    rtl, golden, config = await _devices(dut)
    seed, count = int(os.environ.get("NEP_SEED", "1")), int(os.environ.get("NEP_COUNT", "20"))
    first = int(os.environ.get("NEP_FIRST", "0"))
    results = await run_cases(rtl, golden, cases_for(seed, count, config, first), total=count, report=_report(),
                              log=lambda s: print(s, flush=True))
    _assert_passed(results)


@cocotb.test()
async def replay(dut):
    """The cases named in NEP_CASES, alone (with waves when the build traces)."""
    rtl, golden, config = await _devices(dut)
    cases = [make_case(seed, index, config) for seed, index in parse_cases(os.environ.get("NEP_CASES", ""))]
    results = await run_cases(rtl, golden, cases, total=len(cases), report=_report(),
                              log=lambda s: print(s, flush=True))
    _assert_passed(results)


@cocotb.test()
async def faults(dut):
    """Each fault kind in NEP_KINDS (default: all), NEP_COUNT cases each: the core stops with the golden
    core's error code (which must be the intended one) within the case's cycle budget."""
    rtl, golden, config = await _devices(dut)
    kinds = [k for k in os.environ.get("NEP_KINDS", ",".join(FAULT_ERROR)).split(",") if k]
    seed, count = int(os.environ.get("NEP_SEED", "7")), int(os.environ.get("NEP_COUNT", "2"))
    cases = [make_case(seed, 100000 * (1 + list(FAULT_ERROR).index(k)) + i, config, kind=k)
             for k in kinds for i in range(count)]
    results = await run_cases(rtl, golden, cases, total=len(cases), report=_report(),
                              log=lambda s: print(s, flush=True))
    for r in results:
        assert r.error == FAULT_ERROR[r.kind], f"{r.kind}: golden error {r.error}"
    _assert_passed(results)


@cocotb.test()
async def script(dut):
    """Run the jobs of the JSON file NEP_SCRIPT and write one JSON line per job to NEP_REPORT.

    A job is {"writes": [[addr, data], ...], "max_cycles": n, "reads": [addr, ...]}: the writes,
    then START (bounded by max_cycles), then the reads. Its result line holds "finished", "reads",
    "counters", "status" and "wall_seconds" (START to busy low, the simulator running free). The
    demo and `edgeasr bench core` drive the RTL through this test.
    """
    import json
    from .common.scoreboard import csr_addresses
    from ..firmware.memory_map import BUS_DATA_BITS, COUNTERS, STATUS
    config = _config()
    tb = await TB.create(dut)
    rtl = RtlDevice(tb, config)
    jobs = json.loads(Path(os.environ["NEP_SCRIPT"]).read_text())["jobs"]
    with open(_report(), "w") as out:
        for job in jobs:
            await rtl.write_many([tuple(w) for w in job["writes"]])
            outcome = await rtl.run(int(job["max_cycles"]))
            line = {"finished": outcome.finished, "wall_seconds": outcome.wall_seconds}
            if outcome.finished:
                data = await rtl.read_many(list(job["reads"]) + csr_addresses())
                regs = data[len(job["reads"]):]
                line["reads"] = data[:len(job["reads"])]
                line["counters"] = {n: regs[2 * i] | regs[2 * i + 1] << BUS_DATA_BITS for i, n in enumerate(COUNTERS)}
                line["status"] = STATUS.unpack(regs[-1])
            else:
                await rtl.recover()
            out.write(json.dumps(line) + "\n")
            out.flush()
            assert outcome.finished, f"job did not finish within {job['max_cycles']} cycles"


@cocotb.test()
async def busy_bus_access(dut):
    """While BUSY, memory writes are dropped and memory reads return 0, both setting the sticky
    STATUS.refused; registers still read; the result equals the golden core's (which never sees the
    dropped writes); the next START clears refused."""
    import numpy as np
    from ..firmware import loader, weight_codec
    from ..firmware.assembler import Program
    from ..firmware.memory_map import STATUS, Ctrl, State
    from .common.scoreboard import csr_addresses
    rtl, golden, config = await _devices(dut)
    rng = np.random.default_rng(99)
    rows, cols = 64, min(256, 32 * config.lanes)    # a dense matrix within the value memory at 2 lanes too
    w = rng.integers(-128, 128, (rows, cols))
    cm = weight_codec.compress(w, np.zeros(rows, np.int64), np.full(rows, 1 << 14, np.int64),
                               np.full(rows, 24, np.int64), lanes=config.lanes, weight_bits=8)
    spad = rng.integers(-128, 128, config.spad_depth)
    dst = cols
    program = Program().matvec(dst=dst, src=0, mat=0).halt().halt().words()
    writes = (loader.spad_writes(0, spad) + loader.matrix_writes(cm, 0, 0, 0) + loader.program_writes(program)
              + [loader.csr_write(Csr.PC_START, 0)])
    await rtl.write_many(writes)
    await golden.write_many(writes)
    bus = rtl.tb.bus
    await bus.write(address(Region.CSR, Csr.CTRL), int(Ctrl.START))
    victim = dst + rows + 3
    await bus.write_many([(address(Region.SPAD, victim), 1234), (address(Region.PROGRAM, 0), 0xFF)])
    during = await bus.read_many([address(Region.SPAD, 1), address(Region.CSR, Csr.STATUS)])
    assert during[0] == 0, f"a scratchpad read while BUSY returned {during[0]}, expected 0"
    st = STATUS.unpack(during[1])
    assert st["state"] == State.BUSY and st["refused"] == 1, f"STATUS while BUSY: {st}"
    outcome = await bus.wait_idle(20 * rows * cols)
    assert outcome.finished, "the MATVEC did not finish"
    await golden.run(0)
    n = config.spad_depth
    got = await rtl.read_many([address(Region.SPAD, i) for i in range(n)] + csr_addresses())
    want = await golden.read_many([address(Region.SPAD, i) for i in range(n)])
    bad = [i for i in range(n) if (got[i] ^ want[i]) & 0xFFFF]
    assert not bad, f"spad[{bad[0]}] expected {want[bad[0]]}, got {got[bad[0]]} ({len(bad)} entries differ)"
    st = STATUS.unpack(got[-1])
    assert st["state"] == State.HALTED and st["refused"] == 1, f"STATUS after the run: {st}"
    prog = address(Region.PROGRAM, 0)
    assert await rtl.read_many([prog]) == await golden.read_many([prog]), "a program write while BUSY landed"
    await rtl.write_many([loader.csr_write(Csr.PC_START, 2)])
    assert (await rtl.run(100)).finished
    st = STATUS.unpack(await bus.csr(Csr.STATUS))
    assert st["refused"] == 0 and st["state"] == State.HALTED and st["pc"] == 2, f"STATUS after a new START: {st}"
