"""The RTL's arithmetic helpers against their definitions, in Amaranth's simulator (no Verilator).

`round_shift` (the rounding bias, then a shift that is known to give 0 once shift >= the value's
width) must equal `number_formats.round_shift` for every shift the ISA and the requantizer allow;
the decompressor's `count_at_least` and the MATVEC's balanced `popcount` must equal their
obvious definitions.
"""

import numpy as np
from amaranth import Cat, Module, Signal, signed
from amaranth.sim import Simulator

from edgeasr.firmware.number_formats import round_shift as golden_round_shift
from edgeasr.rtl.decompressor import count_at_least
from edgeasr.rtl.fixed_point import round_shift
from edgeasr.rtl.matvec import popcount


def _comb_values(inputs, output_expr, cases, m=None):
    """Drive each tuple of `cases` onto `inputs`, collect the settled value of `output_expr`
    (built in `m` when it needs signals of its own)."""
    m = Module() if m is None else m
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


def test_count_at_least_and_popcount():
    rng = np.random.default_rng(7)
    for width in (16, 5):
        bits = Signal(width)
        values = sorted({0, (1 << width) - 1, *[1 << i for i in range(width)],
                         *[(1 << i) | (1 << j) for i in range(width) for j in range(width)],
                         *[int(v) for v in rng.integers(0, 1 << width, 400)]})
        values += [(1 << i) | (1 << j) | (1 << k) | (1 << (k + 1) % width)
                   for i in range(width) for j in range(i) for k in range(0, width, 3)]
        m = Module()
        flags = count_at_least(m, bits, 4, "t")
        at_least = _comb_values([bits], Cat(*flags), [(v,) for v in values], m)
        count = _comb_values([bits], popcount(bits), [(v,) for v in values])
        for v, f, c in zip(values, at_least, count):
            ones = bin(v).count("1")
            assert f == sum(1 << k for k in range(4) if ones >= k + 1), f"count_at_least({v:#x}, 4) = {f:#b}"
            assert c == ones, f"popcount({v:#x}) = {c}"
