"""Runs the sequencer's cocotb bench on Verilator."""

from edgeasr.verif.harnesses import SequencerHarness
from edgeasr.verif.simulator import run_bench


def test_sequencer():
    config = dict(lanes=8, spad_depth=512, prog_depth=64, param_depth=64, mask_depth=256, value_depth=512)
    result = run_bench(SequencerHarness, "edgeasr.verif.test_sequencer", config,
                       name="sequencer_harness", quiet=True)
    assert result.tests == 1 and result.failed == 0, result.failures
