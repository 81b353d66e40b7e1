"""Seeded random NEP programs and fault cases for the whole-core regression.

`make_case(seed, index, config)` builds one self-contained `Case`: every scratchpad entry, all four
activation tables, the matrices its program uses, the program and PC_START, as bus writes. A case
never depends on what an earlier case left behind, so any failing case replays alone.

What the generator aims at (see `KINDS` and `random_matvec`):
- random shapes, including one row/column and segment edges (lanes*16 +- 1 columns);
- sparsity 0-100%: dense, uniform random, lane-balanced (`weight_codec.balanced_prune`), all-zero rows,
  single non-zero and fully-zero matrices; int4 and int8 weights; 8- and 16-bit outputs;
- saturation edges: extreme weights (only min/max), int16 activations that MATVEC saturates to int8,
  extreme multipliers and small shifts so that requantization saturates;
- back-to-back and dependent instructions (a MATVEC's output feeds the next ACT or EW), ACT with every
  table, EW with every function, in-place ACT/EW (dst == a or dst == b), zero-length ACT/EW;
- canaries: the entries just outside each destination hold CANARY values, and `write_ranges` lets
  the scoreboard check that everything outside the destinations is unchanged;
- faults: a truncated weight stream (header declares fewer beats than the masks need), the opposite
  length error, illegal instructions, out-of-range operands, a misaligned MATVEC source, overlapping
  ranges, bad matrix headers, PC_START past the program memory and a program without HALT.
  The expected error code is the golden core's; `intended_error` is what the generator meant, and
  the regression fails a case whose golden result disagrees with it (a generator or golden bug).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..firmware import loader, weight_codec
from ..firmware.isa import INSTRUCTION, LUT_TABLES, ErrorCode, Ew, Opcode, encode
from ..firmware.memory_map import CoreConfig, Csr, Ctrl
from ..firmware.number_formats import BIAS_BITS, LUT_ENTRIES, MULT_BITS, SPAD_BITS, default_luts, int_range
from ..firmware.weight_format import (HEADER0, HEADER1, HEADER_WORDS, MATRIX_MAGIC, segment_columns, segments,
                                      value_words)

# Small memories keep a case's bus traffic short (the scoreboard reads every scratchpad entry).
REGRESS_DEPTHS = dict(spad_depth=2048, prog_depth=64, param_depth=1024, mask_depth=1024, value_depth=4096)
CANARY = (0x5A5A, -0x5A5B, 0x7FFF, -0x8000)

# Case kinds and their weights in a regression: legal programs, then one kind per fault.
KINDS = {
    "program": 70,
    "truncated": 4, "length": 3, "illegal": 4, "range": 4, "misaligned": 3, "overlap": 4,
    "header": 3, "pc_range": 1, "runoff": 2,
}
FAULT_ERROR = {
    "truncated": ErrorCode.WEIGHT_TRUNCATED, "length": ErrorCode.WEIGHT_LENGTH,
    "illegal": ErrorCode.ILLEGAL_INSTRUCTION, "range": ErrorCode.ADDRESS_RANGE,
    "misaligned": ErrorCode.MISALIGNED, "overlap": ErrorCode.OVERLAP, "header": ErrorCode.WEIGHT_HEADER,
    "pc_range": ErrorCode.ADDRESS_RANGE, "runoff": ErrorCode.ADDRESS_RANGE,
}
SPARSITY_MODES = ("dense", "uniform", "balanced", "zero_rows", "single", "all_zero")


def regress_config(lanes: int) -> CoreConfig:
    return CoreConfig(lanes=lanes, **REGRESS_DEPTHS)


@dataclass
class Matrix:
    """A matrix as placed in a case: dense weights, its compressed form and its device words."""
    weights: np.ndarray          # (rows, cols) int64, the intended weights
    cm: weight_codec.CompressedMatrix
    mat: int                     # param-memory word of its header
    mask_base: int
    value_base: int
    mode: str                    # sparsity mode (SPARSITY_MODES)
    param_words: list[int] = field(default_factory=list)   # as written (a fault may corrupt them)
    value_words: list[int] = field(default_factory=list)

    @property
    def sparsity(self) -> float:
        return 1.0 - np.count_nonzero(self.weights) / self.weights.size

    def writes(self) -> list[tuple[int, int]]:
        from ..firmware.memory_map import Region
        from ..firmware.weight_format import PARAM_WORD_BITS, mask_word_bits, value_word_bits
        lanes = self.cm.lanes
        return (loader.region_writes(Region.PARAM, self.mat, self.param_words, PARAM_WORD_BITS)
                + loader.region_writes(Region.MASK, self.mask_base, self.cm.mask_words, mask_word_bits(lanes))
                + loader.region_writes(Region.VALUE, self.value_base, self.value_words, value_word_bits(lanes)))


@dataclass
class Instr:
    """One placed instruction word and what the generator knows about it."""
    word: int
    matrix: Matrix | None = None
    note: str = ""               # why it is there (fault cases: what is wrong with it)

    @property
    def fields(self) -> dict[str, int]:
        return INSTRUCTION.unpack(self.word)


@dataclass
class Case:
    seed: int
    index: int
    kind: str
    config: CoreConfig
    spad: np.ndarray             # initial scratchpad, (spad_depth,) int64
    luts: np.ndarray             # (LUT_TABLES, LUT_ENTRIES) int64
    matrices: list[Matrix]
    program: dict[int, Instr]    # program-memory address -> instruction
    pc_start: int
    intended_error: ErrorCode
    max_cycles: int
    _writes: list | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return f"seed={self.seed} case={self.index} ({self.kind})"

    def writes(self) -> list[tuple[int, int]]:
        """Everything the case sets up, in order; the last write is PC_START (START is the runner's)."""
        if self._writes is None:
            self._writes = self._make_writes()
        return self._writes

    def _make_writes(self) -> list[tuple[int, int]]:
        out = [loader.csr_write(Csr.CTRL, Ctrl.CLEAR_COUNTERS)]
        out += loader.spad_writes(0, self.spad)
        for t in range(LUT_TABLES):
            out += loader.lut_writes(t, self.luts[t])
        for m in self.matrices:
            out += m.writes()
        for pc in sorted(self.program):
            out += loader.program_writes([self.program[pc].word], pc)
        out.append(loader.csr_write(Csr.PC_START, self.pc_start))
        return out

    def executed(self) -> list[tuple[int, Instr]]:
        """(pc, instr) from PC_START in order, as far as the program memory reaches (no branches)."""
        out, pc = [], self.pc_start
        while pc in self.program:
            out.append((pc, self.program[pc]))
            pc += 1
        return out


def derive_seed(seed: int, index: int) -> int:
    """The seed of case `index` of a regression with seed `seed` (stable across versions of numpy)."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1, np.uint64)[0] >> 1)


# --- the generator ---------------------------------------------------------------------------------

class _Gen:
    def __init__(self, seed: int, index: int, config: CoreConfig):
        self.seed, self.index, self.config = seed, index, config
        self.rng = np.random.default_rng(derive_seed(seed, index))
        self.lanes = config.lanes
        self.depth = config.spad_depth
        self.matrices: list[Matrix] = []
        self.next_param = self.next_mask = self.next_value = 0
        self.cycles = 1000
        lo, hi = int_range(SPAD_BITS)
        style = self.rng.integers(4)
        if style == 0:
            spad = self.rng.integers(lo, hi + 1, self.depth)
        elif style == 1:
            spad = self.rng.integers(-128, 128, self.depth)
        elif style == 2:
            spad = self.rng.choice(np.array([lo, -129, -128, -1, 0, 1, 127, 128, hi]), self.depth)
        else:
            spad = self.rng.integers(-300, 300, self.depth)
        self.spad = spad.astype(np.int64)
        if self.rng.random() < 0.5:
            self.luts = default_luts()
        else:
            self.luts = self.rng.integers(-128, 128, (LUT_TABLES, LUT_ENTRIES)).astype(np.int64)
        self.last_dst: tuple[int, int] | None = None      # (start, length) of the last destination

    # -- helpers --
    def pick(self, options, p=None):
        return options[int(self.rng.choice(len(options), p=p))]

    def canary(self, dst: int, n: int):
        for at in (dst - 1, dst + n):
            if 0 <= at < self.depth:
                self.spad[at] = CANARY[int(self.rng.integers(len(CANARY)))]

    def free_range(self, n: int, avoid: list[tuple[int, int]], align: int = 1) -> int:
        """A start in [0, depth - n] (multiple of align) whose range meets none of `avoid`."""
        for _ in range(200):
            start = int(self.rng.integers(0, (self.depth - n) // align + 1)) * align
            if not any(start < a + m and a < start + n for a, m in avoid if m and n):
                return start
        raise RuntimeError(f"no free scratchpad range of {n} entries")

    def shape(self) -> tuple[int, int]:
        seg = segment_columns(self.lanes)
        rows = int(self.pick([1, self.rng.integers(1, 17), self.rng.integers(1, 65), self.rng.integers(64, 161)],
                             p=[0.1, 0.35, 0.4, 0.15]))
        cols = int(self.pick([1, seg - 1, seg, seg + 1, self.rng.integers(1, 65), self.rng.integers(1, 3 * seg + 1)],
                             p=[0.06, 0.08, 0.08, 0.08, 0.35, 0.35]))
        return rows, min(cols, 600)

    def weights(self, rows: int, cols: int, wbits: int, mode: str) -> np.ndarray:
        lo, hi = int_range(wbits)
        if self.rng.random() < 0.2:
            w = self.rng.choice(np.array([lo, hi]), (rows, cols))              # only extremes
        else:
            w = self.rng.integers(lo, hi + 1, (rows, cols))
            w[w == 0] = 1
        w = w.astype(np.int64)
        if mode == "dense":
            return w
        if mode == "uniform":
            return np.where(self.rng.random((rows, cols)) < self.rng.random(), 0, w)
        if mode == "balanced":
            p = float(self.pick([0.25, 0.5, 0.75, 0.9, self.rng.random()]))
            return weight_codec.balanced_prune(w, p, self.lanes)
        if mode == "zero_rows":
            w = np.where(self.rng.random((rows, cols)) < self.rng.random() * 0.8, 0, w)
            w[self.rng.random(rows) < 0.5] = 0
            return w
        if mode == "single":
            out = np.zeros_like(w)
            out[self.rng.integers(rows), self.rng.integers(cols)] = w[0, 0]
            return out
        return np.zeros_like(w)

    def row_params(self, w: np.ndarray, x: np.ndarray, out_bits: int, saturate: bool):
        rows = w.shape[0]
        acc_scale = np.abs(w) @ np.minimum(np.abs(x), 128) + 1                   # bound on |acc| per row
        bias_hi = int_range(BIAS_BITS)[1] - int(acc_scale.max())                  # never wraps int32
        kind = self.rng.integers(3)
        if kind == 0:
            bias = np.zeros(rows, dtype=np.int64)
        elif kind == 1:
            bias = self.rng.integers(-1000, 1001, rows)
        else:
            bias = self.rng.integers(-bias_hi, bias_hi + 1, rows)
        mlo, mhi = int_range(MULT_BITS)
        if self.rng.random() < 0.2:
            mult = self.rng.choice(np.array([mlo, mhi, -1, 1]), rows)
        else:
            mult = self.rng.integers(mlo, mhi + 1, rows)
        mag = (acc_scale + np.abs(bias)) * np.maximum(np.abs(mult), 1)
        natural = np.ceil(np.log2(mag.astype(np.float64))).astype(np.int64) - (out_bits - 1)
        if saturate:
            shift = np.clip(natural - self.rng.integers(3, 12, rows), 0, 63)
        else:
            shift = np.clip(natural + self.rng.integers(-1, 3, rows), 0, 63)
        if self.rng.random() < 0.05:
            shift = self.rng.integers(48, 64, rows)                               # everything rounds to 0/-1
        return bias.astype(np.int64), mult.astype(np.int64), shift.astype(np.int64)

    def place_matrix(self, w: np.ndarray, wbits: int, out16: bool, bias, mult, shift, mode: str) -> Matrix | None:
        rows, cols = w.shape
        cm = weight_codec.compress(w, bias, mult, shift, lanes=self.lanes, weight_bits=wbits, out16=out16)
        c = self.config
        n_param, n_mask = HEADER_WORDS + rows, rows * segments(cols, self.lanes)
        n_value = value_words(cm.beats, wbits)
        if (self.next_param + n_param > c.param_depth or self.next_mask + n_mask > c.mask_depth
                or self.next_value + n_value + 4 > c.value_depth):
            return None
        m = Matrix(w, cm, self.next_param, self.next_mask, self.next_value, mode)
        m.param_words = weight_codec.param_words(cm, m.mask_base, m.value_base)
        m.value_words = list(cm.value_words)
        self.next_param += n_param
        self.next_mask += n_mask
        self.next_value += n_value + 4         # room for a length-fault's extra beats
        self.matrices.append(m)
        return m

    # -- instructions --
    def placed_matvec(self, accept=lambda instr: True) -> Instr:
        """A MATVEC whose matrix fits the memories and satisfies `accept` (20 tries)."""
        for _ in range(20):
            instr = self.matvec()
            if instr is not None and accept(instr):
                return instr
        raise RuntimeError("could not place a matrix")

    def matvec(self) -> Instr | None:
        for _ in range(8):
            rows, cols = self.shape()
            if rows + cols + self.lanes < self.depth:
                break
        else:
            return None
        wbits = int(self.pick([4, 8]))
        mode = self.pick(SPARSITY_MODES, p=[0.15, 0.3, 0.25, 0.12, 0.08, 0.1])
        w = self.weights(rows, cols, wbits, mode)
        if self.last_dst and self.last_dst[0] % self.lanes == 0 and self.rng.random() < 0.3:
            src = self.last_dst[0]                                     # chained: reads the last output
            cols = min(cols, self.depth - src)
            w = w[:, :cols]
        else:
            src = self.free_range(cols, [], align=self.lanes)
        out16 = bool(self.rng.random() < 0.4)
        saturate = bool(self.rng.random() < 0.3)
        bias, mult, shift = self.row_params(w, self.spad[src:src + cols], 16 if out16 else 8, saturate)
        m = self.place_matrix(w, wbits, out16, bias, mult, shift, mode)
        if m is None:
            return None
        dst = self.free_range(rows, [(src, cols)])
        self.canary(dst, rows)
        self.last_dst = (dst, rows)
        self.cycles += 8 * (rows * (segments(cols, self.lanes) + 2) + m.cm.beats + cols) + 200
        return Instr(encode(Opcode.MATVEC, dst=dst, a=src, b=m.mat), m)

    def length(self) -> int:
        return int(self.pick([0, 1, self.lanes - 1, self.lanes + 1, self.rng.integers(1, 65),
                              self.rng.integers(1, 300)], p=[0.05, 0.05, 0.1, 0.1, 0.4, 0.3]))

    def elementwise_ranges(self, n_sources: int) -> tuple[int, list[int], int]:
        n = self.length()
        sources = []
        for _ in range(n_sources):
            if self.last_dst and self.rng.random() < 0.3:
                a = self.last_dst[0]
                n = min(n, self.last_dst[1]) if self.rng.random() < 0.5 else n
                a = min(a, self.depth - n)
            elif sources and self.rng.random() < 0.15:
                a = sources[0]                                                   # b == a
            else:
                a = int(self.rng.integers(0, self.depth - n + 1))
            sources.append(a)
        if self.rng.random() < 0.35:
            dst = sources[int(self.rng.integers(n_sources))]                     # in place
            for i, s in enumerate(sources):                # the other source: equal or disjoint
                if s != dst and s < dst + n and dst < s + n:
                    sources[i] = self.free_range(n, [(dst, n)]) if self.rng.random() < 0.7 else dst
        else:
            dst = self.free_range(n, [(s, n) for s in sources])
            self.canary(dst, n)
        self.last_dst = (dst, n)
        self.cycles += 8 * n + 100
        return dst, sources, n

    def act(self) -> Instr:
        dst, (a,), n = self.elementwise_ranges(1)
        shift = int(self.pick([0, self.rng.integers(0, 8), self.rng.integers(0, 32)], p=[0.4, 0.4, 0.2]))
        return Instr(encode(Opcode.ACT, dst=dst, a=a, len=n, func=int(self.rng.integers(LUT_TABLES)), shift=shift))

    def ew(self) -> Instr:
        func = Ew(int(self.rng.integers(len(Ew))))
        dst, (a, b), n = self.elementwise_ranges(2)
        if func == Ew.MUL:
            shift = int(self.pick([0, self.rng.integers(4, 16), self.rng.integers(0, 32)]))
        else:
            shift = int(self.pick([0, 0, self.rng.integers(0, 4), self.rng.integers(0, 32)]))
        if func == Ew.MOV and (dst == 0 or dst >= n) and self.rng.random() < 0.7:
            b = 0                       # MOV ignores b's data, but b's range is still checked
        return Instr(encode(Opcode.EW, func=int(func), dst=dst, a=a, b=b, len=n, shift=shift,
                            sat16=int(self.rng.random() < 0.5)))

    def legal(self) -> Instr:
        op = self.pick(["matvec", "act", "ew", "nop"], p=[0.45, 0.2, 0.3, 0.05])
        instr = getattr(self, op)() if op != "nop" else Instr(encode(Opcode.NOP))
        return instr if instr is not None else Instr(encode(Opcode.NOP))

    # -- faults --
    def fault(self, kind: str) -> Instr:
        c, lanes = self.config, self.lanes
        if kind in ("truncated", "length", "header"):
            instr = self.placed_matvec(lambda i: kind != "truncated" or i.matrix.cm.beats > 0)
            m = instr.matrix
            h0, h1 = HEADER0.unpack(m.param_words[0]), HEADER1.unpack(m.param_words[1])
            if kind == "truncated":
                h1["beats"] = int(self.rng.integers(0, m.cm.beats))
                m.value_words = m.value_words[:value_words(h1["beats"], m.cm.weight_bits)]
                instr.note = f"header declares {h1['beats']} beats, the masks need {m.cm.beats}"
            elif kind == "length":
                h1["beats"] = m.cm.beats + int(self.rng.integers(1, 5))
                extra = value_words(h1["beats"], m.cm.weight_bits) - len(m.value_words)
                m.value_words = m.value_words + [0] * extra
                instr.note = f"header declares {h1['beats']} beats, the masks use {m.cm.beats}"
            else:
                what = self.pick(["magic", "lanes", "rows", "cols", "reserved"])
                if what == "magic":
                    h0["magic"] = (MATRIX_MAGIC + int(self.rng.integers(1, 256))) & 0xFF
                elif what == "lanes":
                    h0["lanes"] = int(self.pick([x for x in (4, 8, 16, 32, 0, 63) if x != lanes]))
                elif what in ("rows", "cols"):
                    h0[what] = 0
                instr.note = f"bad header: {what}"
            word0 = HEADER0.pack(**h0)
            if instr.note == "bad header: reserved":
                word0 |= 1 << int(self.rng.choice(np.nonzero([(HEADER0.reserved_mask >> i) & 1
                                                               for i in range(64)])[0]))
            m.param_words[0], m.param_words[1] = word0, HEADER1.pack(**h1)
            return instr
        if kind == "illegal":
            what = self.pick(["opcode", "unused", "ew_func", "act_table", "shift", "reserved"])
            if what == "opcode":
                word = encode(Opcode.NOP) | int(self.rng.integers(len(Opcode), 256))
            elif what == "unused":
                op, name = self.pick([(Opcode.NOP, "dst"), (Opcode.HALT, "a"), (Opcode.MATVEC, "len"),
                                      (Opcode.MATVEC, "shift"), (Opcode.ACT, "b"), (Opcode.ACT, "sat16")])
                f = INSTRUCTION[name]
                word = encode(op) | (int(self.rng.integers(1, f.mask + 1)) << f.offset)
            elif what == "ew_func":
                word = encode(Opcode.EW, len=1) | (int(self.rng.integers(len(Ew), 16)) << INSTRUCTION["func"].offset)
            elif what == "act_table":
                word = encode(Opcode.ACT, len=1, func=int(self.rng.integers(LUT_TABLES, 16)))
            elif what == "shift":
                op = self.pick([Opcode.ACT, Opcode.EW])
                word = encode(op, len=1, shift=int(self.rng.integers(32, 64)))
            else:
                bits = [i for i in range(128) if (INSTRUCTION.reserved_mask >> i) & 1]
                word = encode(Opcode.NOP) | (1 << int(self.pick(bits)))
            return Instr(word, note=f"illegal: {what}")
        if kind == "range":
            what = self.pick(["act", "ew_b", "ew_dst", "mat", "mv_dst", "mv_src", "mask", "value"])
            n = int(self.rng.integers(1, 64))
            beyond = int(self.rng.integers(self.depth - n + 1, min(self.depth + 100, 1 << 16)))
            if what == "act":
                return Instr(encode(Opcode.ACT, dst=0, a=beyond, len=n), note="ACT source past the scratchpad")
            if what == "ew_b":
                return Instr(encode(Opcode.EW, dst=0, a=0, b=beyond, len=n, func=int(Ew.ADD)),
                             note="EW b past the scratchpad")
            if what == "ew_dst":
                return Instr(encode(Opcode.EW, dst=beyond, a=0, b=0, len=n, func=int(Ew.SUB)),
                             note="EW dst past the scratchpad")
            if what == "mat":
                mat = int(self.rng.integers(c.param_depth - HEADER_WORDS + 1, 1 << 16))
                return Instr(encode(Opcode.MATVEC, dst=0, a=lanes, b=mat), note="matrix past the param memory")
            instr = self.placed_matvec()
            m, f = instr.matrix, instr.fields
            if what == "mv_dst":
                f["dst"] = int(self.rng.integers(self.depth - m.cm.rows + 1, 1 << 16))
                f["a"] = 0 if f["dst"] >= m.cm.cols else f["a"]
                instr.note = "MATVEC dst past the scratchpad"
            elif what == "mv_src":
                f["a"] = lanes * int(self.rng.integers((self.depth - m.cm.cols) // lanes + 1, (1 << 16) // lanes))
                instr.note = "MATVEC src past the scratchpad"
            else:
                h1 = HEADER1.unpack(m.param_words[1])
                if what == "mask":
                    h1["mask_base"] = int(self.rng.integers(c.mask_depth - m.cm.rows * m.cm.segments + 1, 1 << 16))
                else:
                    h1["value_base"] = int(self.rng.integers(
                        c.value_depth - value_words(m.cm.beats, m.cm.weight_bits) + 1, 1 << 16))
                    if m.cm.beats == 0:
                        h1["value_base"] = c.value_depth + 1 if c.value_depth < 1 << 16 else 0
                m.param_words[1] = HEADER1.pack(**h1)
                instr.note = f"{what} base past its memory"
            instr.word = encode(Opcode.MATVEC, dst=f["dst"], a=f["a"], b=f["b"])
            return instr
        if kind == "misaligned":
            instr = self.placed_matvec()
            m, f = instr.matrix, instr.fields
            src = f["a"] + int(self.rng.integers(1, lanes))
            if src + m.cm.cols > self.depth:
                src -= lanes                  # still in range: range checks come before alignment
            instr.word = encode(Opcode.MATVEC, dst=f["dst"], a=src, b=f["b"])
            instr.note = "MATVEC src not a multiple of the lanes"
            return instr
        if kind == "overlap":
            what = self.pick(["matvec", "act", "ew_a", "ew_b"])
            if what == "matvec":
                instr = self.placed_matvec(lambda i: i.matrix.cm.cols + i.matrix.cm.rows < self.depth)
                m, f = instr.matrix, instr.fields
                lo = max(0, f["a"] - m.cm.rows + 1)
                hi = min(f["a"] + m.cm.cols - 1, self.depth - m.cm.rows)
                dst = int(self.rng.integers(lo, hi + 1))
                instr.word = encode(Opcode.MATVEC, dst=dst, a=f["a"], b=f["b"])
                instr.note = "MATVEC dst meets src"
                return instr
            n = int(self.rng.integers(2, 200))
            a = int(self.rng.integers(n, self.depth - 2 * n))
            dst = a + int(self.pick([-1, 1])) * int(self.rng.integers(1, n))    # 0 < |dst - a| < n
            if what == "act":
                return Instr(encode(Opcode.ACT, dst=dst, a=a, len=n), note="ACT dst partly overlaps a")
            if what == "ew_a":
                return Instr(encode(Opcode.EW, dst=dst, a=a, b=dst, len=n), note="EW dst partly overlaps a")
            return Instr(encode(Opcode.EW, dst=dst, a=dst, b=a, len=n, func=int(Ew.MUL)),
                         note="EW dst partly overlaps b")
        raise ValueError(f"unknown fault kind {kind!r}")


def make_case(seed: int, index: int, config: CoreConfig, kind: str | None = None) -> Case:
    """Case `index` of the regression with seed `seed` (kind drawn from KINDS unless given)."""
    g = _Gen(seed, index, config)
    if kind is None:
        names = list(KINDS)
        weights = np.array([KINDS[k] for k in names], dtype=np.float64)
        kind = names[int(g.rng.choice(len(names), p=weights / weights.sum()))]
    prog_depth = config.prog_depth
    pc_start = 0 if g.rng.random() < 0.7 else int(g.rng.integers(1, 8))
    program: dict[int, Instr] = {}
    for pc in range(pc_start):                   # never executed: only PC_START.. runs
        program[pc] = Instr(int(g.rng.integers(0, 1 << 63)) << 64, note="before PC_START")
    body: list[Instr] = []
    intended = FAULT_ERROR.get(kind, ErrorCode.NONE)
    if kind == "runoff":
        n = prog_depth - pc_start
        body = [g.legal() if g.rng.random() < 0.15 else Instr(encode(Opcode.NOP)) for _ in range(n)]
    elif kind == "pc_range":
        pc_start = int(g.rng.integers(prog_depth, min(prog_depth + 100, 1 << 16)))
        program = {}
        body = []
    else:
        max_legal = min(10, prog_depth - pc_start - 3)
        n_before = int(g.rng.integers(0, max_legal + 1)) if kind == "program" else int(g.rng.integers(0, 4))
        body = [g.legal() for _ in range(n_before)]
        if kind == "program":
            if not body and g.rng.random() < 0.5:
                body.append(g.legal())
            body.append(Instr(encode(Opcode.HALT)))
        else:
            body.append(g.fault(kind))
            body += [g.legal() for _ in range(int(g.rng.integers(0, 3)))]   # must never run
            body.append(Instr(encode(Opcode.HALT)))
    for i, instr in enumerate(body):
        program[pc_start + i] = instr
    if kind == "runoff":
        g.cycles += 20 * len(body)
    return Case(seed, index, kind, config, g.spad, g.luts, g.matrices, program, pc_start, intended, g.cycles)


def write_ranges(case: Case, upto_pc: int | None = None) -> list[tuple[int, int, int]]:
    """(pc, start, length) of every destination the executed program writes (before `upto_pc`)."""
    out = []
    for pc, instr in case.executed():
        if upto_pc is not None and pc >= upto_pc:
            break
        f = instr.fields
        op = f["opcode"]
        if op == Opcode.MATVEC and instr.matrix is not None:
            out.append((pc, f["dst"], instr.matrix.cm.rows))
        elif op in (Opcode.ACT, Opcode.EW):
            out.append((pc, f["dst"], f["len"]))
    return out
