"""The regression must catch real bugs: each mutant core (the golden core with one op subtly wrong)
fails the random regression within a modest number of cases. Runs without a simulator."""

import asyncio
from unittest import mock

import numpy as np
import pytest

from edgeasr.firmware import ops
from edgeasr.firmware.number_formats import ACC_BITS, saturate, wrap
from edgeasr.verif.common.device import GoldenDevice
from edgeasr.verif.random_program import make_case, regress_config
from edgeasr.verif.regression import run_cases

_matvec, _act, _ew = ops.matvec, ops.act, ops.ew


def _truncating_requantize(acc, mult, shift, out_bits):
    prod = wrap(acc, ACC_BITS) * np.asarray(mult, dtype=np.int64)
    return saturate(np.right_shift(prod, np.asarray(shift, dtype=np.int64)), out_bits)   # no rounding


MUTANTS = {
    "matvec drops the last column": ("matvec", lambda w, x, *a: _matvec(np.asarray(w)[:, :-1], np.asarray(x)[:-1], *a)
                                     if np.shape(w)[1] > 1 else _matvec(w, x, *a)),
    "matvec wraps inputs instead of saturating": ("matvec", lambda w, x, *a: _matvec(w, wrap(x, 8), *a)),
    "requantize truncates instead of rounding": ("requantize", _truncating_requantize),
    "act ignores its shift": ("act", lambda x, table, shift: _act(x, table, 0)),
    "ew always saturates to int8": ("ew", lambda f, a, b, shift, sat16: _ew(f, a, b, shift, False)),
}


class MutantDevice(GoldenDevice):
    def __init__(self, config, name, replacement):
        super().__init__(config, name)
        self.replacement = replacement

    async def run(self, max_cycles):
        with mock.patch.object(ops, *self.replacement):
            return await super().run(max_cycles)


@pytest.mark.parametrize("mutant", list(MUTANTS))
def test_regression_catches(mutant):
    config = regress_config(8)
    dut = MutantDevice(config, mutant, MUTANTS[mutant])
    golden = GoldenDevice(config)
    for i in range(60):
        [r] = asyncio.run(run_cases(dut, golden, [make_case(21, i, config)], total=1, log=lambda s: None))
        if not r.passed:
            break
    else:
        pytest.fail(f"the mutant '{mutant}' passed 60 random cases")
    assert any("spad[" in p for p in r.problems), r.problems
