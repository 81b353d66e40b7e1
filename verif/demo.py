"""`edgeasr demo`: compile a small layer, run it on the Verilator-simulated NEP and on the golden core.

The layer is y = tanh(W x + b) with a float W (32 x 64) quantized to int4 per output row and pruned
to 50% lane-balanced sparsity, an int8 input and the default tanh table. Compiling means: weights
to int4 with per-row scales, the requantization folded into each row's fixed-point multiplier and
shift so that the MATVEC writes the tanh table's input format directly (1/16 units), the matrix
compressed, the program assembled (MATVEC, ACT, HALT). Both devices get the same bus writes; the
demo prints both outputs, the float reference and the counters, and whether they are bit-identical.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..firmware import loader, weight_codec
from ..firmware.assembler import Program, disassemble
from ..firmware.isa import ErrorCode
from ..firmware.memory_map import CoreConfig, Csr, Ctrl, Region, State, address
from ..firmware.number_formats import (LUT_IN_FRAC_BITS, LUT_OUT_FRAC_BITS, LUT_TABLES, Lut, fixed_point,
                                       default_luts, int_range)
from .random_program import regress_config

ROWS, COLS, SPARSITY, WEIGHT_BITS = 32, 64, 0.5, 4
X_FRAC_BITS = 6                     # input x in [-2, 2) as int8 with 6 fraction bits


@dataclass
class CompiledLayer:
    writes: list[tuple[int, int]]
    program: list[int]
    out_addr: int
    reference: np.ndarray           # float tanh(W x + b) of the pruned float layer
    bits_per_weight: float


def compile_layer(config: CoreConfig, seed: int = 2026) -> CompiledLayer:
    rng = np.random.default_rng(seed)
    w = rng.normal(0.0, 0.35, (ROWS, COLS))
    b = rng.normal(0.0, 0.3, ROWS)
    x = rng.uniform(-1.0, 1.0, COLS)
    w = weight_codec.balanced_prune(w, SPARSITY, config.lanes)
    lo, hi = int_range(WEIGHT_BITS)
    w_scale = np.abs(w).max(axis=1) / hi
    wq = np.clip(np.round(w / w_scale[:, None]), lo, hi).astype(np.int64)
    xq = np.clip(np.round(x * (1 << X_FRAC_BITS)), -128, 127).astype(np.int64)
    acc_scale = w_scale / (1 << X_FRAC_BITS)                 # real value of one accumulator unit
    bias = np.round(b / acc_scale).astype(np.int64)
    mults, shifts = fixed_point(acc_scale * (1 << LUT_IN_FRAC_BITS))
    cm = weight_codec.compress(wq, bias, mults, shifts, lanes=config.lanes,
                               weight_bits=WEIGHT_BITS)
    x_at, y_at, out_at = 0, COLS, COLS + ROWS
    program = Program().matvec(dst=y_at, src=x_at, mat=0).act(dst=out_at, a=y_at, length=ROWS,
                                                                  table=Lut.TANH).halt().words()
    writes = [loader.csr_write(Csr.CTRL, Ctrl.CLEAR_COUNTERS)]
    writes += loader.spad_writes(x_at, xq)
    luts = default_luts()
    for t in range(LUT_TABLES):
        writes += loader.lut_writes(t, luts[t])
    writes += loader.matrix_writes(cm, 0, 0, 0)
    writes += loader.program_writes(program)
    writes.append(loader.csr_write(Csr.PC_START, 0))
    return CompiledLayer(writes, program, out_at, np.tanh(w @ x + b), weight_codec.bits_per_weight(cm))


def run_demo(lanes: int = 8, console=None) -> bool:
    """Print both devices' results; True when they are bit-identical."""
    from rich.console import Console
    from rich.table import Table
    from .jobs import golden_jobs, rtl_jobs
    console = console or Console()
    config = regress_config(lanes)
    layer = compile_layer(config)
    console.print(f"[bold]layer[/bold]: tanh(W x + b), W {ROWS}x{COLS} int{WEIGHT_BITS} at {SPARSITY:.0%} "
                  f"balanced sparsity ({layer.bits_per_weight:.2f} bits/weight), {lanes}-lane NEP")
    for pc, word in enumerate(layer.program):
        console.print(f"  {pc}: {disassemble(word)}", markup=False)
    job = {"writes": layer.writes, "max_cycles": 100_000,
           "reads": [address(Region.SPAD, layer.out_addr + i) for i in range(ROWS)]}
    console.print("building the core (cached after the first run) and simulating it with Verilator ...")
    rtl = rtl_jobs(config, [job], "demo")[0]
    gold = golden_jobs(config, [job])[0]
    to_int8 = lambda words: [((v & 0xFFFF) ^ 0x8000) - 0x8000 for v in words]
    got, want = to_int8(rtl["reads"]), to_int8(gold["reads"])
    scale = 1 << LUT_OUT_FRAC_BITS
    t = Table(title="outputs (int8, 1/128 units)")
    for col in ("row", "float tanh", "golden", "RTL"):
        t.add_column(col, justify="right")
    for r in range(ROWS):
        mark = "" if got[r] == want[r] else " [red]<- differs[/red]"
        t.add_row(str(r), f"{layer.reference[r]:+.3f}", f"{want[r]:+4d} ({want[r] / scale:+.3f})",
                  f"{got[r]:+4d} ({got[r] / scale:+.3f}){mark}")
    console.print(t)
    c = Table(title="counters")
    for col in ("counter", "golden", "RTL"):
        c.add_column(col, justify="right")
    for name in rtl["counters"]:
        c.add_row(name, str(gold["counters"][name]), str(rtl["counters"][name]))
    status = lambda st: f"{State(st['state']).name}/{ErrorCode(st['error']).name}"
    c.add_row("status", status(gold["status"]), status(rtl["status"]))
    console.print(c)
    console.print("(cycles and stalls: the golden core's are an estimate, the RTL's are measured)")
    err = np.abs(np.array(got) / scale - layer.reference).max()
    console.print(f"max |RTL - float| = {err:.3f} (int4 weights, tanh table input in 1/16 steps)")
    same = (got == want and all(rtl["counters"][k] == gold["counters"][k] for k in ("macs", "skipped", "retired"))
            and rtl["status"]["state"] == int(gold["status"]["state"]) and rtl["status"]["error"] == 0)
    console.print("[bold green]bit-identical: yes[/bold green]" if same else "[bold red]bit-identical: NO[/bold red]")
    return same
