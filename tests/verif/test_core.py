"""The whole-core cocotb bench on Verilator, 2, 8 and 16 lanes: identity, every fault kind, and a fixed-seed
random regression compared word by word with the golden core (`edgeasr regress` runs longer ones)."""

import json

import pytest

from edgeasr.verif.random_program import FAULT_ERROR, regress_config
from edgeasr.verif.regression import run_core_bench
from edgeasr.verif.simulator import RUN_ROOT

# (lanes, seed, random cases): fixed seeds keep CI reproducible; counts keep it within budget.
CI_RUNS = [(2, 3, 40), (8, 1, 60), (16, 2, 40)]


@pytest.mark.parametrize("lanes,seed,count", CI_RUNS)
def test_core_regression(lanes, seed, count):
    report = RUN_ROOT / f"ci-core-{lanes}lanes.jsonl"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.unlink(missing_ok=True)
    result = run_core_bench(regress_config(lanes), ["identity", "busy_bus_access", "faults", "regress"],
                            quiet=True, check=False, extra_env={"NEP_SEED": str(seed), "NEP_COUNT": str(count), "NEP_REPORT": str(report)})
    lines = [json.loads(x) for x in report.read_text().splitlines()] if report.exists() else []
    failed = [(r["index"], r["kind"], r["problems"][:3]) for r in lines if not r["passed"]]
    assert result.failed == 0 and result.tests == 4, (result.failures, failed[:3], result.test_dir)
    faults = [r for r in lines if r["index"] >= 100000]
    assert {r["kind"] for r in faults} == set(FAULT_ERROR)
    assert all(r["error"] == FAULT_ERROR[r["kind"]] for r in faults)
    assert len(lines) - len(faults) == count
