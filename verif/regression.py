"""The whole-core random regression: the case loop (any two Devices) and the host-side driver.

`run_cases` is the loop the cocotb bench runs inside the simulator (RTL vs golden); `run_golden`
runs the same loop with a golden core in place of the RTL, without any simulator, which is how the
generator, scoreboard and coverage are tested. `regress` is `edgeasr regress`: it builds the core
(cached), runs every case in ONE simulator invocation, prints progress and the coverage table, and
ends with `N passed, M failed`.

Waveforms: an untraced model runs the regression; each failing case (at most `MAX_REPLAYS`) is then
replayed alone on a traced build (cases are self-contained), writing one FST per failure next to the
report. `--waves` instead traces the whole run.

The bench writes one JSON line per case to the report file as it goes, so a simulator crash still
leaves every finished case on record (the missing ones count as failed).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable

from ..firmware.memory_map import CoreConfig
from .common.device import Device, GoldenDevice
from .common.scoreboard import check_golden, compare, observe
from .coverage import Coverage, replay
from .random_program import Case, make_case, regress_config

BENCH_MODULE = "edgeasr.verif.test_core"
TOP_NAME = "nep_core"
MAX_REPLAYS = 3


def nep_core(config: dict):
    """The top-level factory for `simulator.build`: NEPCore of a CoreConfig given as a dict."""
    from ..rtl.core import NEPCore
    return NEPCore(CoreConfig(**config))


def core_params(config: CoreConfig) -> dict:
    return {"config": asdict(config)}


def run_core_bench(config: CoreConfig, testcase, **kwargs):
    """`simulator.run_bench` of this bench on the core for `config` (cached build).

    The bench touches only top-level ports, so the model is built without --public-flat-rw
    (measured: about 2.5x faster regressions).
    """
    from .simulator import run_bench
    return run_bench(nep_core, BENCH_MODULE, core_params(config), name=TOP_NAME, testcase=testcase,
                     ports_only=True, **kwargs)


@dataclass
class CaseResult:
    seed: int
    index: int
    kind: str
    passed: bool
    problems: list[str] = field(default_factory=list)
    events: list = field(default_factory=list)
    error: int = 0                   # the golden core's error code
    cycles: int = 0                  # the device's CYCLES counter
    wall_seconds: float = 0.0        # device run time (START to busy low)


async def run_case(dut: Device, golden: Device, case: Case) -> CaseResult:
    expected = await observe(golden, case)
    got = await observe(dut, case)
    problems = check_golden(case, expected) + compare(case, expected, got)
    stop = expected.status["pc"]
    rep = replay(case, stop)
    if case.intended_error == expected.status["error"] == 0:
        diff = (rep.spad != expected.spad).nonzero()[0]
        if diff.size:
            problems.append(f"golden disagrees with the firmware.ops replay at {diff.size} entries, "
                            f"first spad[{diff[0]}]: replay {rep.spad[diff[0]]}, golden {expected.spad[diff[0]]}")
    return CaseResult(case.seed, case.index, case.kind, not problems, problems, rep.events,
                      int(expected.status["error"]), got.counters.get("cycles", 0), got.wall_seconds)


async def run_cases(dut: Device, golden: Device, cases: Iterable[Case], *, total: int,
                    report: Path | None = None, log=print) -> list[CaseResult]:
    """Run every case on both devices; log progress ~20 times and each failure at once."""
    results = []
    start = time.monotonic()
    step = max(1, total // 20)
    out = open(report, "a") if report else None
    try:
        for i, case in enumerate(cases):
            r = await run_case(dut, golden, case)
            results.append(r)
            if out:
                out.write(json.dumps(asdict(r)) + "\n")
                out.flush()
            if not r.passed:
                log(f"FAIL {case.name}:\n    " + "\n    ".join(r.problems))
            if (i + 1) % step == 0 or i + 1 == total:
                failed = sum(not x.passed for x in results)
                rate = (i + 1) / (time.monotonic() - start)
                log(f"[{i + 1:>{len(str(total))}}/{total}] {i + 1 - failed} passed, {failed} failed "
                    f"({rate:.1f} cases/s)")
    finally:
        if out:
            out.close()
    return results


def cases_for(seed: int, count: int, config: CoreConfig, first: int = 0) -> Iterable[Case]:
    for i in range(first, first + count):
        yield make_case(seed, i, config)


def run_golden(seed: int, count: int, config: CoreConfig, log=print) -> list[CaseResult]:
    """The regression with a second golden core as the device (no simulator)."""
    dut, golden = GoldenDevice(config, "golden-dut"), GoldenDevice(config)
    return asyncio.run(run_cases(dut, golden, cases_for(seed, count, config), total=count, log=log))


def coverage_of(results: Iterable[dict | CaseResult]) -> Coverage:
    cov = Coverage()
    for r in results:
        r = asdict(r) if isinstance(r, CaseResult) else r
        cov.add(r["events"], r["kind"], r["error"])
    return cov


# --- host side: `edgeasr regress` -----------------------------------------------------------------

def regress(count: int, seed: int, lanes: int = 8, waves: bool = False, replays: int = MAX_REPLAYS,
            golden_only: bool = False, console=None) -> tuple[int, int]:
    """Run `count` random cases (seed `seed`) on the RTL; print coverage and `N passed, M failed`."""
    from rich.console import Console
    console = console or Console(width=None if sys.stdout.isatty() else 120)
    config = regress_config(lanes)
    if golden_only:
        results = [asdict(r) for r in run_golden(seed, count, config, log=console.print)]
    else:
        results, report = _run_rtl(config, seed, count, waves, console)
    cov = coverage_of(results)
    console.print(cov.table(f"Functional coverage: seed {seed}, {count} cases, {lanes} lanes"))
    holes = cov.holes()
    if holes:
        console.print(f"[yellow]coverage holes ({len(holes)}):[/yellow] " + "; ".join(holes))
    failed = [r for r in results if not r["passed"]]
    missing = count - len(results)
    for r in failed[:20]:
        console.print(f"[red]FAIL[/red] seed={r['seed']} case={r['index']} ({r['kind']}):")
        for p in r["problems"]:
            console.print(f"    {p}", markup=False)
    if missing:
        console.print(f"[red]{missing} cases never ran (the simulator stopped early); see {report}[/red]")
    if failed and not golden_only and not waves and replays:
        _replay_with_waves(config, [(r["seed"], r["index"]) for r in failed[:replays]], console)
    n_failed = len(failed) + missing
    print(f"{count - n_failed} passed, {n_failed} failed", flush=True)
    return count - n_failed, n_failed


def _run_rtl(config: CoreConfig, seed: int, count: int, waves: bool, console):
    from .simulator import RUN_ROOT
    report = RUN_ROOT / f"regress-{config.lanes}lanes-seed{seed}-n{count}.jsonl"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.unlink(missing_ok=True)
    console.print(f"building the {config.lanes}-lane core (cached) and running {count} cases, seed {seed}")
    from .simulator import SimulationError
    try:
        res = run_core_bench(config, "regress", waves=waves, check=False,
                             extra_env={"NEP_SEED": str(seed), "NEP_COUNT": str(count), "NEP_REPORT": str(report)})
        if waves and res.waves_file:
            console.print(f"waveform: {res.waves_file}")
    except SimulationError as e:            # a crashed simulator: the report holds the cases that ran
        console.print(f"[red]{e}[/red]")
    results = [json.loads(line) for line in report.read_text().splitlines()] if report.exists() else []
    return results, report


def _replay_with_waves(config: CoreConfig, cases: list[tuple[int, int]], console):
    from .simulator import RUN_ROOT, SimulationError
    for seed, index in cases:
        test_dir = RUN_ROOT / f"replay-{config.lanes}lanes-seed{seed}-case{index}"
        console.print(f"replaying seed={seed} case={index} with FST tracing ...")
        try:
            res = run_core_bench(config, "replay", waves=True, check=False, test_dir=test_dir, quiet=True,
                            extra_env={"NEP_CASES": f"{seed}:{index}",
                                       "NEP_REPORT": str(test_dir / "replay.jsonl")})
            console.print(f"  waveform: {res.waves_file}  (log: {test_dir / 'sim.log'})")
        except SimulationError as e:
            console.print(f"  replay failed: {e}")


def parse_cases(text: str) -> list[tuple[int, int]]:
    """'seed:index,seed:index' -> [(seed, index), ...]"""
    return [tuple(int(x) for x in item.split(":")) for item in text.split(",") if item]
