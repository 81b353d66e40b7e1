"""Runs the MAC array's and the requantizer's cocotb benches on Verilator."""

import pytest

from edgeasr.rtl.mac_array import MacArray
from edgeasr.rtl.requantizer import Requantizer
from edgeasr.verif.simulator import run_bench


@pytest.mark.parametrize("lanes", [8, 16])
def test_mac_array(lanes):
    result = run_bench(MacArray, "edgeasr.verif.test_mac_array", {"lanes": lanes},
                       name=f"mac_array{lanes}", quiet=True)
    assert result.tests == 2 and result.failed == 0, result.failures


def test_requantizer():
    result = run_bench(Requantizer, "edgeasr.verif.test_requantizer", {}, name="requantizer", quiet=True)
    assert result.tests == 1 and result.failed == 0, result.failures
