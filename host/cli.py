"""The `edgeasr` command line.

    edgeasr demo [--lanes L]                       a small layer on the simulated NEP and the golden core
    edgeasr regress --count N --seed S [--lanes L] [--waves] [--golden]
                                                   random programs, RTL vs golden; ends "N passed, M failed"
    edgeasr bench core --json FILE [--lanes ...]   MATVEC cycles vs sparsity and lanes
    edgeasr bench asr|bias --json FILE             recognizer figures / context biasing on rare names
    edgeasr soc-sim [--lanes N]                    the SoC in Verilator behind a pty: prints /dev/pts/N
    edgeasr compile MODEL.npz -o IMAGE [--lanes N]  lower an exported RNN-T into a device image
    edgeasr transcribe FILE.wav [--device D] [--lattice OUT.json] [--json]   speech to text on the NEP
    edgeasr stream [FILE|-] [--device D] [--json]  live recognition of s16le 16 kHz audio on stdin
    edgeasr eoq train [--split dev] [-o JSON]      train and calibrate the end-of-query detector
    edgeasr lm build [-o NPZ] [--order N]          the character LM fused in the beam search
    edgeasr <model command> ...                    from edgeasr.models.cli, when it is installed

Subcommands import their machinery only when run, so `edgeasr --help` stays fast and a missing
optional part (the models' CLI) cannot break the others.
"""

from __future__ import annotations

import argparse
import importlib
import sys

OWN_COMMANDS = ("demo", "regress", "bench", "soc-sim", "build", "compile", "transcribe", "stream", "eoq", "lm")


def _models_cli():
    """edgeasr.models.cli, or None when this checkout does not have it (yet)."""
    try:
        return importlib.import_module("edgeasr.models.cli")
    except ModuleNotFoundError as e:
        if e.name in ("edgeasr.models.cli", "edgeasr.models"):
            return None
        raise


def _demo(args) -> int:
    from ..verif.demo import run_demo
    return 0 if run_demo(lanes=args.lanes) else 1


def _regress(args) -> int:
    from ..verif.regression import regress
    passed, failed = regress(args.count, args.seed, lanes=args.lanes, waves=args.waves,
                             replays=args.replays, golden_only=args.golden)
    return 1 if failed else 0


def _bench(args) -> int:
    if args.target == "core":
        from ..verif.bench_core import run_bench_core
        from .report_file import prepare_output
        prepare_output(args.json)
        return run_bench_core(json_path=args.json, lanes=args.lanes, sparsities=args.sparsities,
                              rows=args.rows, cols=args.cols)
    raise AssertionError("bench asr is dispatched in main() with its own options")


def _soc_sim(args) -> int:
    from ..firmware.memory_map import CoreConfig
    from .backends.soc_sim import run_soc_simulator
    return run_soc_simulator(CoreConfig(lanes=args.lanes))


def _build(args) -> int:
    import json
    from pathlib import Path
    from ..rtl.boards import build_board
    out = Path(args.out or f"build/fpga/{args.board}")
    report = build_board(args.board, out)
    print(json.dumps(report, indent=1))
    print(f"report: {out / 'report.json'}")
    return 0 if report["bitstreams"] else 1


def _compile(args) -> int:
    from .compile_cli import run_compile
    return run_compile(args)


def _device_job(run, args) -> int:
    """A job on a device: a device that fails (a dead board, a hung link) is one line, exit 1."""
    from ..firmware.errors import DeviceError
    try:
        return run(args)
    except DeviceError as e:
        print(f"edgeasr {args.command}: {e}", file=sys.stderr)
        return 1


def _transcribe(args) -> int:
    from .transcribe_cli import run_transcribe
    return _device_job(run_transcribe, args)


def _stream(args) -> int:
    from .transcribe_cli import run_stream
    return _device_job(run_stream, args)


def _lm(args) -> int:
    from .lm_cli import run_lm
    return run_lm(args)


