"""`edgeasr bench core`: MATVEC cycles against sparsity and lane count, on the simulated RTL.

For each lane count (a default-size core, `CoreConfig(lanes=L)`) and each sparsity, a rows x cols
int4 matrix is pruned with `weight_codec.balanced_prune` and run as `MATVEC; HALT` in one simulator
invocation per lane count. Reported per point: the RTL's CYCLES counter for the program (MATVEC plus
the fetch/HALT overhead), the bound ceil(nnz / lanes), the dense (0%) cycles, the zero-skip speedup
(dense cycles / cycles), bits per weight of the serialized compressed format for int4 and int8
(`weight_codec.bits_per_weight`, header, CRC and masks included, row parameters excluded), and the
simulator's free-running speed (cycles / wall seconds from START to busy low) with the Verilated core
driven through the host's ctypes harness (`host.backends.verilator`), the clock loop in C. Every output is also
checked bit-exact against the golden core. Goal lines (issue 2) are printed at the end; speed goals
live here, never in a timed test.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from ..firmware import loader, weight_codec
from ..firmware.assembler import Program
from ..firmware.memory_map import CoreConfig, Csr, Ctrl, Region, address

GOAL_SPARSITY = 0.5
GOAL_BOUND_SLACK = 0.10          # cycles within 10% of ceil(nnz / lanes)
GOAL_SPEEDUP = 1.8
GOAL_INT4_BITS = 3.2


def matvec_job(config: CoreConfig, weights: np.ndarray, x: np.ndarray, rows: int, cols: int):
    cm = weight_codec.compress(weights, np.zeros(rows, np.int64), np.full(rows, 1 << 14, np.int64),
                               np.full(rows, 20, np.int64), lanes=config.lanes, weight_bits=4)
    dst = -(-cols // config.lanes) * config.lanes
    writes = [loader.csr_write(Csr.CTRL, Ctrl.CLEAR_COUNTERS)]
    writes += loader.spad_writes(0, x)
    writes += loader.matrix_writes(cm, 0, 0, 0)
    writes += loader.program_writes(Program().matvec(dst=dst, src=0, mat=0).halt().words())
    writes.append(loader.csr_write(Csr.PC_START, 0))
    dense_cycles = rows * cols // config.lanes
    return cm, {"writes": writes, "max_cycles": 20 * dense_cycles + 10_000,
                "reads": [address(Region.SPAD, dst + r) for r in range(rows)]}


def measure(lanes: int, sparsities: list[float], rows: int, cols: int, seed: int = 5) -> list[dict]:
    from ..host.backends.verilator import run_jobs
    from .jobs import golden_jobs
    config = CoreConfig(lanes=lanes)
    rng = np.random.default_rng(seed)
    dense = rng.integers(-8, 8, (rows, cols))
    dense[dense == 0] = 1
    x = rng.integers(-128, 128, cols)
    points, jobs = [], []
    for s in sparsities:
        w = weight_codec.balanced_prune(dense, s, lanes)
        cm, job = matvec_job(config, w, x, rows, cols)
        cm8 = weight_codec.compress(w, cm.bias, cm.mult, cm.shift, lanes=lanes, weight_bits=8)
        nnz = int(np.count_nonzero(w))
        points.append({"lanes": lanes, "sparsity": s, "nnz": nnz, "bound": math.ceil(nnz / lanes),
                       "beats": cm.beats, "bits_int4": weight_codec.bits_per_weight(cm),
                       "bits_int8": weight_codec.bits_per_weight(cm8)})
        jobs.append(job)
    rtl = run_jobs(config, jobs)        # the ctypes harness: free-running, no Python per cycle
    gold = golden_jobs(config, jobs)
    for p, r, g in zip(points, rtl, gold):
        p["cycles"] = r["counters"]["cycles"]
        p["macs"] = r["counters"]["macs"]
        p["bit_exact"] = r["reads"] == g["reads"] and r["status"]["error"] == 0
        p["sim_cycles_per_s"] = r["counters"]["cycles"] / max(r["wall_seconds"], 1e-9)
    dense_cycles = next((p["cycles"] for p in points if p["sparsity"] == 0.0), None)
    for p in points:
        p["dense_cycles"] = dense_cycles
        p["speedup"] = dense_cycles / p["cycles"] if dense_cycles else None
        p["cycles_over_bound"] = p["cycles"] / p["bound"] if p["bound"] else None
    return points


def goals(points: list[dict]) -> list[tuple[str, bool]]:
    out = []
    for p in points:
        if abs(p["sparsity"] - GOAL_SPARSITY) < 1e-9:
            L = p["lanes"]
            out.append((f"{L} lanes, 50%: cycles {p['cycles']} within {GOAL_BOUND_SLACK:.0%} of "
                        f"ceil(nnz/lanes) = {p['bound']} (ratio {p['cycles_over_bound']:.3f})",
                        p["cycles"] <= (1 + GOAL_BOUND_SLACK) * p["bound"]))
            if p["speedup"] is not None:
                out.append((f"{L} lanes, 50%: zero-skip speedup {p['speedup']:.2f}x >= {GOAL_SPEEDUP}x",
                            p["speedup"] >= GOAL_SPEEDUP))
            out.append((f"{L} lanes, 50%: int4 {p['bits_int4']:.3f} bits/weight <= {GOAL_INT4_BITS}",
                        p["bits_int4"] <= GOAL_INT4_BITS))
    out.append(("every output bit-exact against the golden core", all(p["bit_exact"] for p in points)))
    return out


def run_bench_core(json_path: str | None = None, lanes=(8, 16), sparsities=(0.0, 0.25, 0.5, 0.75, 0.9),
                   rows: int = 256, cols: int = 512, console=None) -> int:
    from rich.console import Console
    from rich.table import Table
    import sys
    console = console or Console(width=None if sys.stdout.isatty() else 170)
    sparsities = sorted(set(sparsities) | {0.0})          # the dense point is the speedup's reference
    points = []
    for L in lanes:
        console.print(f"{L} lanes: building the default-size core (cached) and running "
                      f"{len(sparsities)} {rows}x{cols} MATVECs ...")
        points += measure(L, list(sparsities), rows, cols)
    t = Table(title=f"MATVEC {rows}x{cols}, int4, balanced sparsity")
    for col in ("lanes", "sparsity", "nnz", "cycles", "ceil(nnz/lanes)", "cycles/bound", "dense cycles",
                "speedup", "bits/w int4", "bits/w int8", "sim cycles/s", "bit-exact"):
        t.add_column(col, justify="right")
    for p in points:
        t.add_row(str(p["lanes"]), f"{p['sparsity']:.0%}", str(p["nnz"]), str(p["cycles"]), str(p["bound"]),
                  f"{p['cycles_over_bound']:.3f}" if p["cycles_over_bound"] else "-", str(p["dense_cycles"]),
                  f"{p['speedup']:.2f}x" if p["speedup"] else "-", f"{p['bits_int4']:.3f}",
                  f"{p['bits_int8']:.3f}", f"{p['sim_cycles_per_s']:,.0f}", "yes" if p["bit_exact"] else "[red]NO[/red]")
    console.print(t)
    console.print("cycles: the RTL's CYCLES counter for MATVEC + HALT (fetch and HALT overhead included)")
    results = goals(points)
    for text, ok in results:
        console.print(("[green]PASS[/green] " if ok else "[red]FAIL[/red] ") + text)
    if json_path:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(json.dumps({"rows": rows, "cols": cols, "weight_bits": 4, "points": points,
                                               "goals": [{"goal": g, "pass": ok} for g, ok in results]},
                                              indent=1))
        console.print(f"wrote {json_path}")
    return 0 if all(ok for _, ok in results) else 1
