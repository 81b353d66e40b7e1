"""Runs the decompressor's cocotb bench on Verilator for 8 and 16 lanes."""

import pytest

from edgeasr.verif.harnesses import DecompressorHarness
from edgeasr.verif.simulator import run_bench


@pytest.mark.parametrize("lanes", [8, 16])
def test_decompressor(lanes):
    result = run_bench(DecompressorHarness, "edgeasr.verif.test_decompressor",
                       {"lanes": lanes, "mask_depth": 256, "value_depth": 1024},
                       name=f"decompressor_harness{lanes}", quiet=True,
                       # The bench touches only the harness's ports; with every internal signal
                       # public, g++ spent over 15 minutes on the 16-lane symbol table alone.
                       ports_only=True)
    assert result.tests == 2 and result.failed == 0, result.failures
