"""Runs the activation/elementwise unit's cocotb bench on Verilator."""

from edgeasr.verif.harnesses import ActivationHarness
from edgeasr.verif.simulator import run_bench


def test_activation_unit():
    result = run_bench(ActivationHarness, "edgeasr.verif.test_activation", {"depth": 256},
                       name="activation_harness", quiet=True)
    assert result.tests == 1 and result.failed == 0, result.failures
