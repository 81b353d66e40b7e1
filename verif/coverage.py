"""Functional coverage of the regression: opcode x sparsity bin x weight width x saturation hit.

`case_events(case, status)` replays a case's executed instructions with `firmware.ops` (the one
definition of each op) to learn, per instruction, whether its output saturated; the events are small
tuples the cocotb bench writes into its report and the host folds into a `Coverage` table. The replay
also yields the scratchpad a legal program must end with, an independent check of the golden core's
sequencing (`replay_spad`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from ..firmware import ops
from ..firmware.isa import LUT_TABLES, ErrorCode, Ew, Opcode
from ..firmware.number_formats import (ACC_BITS, ACT_BITS, SPAD_BITS, Lut, int_range, round_shift, saturate,
                                       wrap)
from .random_program import FAULT_ERROR, Case

SPARSITY_BINS = ("0%", "1-25%", "26-50%", "51-75%", "76-99%", "100%")


def sparsity_bin(sparsity: float) -> str:
    if sparsity <= 0.0:
        return SPARSITY_BINS[0]
    if sparsity >= 1.0:
        return SPARSITY_BINS[-1]
    for edge, name in zip((0.25, 0.5, 0.75), SPARSITY_BINS[1:4]):
        if sparsity <= edge:
            return name
    return SPARSITY_BINS[4]


def _outside(x: np.ndarray, bits: int) -> bool:
    lo, hi = int_range(bits)
    return bool(((x < lo) | (x > hi)).any())


@dataclass
class Replay:
    events: list[tuple]          # ("MATVEC", bin, wbits, sat) / ("ACT", table, sat) / ("EW", func, sat) / (op,)
    spad: np.ndarray             # scratchpad after the executed instructions


def replay(case: Case, stop_pc: int) -> Replay:
    """Execute the case's instructions before `stop_pc` (the golden core's STATUS.pc) with firmware.ops."""
    spad = case.spad.copy()
    events: list[tuple] = []
    for pc, instr in case.executed():
        if pc >= stop_pc:
            if pc == stop_pc and instr.fields["opcode"] == Opcode.HALT:
                events.append(("HALT",))
            break
        f = instr.fields
        op = Opcode(f["opcode"])
        if op == Opcode.MATVEC:
            m = instr.matrix
            rows, cols = m.weights.shape
            x = spad[f["a"]:f["a"] + cols]
            out_bits = SPAD_BITS if m.cm.out16 else ACT_BITS
            acc = wrap(m.cm.bias + m.weights @ saturate(x, ACT_BITS), ACC_BITS)
            raw = round_shift(acc * m.cm.mult, m.cm.shift)
            spad[f["dst"]:f["dst"] + rows] = ops.matvec(m.weights, x, m.cm.bias, m.cm.mult, m.cm.shift, out_bits)
            events.append(("MATVEC", sparsity_bin(m.sparsity), m.cm.weight_bits, _outside(raw, out_bits)))
        elif op == Opcode.ACT:
            n, a = f["len"], spad[f["a"]:f["a"] + f["len"]]
            sat = _outside(round_shift(a, f["shift"]), ACT_BITS)
            spad[f["dst"]:f["dst"] + n] = ops.act(a, case.luts[f["func"]], f["shift"])
            events.append(("ACT", f["func"], sat))
        elif op == Opcode.EW:
            n, func = f["len"], Ew(f["func"])
            a, b = spad[f["a"]:f["a"] + n], spad[f["b"]:f["b"] + n]
            raw = {Ew.ADD: a + b, Ew.SUB: a - b, Ew.MUL: a * b, Ew.MOV: a}[func]
            sat = _outside(round_shift(raw, f["shift"]), SPAD_BITS if f["sat16"] else ACT_BITS)
            spad[f["dst"]:f["dst"] + n] = ops.ew(func, a, b, f["shift"], bool(f["sat16"]))
            events.append(("EW", int(func), sat))
        else:
            events.append((op.name,))
    return Replay(events, spad)


class Coverage:
    """Counts of covered bins, built from per-case events (JSON-friendly lists)."""

    def __init__(self):
        self.bins: Counter = Counter()
        self.faults: Counter = Counter()

    def add(self, events, kind: str, error: int):
        for e in events:
            self.bins[tuple(e)] += 1
        if kind in FAULT_ERROR:
            self.faults[(kind, int(error))] += 1

    def rows(self) -> list[tuple[str, str, str, int, int]]:
        """(opcode, variant, weights, saturated count, not-saturated count), every bin, holes included."""
        out = []
        for wbits in (4, 8):
            for b in SPARSITY_BINS:
                out.append(("MATVEC", b, f"int{wbits}", self.bins[("MATVEC", b, wbits, True)],
                            self.bins[("MATVEC", b, wbits, False)]))
        for t in range(LUT_TABLES):
            name = Lut(t).name if t in set(Lut) else str(t)
            out.append(("ACT", f"table {name}", "-", self.bins[("ACT", t, True)], self.bins[("ACT", t, False)]))
        for func in Ew:
            out.append(("EW", func.name, "-", self.bins[("EW", int(func), True)], self.bins[("EW", int(func), False)]))
        for op in ("NOP", "HALT"):
            out.append((op, "-", "-", 0, self.bins[(op,)]))
        return out

    def holes(self) -> list[str]:
        """Bins never hit (a saturated NOP or HALT is not a bin)."""
        holes = []
        for op, variant, weights, sat, unsat in self.rows():
            if op in ("NOP", "HALT"):
                if not unsat:
                    holes.append(op)
                continue
            if not sat:
                holes.append(f"{op} {variant} {weights} saturated")
            if not unsat:
                holes.append(f"{op} {variant} {weights} not saturated")
        for kind, error in FAULT_ERROR.items():
            if not any(k == kind for k, _ in self.faults):
                holes.append(f"fault {kind} ({error.name})")
        return holes

    def table(self, title: str = "Functional coverage"):
        """A rich Table of every bin; fault kinds with the error codes seen."""
        from rich.table import Table
        t = Table(title=title)
        for col in ("opcode", "variant / sparsity", "weights", "saturated", "not saturated"):
            t.add_column(col, justify="right" if col in ("saturated", "not saturated") else "left")
        for op, variant, weights, sat, unsat in self.rows():
            t.add_row(op, variant, weights, "-" if op in ("NOP", "HALT") else _cell(sat), _cell(unsat))
        for kind in FAULT_ERROR:
            seen = {ErrorCode(e).name: n for (k, e), n in self.faults.items() if k == kind}
            codes = ", ".join(f"{name} x{n}" for name, n in seen.items())
            t.add_row("fault", f"{kind}: {codes}" if codes else kind, "-", "", _cell(sum(seen.values())))
        return t


def _cell(n: int) -> str:
    return str(n) if n else "[red]0[/red]"
