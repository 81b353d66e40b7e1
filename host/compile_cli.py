"""`edgeasr compile MODEL.npz -o IMAGE`: an exported student (`models.export.save_image`) to a device image.

The core's sizes default to `CoreConfig()`'s; give the ones of the core the image will run on
(`--lanes 8` etc.). Prints each memory's use, or one JSON object with --json. Exit status 1 with
the compiler's message when the model does not fit.
"""

from __future__ import annotations

import json
import sys

DEPTHS = ("spad_depth", "prog_depth", "param_depth", "mask_depth", "value_depth")


def add_compile_parser(sub, func) -> None:
    from ..firmware.memory_map import CoreConfig
    from ..firmware.weight_format import LANE_COUNTS
    default = CoreConfig()
    p = sub.add_parser("compile", help="lower an exported RNN-T (.npz) into a device image")
    p.add_argument("model", help="exported student, e.g. data/runs/<run>/student_q4s.npz")
    p.add_argument("-o", "--output", required=True, help="image file to write")
    p.add_argument("--lanes", type=int, default=default.lanes, choices=LANE_COUNTS)
    for name in DEPTHS:
        p.add_argument(f"--{name.replace('_', '-')}", type=int, default=getattr(default, name))
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=func)


def run_compile(args) -> int:
    from ..firmware.compiler import CompileError, compile_student, memory_use
    from ..firmware.memory_map import CoreConfig
    from ..models.export import load_image as load_student
    config = CoreConfig(lanes=args.lanes, **{d: getattr(args, d) for d in DEPTHS})
    try:
        image = compile_student(load_student(args.model), config)
    except CompileError as e:
        print(f"edgeasr compile: {e}", file=sys.stderr)
        return 1
    data = image.to_bytes()
    with open(args.output, "wb") as f:
        f.write(data)
    use = memory_use(image)
    if args.json:
        print(json.dumps({"image": args.output, "bytes": len(data), "entry_points": image.entry_points,
                          "memory": {k: {"used": u, "depth": d} for k, (u, d) in use.items()}}))
        return 0
    print(f"{args.output}: {len(data)} bytes for a {config.lanes}-lane core")
    print(f"  {'memory':<8} {'used':>7} {'depth':>7}")
    for name, (used, depth) in use.items():
        print(f"  {name:<8} {used:>7} {depth:>7}  {100 * used / depth:5.1f}%")
    print("  entry points: " + ", ".join(f"{n}@{pc}" for n, pc in image.entry_points.items()))
    return 0
