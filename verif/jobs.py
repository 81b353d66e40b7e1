"""Running lists of bus jobs (writes, START, reads) on the simulated RTL core or on the golden core.

A job is {"writes": [[addr, data], ...], "max_cycles": n, "reads": [addr, ...]}; its result is
{"finished", "reads", "counters", "status", "wall_seconds"}. The RTL side runs every job in one
simulator invocation (the `script` test of verif/test_core.py) on the cached build of the core for
`config`; the golden side gives the same dicts, so a caller compares them field by field.
"""

from __future__ import annotations

import json
import time

from ..firmware import loader
from ..firmware.memory_map import CoreConfig, Csr, Ctrl, Region, address
from .simulator import RUN_ROOT


def rtl_jobs(config: CoreConfig, jobs: list[dict], tag: str, waves: bool = False, quiet: bool = True) -> list[dict]:
    from .regression import run_core_bench
    test_dir = RUN_ROOT / f"{tag}-{config.lanes}lanes"
    test_dir.mkdir(parents=True, exist_ok=True)
    script, report = test_dir / "jobs.json", test_dir / "results.jsonl"
    script.write_text(json.dumps({"jobs": jobs}))
    report.unlink(missing_ok=True)
    run_core_bench(config, "script", waves=waves, test_dir=test_dir, quiet=quiet,
                   extra_env={"NEP_SCRIPT": str(script), "NEP_REPORT": str(report)})
    return [json.loads(line) for line in report.read_text().splitlines()]


def golden_jobs(config: CoreConfig, jobs: list[dict]) -> list[dict]:
    from ..firmware.golden_core import GoldenCore
    core = GoldenCore(config)
    out = []
    for job in jobs:
        for a, d in job["writes"]:
            core.write(a, d)
        start = time.monotonic()
        core.write(address(Region.CSR, Csr.CTRL), int(Ctrl.START))
        wall = time.monotonic() - start
        out.append({"finished": True, "wall_seconds": wall, "reads": [core.read(a) for a in job["reads"]],
                    "counters": loader.read_counters(core.read), "status": dict(loader.read_status(core.read))})
    return out
