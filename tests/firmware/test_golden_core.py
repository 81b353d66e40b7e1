"""golden_core through its bus: registers, memories, each op against `ops`, every error code in the
ISA's precedence order, memory outside the destination unchanged, counters."""

import time

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from numpy.testing import assert_array_equal

from edgeasr.firmware import loader, ops, weight_codec as wc
from edgeasr.firmware.assembler import Program
from edgeasr.firmware.golden_core import GoldenCore
from edgeasr.firmware.isa import ErrorCode, Ew, Opcode, encode
from edgeasr.firmware.memory_map import (CONFIG, CORE_ID, FORMAT_VERSION, CoreConfig, Csr, Ctrl, Region, State,
                                         address)
from edgeasr.firmware.number_formats import default_luts, int_range
from edgeasr.firmware.weight_format import HEADER0, HEADER1, PARAM_WORD_BITS

SMALL = CoreConfig(lanes=4, spad_depth=512, prog_depth=16, param_depth=64, mask_depth=64, value_depth=64)


class Bench:
    """Owns a GoldenCore and talks to it only through the bus."""

    def __init__(self, config: CoreConfig = SMALL, seed: int = 0):
        self.config = config
        self.core = GoldenCore(config)
        self.rng = np.random.default_rng(seed)

    def load(self, writes):
        for addr, data in writes:
            self.core.write(addr, data)

    def fill_spad(self) -> np.ndarray:
        """Random canary contents over the whole scratchpad; returns them."""
        values = self.rng.integers(-2**15, 2**15, self.config.spad_depth)
        self.load(loader.spad_writes(0, values))
        return values

    def spad(self, base: int = 0, n: int | None = None) -> np.ndarray:
        return loader.read_spad(self.core.read, base, self.config.spad_depth - base if n is None else n)

    def run(self, words, pc_start: int = 0) -> dict:
        self.load(loader.program_writes(words))
        self.load([loader.csr_write(Csr.PC_START, pc_start), loader.csr_write(Csr.CTRL, Ctrl.START)])
        return loader.read_status(self.core.read)

    def counters(self) -> dict:
        return loader.read_counters(self.core.read)

    def matrix(self, rows, cols, weight_bits=8, sparsity=0.5, out16=False, mat=0, mask_base=0, value_base=0):
        """A random matrix with no zeros but those `sparsity` asks for, loaded at mat/mask_base/value_base."""
        lo, hi = int_range(weight_bits)
        w = self.rng.integers(1, hi + 1, (rows, cols)) * self.rng.choice([-1, 1], (rows, cols))
        w[self.rng.random((rows, cols)) < sparsity] = 0
        bias = self.rng.integers(-5000, 5000, rows)
        mult = self.rng.integers(-2**15, 2**15, rows)
        shift = self.rng.integers(8, 24, rows)
        cm = wc.compress(w, bias, mult, shift, lanes=self.config.lanes, weight_bits=weight_bits, out16=out16)
        self.load(loader.matrix_writes(cm, mat, mask_base, value_base))
        return w, cm

    def param(self, index: int, word: int):
        self.load(loader.region_writes(Region.PARAM, index, [word], PARAM_WORD_BITS))

    def param_word(self, index: int) -> int:
        return loader.region_read(self.core.read, Region.PARAM, index, 1, PARAM_WORD_BITS)[0]


def halted(status, pc):
    return status == dict(state=State.HALTED, refused=0, error=ErrorCode.NONE, pc=pc)


# --- bus ------------------------------------------------------------------------------------------

def test_registers_after_reset():
    b = Bench()
    read = lambda csr: loader.read_csr(b.core.read, csr)
    assert read(Csr.ID) == CORE_ID
    assert CONFIG.unpack(read(Csr.CONFIG)) == dict(lanes=4, mask_bits=16, version=FORMAT_VERSION)
    assert [read(c) for c in (Csr.SPAD_DEPTH, Csr.PROG_DEPTH, Csr.PARAM_DEPTH, Csr.MASK_DEPTH, Csr.VALUE_DEPTH)] \
        == [512, 16, 64, 64, 64]
    assert loader.read_status(b.core.read) == dict(state=State.IDLE, refused=0, error=ErrorCode.NONE, pc=0)
    assert b.counters() == dict(cycles=0, macs=0, skipped=0, stalls=0, retired=0)
    b.load([loader.csr_write(Csr.PC_START, 7)])
    assert read(Csr.PC_START) == 7
    for table, want in enumerate(default_luts()):
        assert_array_equal(loader.read_lut(b.core.read, table), want)