def build_parser(models=None) -> argparse.ArgumentParser:
    from ..firmware.weight_format import LANE_COUNTS
    parser = argparse.ArgumentParser(prog="edgeasr", description=__doc__.split("\n")[0].strip())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("demo", help="compile a small layer, run it on the simulated NEP and the golden core")
    p.add_argument("--lanes", type=int, default=8, choices=(8, 16), help="MAC lanes of the simulated core")
    p.set_defaults(func=_demo)

    p = sub.add_parser("regress", help="random programs on the RTL, compared word by word with the golden core")
    p.add_argument("--count", type=int, default=100, help="number of random cases (default 100)")
    p.add_argument("--seed", type=int, default=1, help="regression seed; case i uses SeedSequence([seed, i])")
    p.add_argument("--lanes", type=int, default=8, choices=LANE_COUNTS, help="MAC lanes (default 8)")
    p.add_argument("--waves", action="store_true", help="trace the whole run to FST (about 3x slower)")
    p.add_argument("--replays", type=int, default=3,
                   help="failing cases to replay alone with FST tracing (default 3; 0 = none)")
    p.add_argument("--golden", action="store_true", help="golden core vs golden core, no simulator (checks the generator)")
    p.set_defaults(func=_regress)

    p = sub.add_parser("bench", help="benchmarks: `core` (MATVEC cycles vs sparsity), `asr` (WER, RTF, end-pointing; own options)")
    p.add_argument("target", choices=("core", "asr"))
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    p.add_argument("--lanes", type=int, nargs="+", default=[8, 16], help="lane counts (default 8 16)")
    p.add_argument("--sparsities", type=float, nargs="+", default=[0.0, 0.25, 0.5, 0.75, 0.9],
                   help="balanced sparsities (default 0 0.25 0.5 0.75 0.9)")
    p.add_argument("--rows", type=int, default=256)
    p.add_argument("--cols", type=int, default=512)
    p.set_defaults(func=_bench)

    p = sub.add_parser("soc-sim", help="the NEP SoC in Verilator behind a pty (use --device serial:/dev/pts/N)")
    p.add_argument("--lanes", type=int, default=16, choices=LANE_COUNTS,
                   help="MAC lanes; the other sizes are CoreConfig's defaults (default 16)")
    p.set_defaults(func=_soc_sim)

    p = sub.add_parser("build", help="bitstream and utilisation/Fmax report for a dev board (YoWASP, pip install .[fpga])")
    p.add_argument("--board", required=True, choices=("ulx3s", "ulx3s-12f", "icebreaker"))
    p.add_argument("--out", metavar="DIR", help="build folder (default build/fpga/BOARD)")
    p.set_defaults(func=_build)

    from .compile_cli import add_compile_parser
    add_compile_parser(sub, _compile)
    from .transcribe_cli import add_stream_parser, add_transcribe_parser
    add_transcribe_parser(sub, _transcribe)
    add_stream_parser(sub, _stream)
    p = sub.add_parser("eoq", help="`eoq train`: train and calibrate the end-of-query detector (own options)")
    p.add_argument("action", choices=("train",))
    from .lm_cli import add_lm_parser
    add_lm_parser(sub, _lm)

    if models is not None:
        models.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:2] == ["bench", "asr"]:
        from .bench_asr import main as bench_asr      # its own options (see `edgeasr bench asr --help`)
        return bench_asr(argv[2:])
    if argv[:2] == ["bench", "bias"]:
        from .bench_bias import main as bench_bias    # its own options (see `edgeasr bench bias --help`)
        return bench_bias(argv[2:])
    if argv[:2] == ["eoq", "train"]:
        from .eoq_train import main as eoq_train       # its own options (see `edgeasr eoq train --help`)
        return eoq_train(argv[2:])
    models = _models_cli()
    if argv and not argv[0].startswith("-") and argv[0] not in OWN_COMMANDS and models is None:
        print(f"edgeasr: unknown command {argv[0]!r}. Available: {', '.join(OWN_COMMANDS)}. Model commands "
              f"come from edgeasr.models.cli, which this checkout does not have yet.", file=sys.stderr)
        return 2
    parser = build_parser(models)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    if hasattr(args, "func"):
        return int(args.func(args) or 0)
    return int(models.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
