"""The RTL's arithmetic helpers against their definitions, in Amaranth's simulator (no Verilator).

`round_shift` (the rounding bias, then a shift that is known to give 0 once shift >= the value's
width) must equal `number_formats.round_shift` for every shift the ISA and the requantizer allow;
the decompressor's `at_most_one_bit` and the MATVEC's balanced `popcount` must equal their
obvious definitions.
"""

import numpy as np
from amaranth import Module, Signal, signed
from amaranth.sim import Simulator

from edgeasr.firmware.number_formats import round_shift as golden_round_shift
from edgeasr.rtl.decompressor import at_most_one_bit
from edgeasr.rtl.fixed_point import round_shift
from edgeasr.rtl.matvec import popcount


def _comb_values(inputs, output_expr, cases):
    """Drive each tuple of `cases` onto `inputs`, collect the settled value of `output_expr`."""
    m = Module()
    out = Signal(output_expr.shape())
    m.d.comb += out.eq(output_expr)
    got = []

    async def bench(ctx):
        for case in cases:
            for sig, v in zip(inputs, case):
                ctx.set(sig, int(v))
            got.append(ctx.get(out))

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    return got


def test_round_shift_equals_number_formats():
    rng = np.random.default_rng(2026)
    for bits in (33, 48):
        value, shift = Signal(signed(bits)), Signal(6)
        lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        xs = np.concatenate([[lo, hi, 0, -1, 1, lo + 1, hi - 1], rng.integers(lo, hi, 300, endpoint=True)])
        cases = [(int(x), int(s)) for x in xs for s in (0, 1, 2, 31, bits - 2, bits - 1, bits, bits + 1, 63)]
        cases += [(int(x), int(rng.integers(0, 64))) for x in rng.integers(lo, hi, 2000, endpoint=True)]
        got = _comb_values([value, shift], round_shift(value, shift), cases)
        want = [int(golden_round_shift(x, s)) for x, s in cases]
        bad = [(c, g, w) for c, g, w in zip(cases, got, want) if g != w]
        assert not bad, f"{bits}-bit: (value, shift), got, expected: {bad[:5]} ({len(bad)} differ)"


def test_at_most_one_bit_and_popcount():
    rng = np.random.default_rng(7)
    for width in (16, 5):
        bits = Signal(width)
        values = sorted({0, (1 << width) - 1, *[1 << i for i in range(width)],
                         *[int(v) for v in rng.integers(0, 1 << width, 400)]})
        single = _comb_values([bits], at_most_one_bit(bits), [(v,) for v in values])
        count = _comb_values([bits], popcount(bits), [(v,) for v in values])
        for v, s, c in zip(values, single, count):
            assert s == (bin(v).count("1") <= 1), f"at_most_one_bit({v:#x}) = {s}"
            assert c == bin(v).count("1"), f"popcount({v:#x}) = {c}"