def test_wide_words_go_in_chunks_low_first():
    b = Bench()
    word = 0x0123456789ABCDEF
    b.param(5, word)
    assert b.core.read(address(Region.PARAM, 10)) == 0x89ABCDEF
    assert b.core.read(address(Region.PARAM, 11)) == 0x01234567
    assert b.param_word(5) == word
    program = Program().ew(Ew.SUB, 1, 2, 3, 4, 5, True).words()
    b.load(loader.program_writes(program, base=3))
    assert loader.read_program(b.core.read, 3, 1) == program


def test_entries_write_low_bits_and_read_sign_extended():
    b = Bench()
    b.core.write(address(Region.SPAD, 9), 0xFFFF)
    b.core.write(address(Region.SPAD, 10), 0x12345)
    assert b.core.read(address(Region.SPAD, 9)) == 0xFFFFFFFF
    assert_array_equal(b.spad(9, 2), [-1, 0x2345])
    b.load(loader.lut_writes(2, np.arange(256) - 128))
    assert b.core.read(address(Region.LUT, 2 * 256)) == 0xFFFFFF80
    assert_array_equal(loader.read_lut(b.core.read, 2), np.arange(256) - 128)


def test_out_of_range_bus_access_is_ignored():
    b = Bench()
    before = b.fill_spad()
    b.core.write(address(Region.SPAD, 512), 5)
    b.core.write(address(Region.PARAM, 64 * 2), 5)
    assert b.core.read(address(Region.SPAD, 512)) == 0
    assert b.core.read(address(Region.PARAM, 64 * 2)) == 0
    assert_array_equal(b.spad(), before)
    with pytest.raises(ValueError, match=r"^bus address 0x1000000 does not fit 24 bits$"):
        b.core.write(1 << 24, 0)


# --- ops through the bus --------------------------------------------------------------------------

@pytest.mark.parametrize("lanes", [4, 16, 32])
@pytest.mark.parametrize("weight_bits", [4, 8])
@pytest.mark.parametrize("out16", [False, True])
@pytest.mark.parametrize("sparsity", [0.0, 0.6, 1.0])
def test_matvec_matches_ops(lanes, weight_bits, out16, sparsity):
    b = Bench(CoreConfig(lanes=lanes, spad_depth=2048, prog_depth=8, param_depth=256, mask_depth=256,
                         value_depth=4096), seed=lanes * weight_bits)
    rows, cols, src, dst, mat = 37, 150, 4 * lanes, 600, 9
    w, cm = b.matrix(rows, cols, weight_bits, sparsity, out16, mat=mat, mask_base=3, value_base=5)
    before = b.fill_spad()
    status = b.run(Program().matvec(dst, src, mat).halt().words())
    assert halted(status, 1)
    want = before.copy()
    want[dst:dst + rows] = ops.matvec(w, before[src:src + cols], cm.bias, cm.mult, cm.shift, 16 if out16 else 8)
    assert_array_equal(b.spad(), want)                 # the destination, and nothing else, changed
    nnz = int(np.count_nonzero(w))
    counters = b.counters()
    assert (counters["macs"], counters["skipped"], counters["retired"]) == (nnz, rows * cols - nnz, 2)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), lanes=st.sampled_from([4, 8, 16, 32]), rows=st.integers(1, 40),
       cols=st.integers(1, 300), weight_bits=st.sampled_from([4, 8]), sparsity=st.floats(0, 1),
       out16=st.booleans(), data=st.data())
