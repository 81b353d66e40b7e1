"""The generator, scoreboard and coverage without a simulator: golden core vs golden core."""

import asyncio

import pytest

from edgeasr.verif.common.device import GoldenDevice
from edgeasr.verif.common.scoreboard import Observation, compare
from edgeasr.verif.coverage import Coverage, replay
from edgeasr.verif.random_program import FAULT_ERROR, make_case, regress_config, write_ranges
from edgeasr.verif.regression import coverage_of, run_cases, run_golden


@pytest.mark.parametrize("lanes", [8, 16])
def test_golden_regression_passes_and_covers_every_bin(lanes):
    results = run_golden(seed=11, count=150, config=regress_config(lanes), log=lambda s: None)
    failed = [r for r in results if not r.passed]
    assert not failed, [(r.index, r.kind, r.problems) for r in failed[:3]]
    holes = coverage_of(results).holes()
    assert not holes, holes


@pytest.mark.parametrize("kind", list(FAULT_ERROR))
def test_every_fault_kind_gives_its_error_on_the_golden_core(kind):
    config = regress_config(8)
    cases = [make_case(5, 1000 + i, config, kind=kind) for i in range(8)]
    results = asyncio.run(run_cases(GoldenDevice(config), GoldenDevice(config), cases, total=len(cases),
                                    log=lambda s: None))
    for r in results:
        assert r.passed, r.problems
        assert r.error == FAULT_ERROR[kind]


def test_cases_are_deterministic_and_self_contained():
    config = regress_config(8)
    a, b = make_case(3, 17, config), make_case(3, 17, config)
    assert a.writes() == b.writes()
    assert make_case(3, 18, config).writes() != a.writes()


def test_scoreboard_names_instruction_address_expected_and_got():
    config = regress_config(8)
    case = next(c for c in (make_case(9, i, config, kind="program") for i in range(50)) if write_ranges(c))
    rep = replay(case, stop_pc=max(case.program) + 1)
    status = {"state": 2, "refused": 0, "error": 0, "pc": max(case.program)}
    counters = {"cycles": 1, "macs": 0, "skipped": 0, "stalls": 0, "retired": 1}
    expected = Observation(True, rep.spad.copy(), counters, status)
    pc, start, n = write_ranges(case)[-1]
    got_spad = rep.spad.copy()
    outside = next(i for i in range(config.spad_depth)
                   if not any(s <= i < s + m for _, s, m in write_ranges(case)))
    got_spad[outside] += 1
    if n:
        got_spad[start] += 1
    problems = compare(case, expected, Observation(True, got_spad, dict(counters), dict(status)))
    text = "\n".join(problems)
    assert f"spad[{outside}] expected {rep.spad[outside]}, got {got_spad[outside]}; outside every destination" in text
    if n:
        assert f"spad[{start}] expected {rep.spad[start]}, got {got_spad[start]}; pc {pc}: " in text
    hang = compare(case, expected, Observation(False))
    assert hang == [f"hang: busy still high after {case.max_cycles} cycles"]


def test_coverage_table_lists_holes():
    cov = Coverage()
    cov.add([("MATVEC", "0%", 4, True)], "program", 0)
    holes = cov.holes()
    assert "MATVEC 0% int4 not saturated" in holes and "MATVEC 0% int4 saturated" not in holes
    assert "fault truncated (WEIGHT_TRUNCATED)" in holes