def test_matvec_random_placement(seed, lanes, rows, cols, weight_bits, sparsity, out16, data):
    b = Bench(CoreConfig(lanes=lanes, spad_depth=1024, prog_depth=4, param_depth=128, mask_depth=512,
                         value_depth=4096), seed=seed)
    mat, mask_base, value_base = data.draw(st.integers(0, 128 - 2 - rows)), data.draw(st.integers(0, 64)), \
        data.draw(st.integers(0, 64))
    src = lanes * data.draw(st.integers(0, (1024 - cols) // lanes))
    dst = data.draw(st.sampled_from([x for x in (0, src + cols, 1024 - rows)
                                     if x + rows <= 1024 and not src - rows < x < src + cols]))
    w, cm = b.matrix(rows, cols, weight_bits, sparsity, out16, mat=mat, mask_base=mask_base, value_base=value_base)
    before = b.fill_spad()
    assert halted(b.run(Program().matvec(dst, src, mat).halt().words()), 1)
    want = before.copy()
    want[dst:dst + rows] = ops.matvec(w, before[src:src + cols], cm.bias, cm.mult, cm.shift, 16 if out16 else 8)
    assert_array_equal(b.spad(), want)


def test_matvec_counts_set_mask_bits_over_zero_values_and_ignores_padding():
    b = Bench()
    w, cm = b.matrix(3, 10, sparsity=0.0)
    w[0, 0] = 0
    words = list(cm.value_words)
    words[0] &= ~0xFF                                  # row 0's first value becomes 0 under its mask bit
    b.load(loader.region_writes(Region.VALUE, 0, words, 32))
    before = b.fill_spad()
    assert halted(b.run(Program().matvec(100, 0, 0).halt().words()), 1)
    assert_array_equal(b.spad(100, 3), ops.matvec(w, before[:10], cm.bias, cm.mult, cm.shift, 8))
    assert b.counters()["macs"] == 30


def test_act_every_table():
    b = Bench()
    before = b.fill_spad()
    p = Program()
    for table in range(4):
        p.act(200 + 10 * table, 8, 10, table, shift=table * 3)
    p.act(300, 300, 10, 1)                              # in place
    assert halted(b.run(p.halt().words()), 5)
    want = before.copy()
    for table in range(4):
        want[200 + 10 * table:210 + 10 * table] = ops.act(before[8:18], default_luts()[table], table * 3)
    want[300:310] = ops.act(before[300:310], default_luts()[1], 0)
    assert_array_equal(b.spad(), want)


@pytest.mark.parametrize("func", list(Ew))
@pytest.mark.parametrize("shift, sat16", [(0, False), (5, True), (31, True)])
def test_ew_every_func(func, shift, sat16):
    b = Bench(seed=int(func))
    before = b.fill_spad()
    p = Program().ew(func, 100, 0, 50, 20, shift, sat16).ew(func, 50, 50, 0, 20, shift, sat16)
    assert halted(b.run(p.halt().words()), 2)
    want = before.copy()
    want[100:120] = ops.ew(func, before[0:20], before[50:70], shift, sat16)
    want[50:70] = ops.ew(func, before[50:70], before[0:20], shift, sat16)
    assert_array_equal(b.spad(), want)


# --- errors, in precedence order ------------------------------------------------------------------

def _header(b: Bench, mat: int = 0, **changes) -> None:
    """Rewrite fields of the matrix header at `mat`."""
    h0, h1 = HEADER0.unpack(b.param_word(mat)), HEADER1.unpack(b.param_word(mat + 1))
    h0.update({k: v for k, v in changes.items() if k in HEADER0.fields})
    h1.update({k: v for k, v in changes.items() if k in HEADER1.fields})
    b.param(mat, HEADER0.pack(**h0))
    b.param(mat + 1, HEADER1.pack(**h1))


def _reserved(b: Bench, mat: int = 0):
    b.param(mat, b.param_word(mat) | 1 << 48)


# Each case: (setup(bench), program words, error, failing pc). The matrix at mat=0 is 3 x 10 with no
# zeros: lanes 0, 1 own 3 columns, lanes 2, 3 own 2, so it takes 3 beats per row, 9 value words of int8.
MATVEC = lambda dst, src, mat: encode(Opcode.MATVEC, dst=dst, a=src, b=mat)
ACT = lambda dst, a, n, table=0, shift=0: encode(Opcode.ACT, dst=dst, a=a, len=n, func=table, shift=shift)
EW = lambda func, dst, a, b, n, shift=0: encode(Opcode.EW, func=func, dst=dst, a=a, b=b, len=n, shift=shift)
NOP, HALT = encode(Opcode.NOP), encode(Opcode.HALT)
CASES = {
    "pc runs off program": (None, [NOP] * 16, ErrorCode.ADDRESS_RANGE, 16),
    "illegal opcode": (None, [NOP, 7], ErrorCode.ILLEGAL_INSTRUCTION, 1),
    "reserved bit": (None, [NOP | 1 << 13], ErrorCode.ILLEGAL_INSTRUCTION, 0),
    "unused field": (None, [encode(Opcode.NOP, dst=1)], ErrorCode.ILLEGAL_INSTRUCTION, 0),
    "matvec len": (None, [encode(Opcode.MATVEC, len=1)], ErrorCode.ILLEGAL_INSTRUCTION, 0),
    "ew func": (None, [encode(Opcode.EW, func=4)], ErrorCode.ILLEGAL_INSTRUCTION, 0),
    "ew shift": (None, [EW(0, 0, 0, 0, 1, shift=32)], ErrorCode.ILLEGAL_INSTRUCTION, 0),
    "act table": (None, [ACT(0, 0, 1, table=4)], ErrorCode.ILLEGAL_INSTRUCTION, 0),
    # MATVEC 2: header out of param memory beats everything after it (src misaligned too)
    "mat header out of range": (None, [MATVEC(100, 1, 63)], ErrorCode.ADDRESS_RANGE, 0),
    # MATVEC 3 before 4
    "bad magic": (lambda b: _header(b, magic=0x12, mask_base=60), [MATVEC(100, 0, 0)], ErrorCode.WEIGHT_HEADER, 0),
    "lane mismatch": (lambda b: _header(b, lanes=8), [MATVEC(100, 0, 0)], ErrorCode.WEIGHT_HEADER, 0),
    "zero rows": (lambda b: _header(b, rows=0), [MATVEC(100, 0, 0)], ErrorCode.WEIGHT_HEADER, 0),
    "zero cols": (lambda b: _header(b, cols=0), [MATVEC(100, 0, 0)], ErrorCode.WEIGHT_HEADER, 0),
    "reserved header bit": (_reserved, [MATVEC(100, 508, 0)], ErrorCode.WEIGHT_HEADER, 0),
    # MATVEC 4 before 5 (src misaligned in all of these)
    "row params out of range": (lambda b: _header(b, rows=63), [MATVEC(100, 1, 0)], ErrorCode.ADDRESS_RANGE, 0),
    "masks out of range": (lambda b: _header(b, mask_base=62), [MATVEC(100, 1, 0)], ErrorCode.ADDRESS_RANGE, 0),
    "values out of range": (lambda b: _header(b, value_base=56), [MATVEC(100, 1, 0)], ErrorCode.ADDRESS_RANGE, 0),
    "src out of range": (None, [MATVEC(100, 503, 0)], ErrorCode.ADDRESS_RANGE, 0),
    "dst out of range": (None, [MATVEC(510, 1, 0)], ErrorCode.ADDRESS_RANGE, 0),
    # MATVEC 5 before 6, then 6
    "misaligned": (None, [MATVEC(2, 1, 0)], ErrorCode.MISALIGNED, 0),
    "overlap": (None, [MATVEC(9, 0, 0)], ErrorCode.OVERLAP, 0),
    "overlap below": (None, [MATVEC(6, 8, 0)], ErrorCode.OVERLAP, 0),
    # MATVEC 7
    "truncated": (lambda b: _header(b, beats=8), [NOP, MATVEC(100, 0, 0)], ErrorCode.WEIGHT_TRUNCATED, 1),
    "length": (lambda b: _header(b, beats=10), [MATVEC(100, 0, 0)], ErrorCode.WEIGHT_LENGTH, 0),
    # ACT/EW 2 before 3
    "act source out of range": (None, [ACT(0, 500, 13)], ErrorCode.ADDRESS_RANGE, 0),
    "act dst out of range": (None, [ACT(505, 500, 8)], ErrorCode.ADDRESS_RANGE, 0),
    "len 0 still checks ranges": (None, [ACT(0, 513, 0)], ErrorCode.ADDRESS_RANGE, 0),
    "ew b out of range": (None, [EW(Ew.ADD, 0, 1, 510, 4)], ErrorCode.ADDRESS_RANGE, 0),
    "act overlap": (None, [ACT(4, 0, 8)], ErrorCode.OVERLAP, 0),
    "ew overlap a": (None, [EW(Ew.ADD, 0, 4, 100, 8)], ErrorCode.OVERLAP, 0),
    "ew overlap b": (None, [EW(Ew.ADD, 100, 100, 104, 8)], ErrorCode.OVERLAP, 0),
    "ew mov still checks b": (None, [EW(Ew.MOV, 0, 100, 4, 8)], ErrorCode.OVERLAP, 0),
}


@pytest.mark.parametrize("name", list(CASES))
def test_errors(name):
    setup, words, error, pc = CASES[name]
    b = Bench()
    _, cm = b.matrix(3, 10, weight_bits=8, sparsity=0.0)
    assert cm.beats == 9
    if setup:
        setup(b)
    before = b.fill_spad()
    status = b.run(words)
    assert status == dict(state=State.ERROR, refused=0, error=error, pc=pc)
    assert_array_equal(b.spad(), before)
    counters = b.counters()
    assert (counters["retired"], counters["macs"], counters["skipped"]) == (pc, 0, 0)
    fault = loader.fault(status)
    assert (fault.error_code, fault.pc) == (error, pc)


def test_pc_start_beyond_program():
    b = Bench()
    assert b.run([HALT], pc_start=20) == dict(state=State.ERROR, refused=0, error=ErrorCode.ADDRESS_RANGE, pc=20)


def test_legal_edges():
    b = Bench()
    b.matrix(3, 10)
    before = b.fill_spad()
    words = [MATVEC(10, 0, 0),                  # dst right after the source
             MATVEC(509, 496, 0),               # both ranges end at the last entry
             ACT(0, 512, 0),                    # len 0 at the very end: legal no-op
             EW(Ew.ADD, 200, 200, 200, 8),      # dst equal to both sources
             HALT]
    assert halted(b.run(words), 4)
    assert b.counters()["retired"] == 5
    assert not np.array_equal(b.spad(), before)


# --- counters -------------------------------------------------------------------------------------

def test_counters_accumulate_and_clear():
    b = Bench()
    w, _ = b.matrix(3, 10, sparsity=0.5)
    b.fill_spad()
    words = Program().nop().matvec(100, 0, 0).ew(Ew.ADD, 200, 0, 8, 9).halt().words()
    b.run(words)
    first = b.counters()
    nnz = int(np.count_nonzero(w))
    assert (first["macs"], first["skipped"], first["retired"]) == (nnz, 30 - nnz, 4)
    assert first["cycles"] >= first["stalls"] >= 4
    b.run(words)
    assert b.counters() == {k: 2 * v for k, v in first.items()}
    b.load([loader.csr_write(Csr.CTRL, Ctrl.CLEAR_COUNTERS)])
    assert b.counters() == dict(cycles=0, macs=0, skipped=0, stalls=0, retired=0)


def test_matvec_256x512_is_fast():
    b = Bench(CoreConfig(), seed=3)
    rng = np.random.default_rng(3)
    w = wc.balanced_prune(rng.integers(-8, 8, (256, 512)), 0.5, 16)
    z = np.zeros(256, dtype=np.int64)
    b.load(loader.matrix_writes(wc.compress(w, z, z + 1, z, lanes=16, weight_bits=4), 0, 0, 0))
    b.load(loader.program_writes(Program().matvec(1024, 0, 0).halt().words()))
    best = np.inf
    for _ in range(3):
        start = time.perf_counter()
        b.load([loader.csr_write(Csr.CTRL, Ctrl.START)])
        best = min(best, time.perf_counter() - start)
    assert best < 0.1, best
    assert loader.read_status(b.core.read)["state"] == State.HALTED
