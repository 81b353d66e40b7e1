"""Turning programs, matrices, tables and scratchpad data into bus traffic, and reading it back.

Shared by every device backend (golden core, RTL simulation, FPGA over serial): a writer returns a
list of (bus address, 32-bit data) pairs; a reader takes a `read(addr) -> int` callable. Wide memory
words go out as their 32-bit chunks, chunk 0 (bits 31..0) first; scratchpad and LUT entries take one
bus word each, written from the low bits and sign-extended from them when read.
"""

from typing import Callable

import numpy as np

from .errors import DeviceFault
from .isa import INSTRUCTION_BITS, LUT_TABLES, ErrorCode
from .memory_map import BUS_DATA_BITS, COUNTERS, STATUS, Csr, Region, State, address, chunks
from .number_formats import ACT_BITS, LUT_ENTRIES, SPAD_BITS, int_range, wrap
from .weight_codec import CompressedMatrix, param_words
from .weight_format import PARAM_WORD_BITS, mask_word_bits, value_word_bits

Write = tuple[int, int]
Read = Callable[[int], int]
DATA_MASK = (1 << BUS_DATA_BITS) - 1


def region_writes(region: Region, base_word: int, words, word_bits: int) -> list[Write]:
    """Bus writes putting `words` (unsigned ints of `word_bits`) at word `base_word` of `region`."""
    n = chunks(word_bits)
    out = []
    for i, word in enumerate(words):
        word = int(word)
        if not 0 <= word < 1 << word_bits:
            raise ValueError(f"{region.name} word {base_word + i} = {word:#x} does not fit {word_bits} bits")
        first = (base_word + i) * n
        out.extend((address(region, first + c), (word >> (BUS_DATA_BITS * c)) & DATA_MASK) for c in range(n))
    return out


def region_read(read: Read, region: Region, base_word: int, count: int, word_bits: int) -> list[int]:
    """`count` words of `word_bits` from word `base_word` of `region`, assembled from their chunks."""
    n = chunks(word_bits)
    words = []
    for i in range(count):
        first = (base_word + i) * n
        word = sum((read(address(region, first + c)) & DATA_MASK) << (BUS_DATA_BITS * c) for c in range(n))
        words.append(word & ((1 << word_bits) - 1))
    return words


def matrix_writes(cm: CompressedMatrix, mat: int, mask_base: int, value_base: int) -> list[Write]:
    """The param words at `mat`, the mask words at `mask_base` and the value words at `value_base`."""
    return (region_writes(Region.PARAM, mat, param_words(cm, mask_base, value_base), PARAM_WORD_BITS)
            + region_writes(Region.MASK, mask_base, cm.mask_words, mask_word_bits(cm.lanes))
            + region_writes(Region.VALUE, value_base, cm.value_words, value_word_bits(cm.lanes)))


def program_writes(words, base: int = 0) -> list[Write]:
    """Instruction words from program-memory address `base`."""
    return region_writes(Region.PROGRAM, base, words, INSTRUCTION_BITS)


def _entry_writes(region: Region, first: int, values, bits: int) -> list[Write]:
    values = np.asarray(values)
    if values.ndim != 1 or values.dtype.kind not in "iu":
        raise ValueError(f"{region.name} values must be a 1-D integer array, got dtype {values.dtype} shape {values.shape}")
    lo, hi = int_range(bits)
    if values.size and (values.min() < lo or values.max() > hi):
        raise ValueError(f"{region.name} values must be in [{lo}, {hi}], found [{values.min()}, {values.max()}]")
    mask = (1 << bits) - 1
    return [(address(region, first + i), int(v) & mask) for i, v in enumerate(values)]


def spad_writes(base: int, values) -> list[Write]:
    """int16 scratchpad entries from entry `base`, one bus word each."""
    return _entry_writes(Region.SPAD, base, values, SPAD_BITS)


def lut_writes(table: int, values) -> list[Write]:
    """A whole int8 activation table (LUT_ENTRIES values, index = input + 128)."""
    if not 0 <= table < LUT_TABLES:
        raise ValueError(f"table must be in [0, {LUT_TABLES}), got {table}")
    if np.shape(values) != (LUT_ENTRIES,):
        raise ValueError(f"a table has {LUT_ENTRIES} entries, got shape {np.shape(values)}")
    return _entry_writes(Region.LUT, table * LUT_ENTRIES, values, ACT_BITS)


def _entries(read: Read, region: Region, first: int, n: int, bits: int) -> np.ndarray:
    raw = np.array([read(address(region, first + i)) for i in range(n)], dtype=np.int64)
    return wrap(raw & ((1 << bits) - 1), bits)


def read_spad(read: Read, base: int, n: int) -> np.ndarray:
    """`n` scratchpad entries from `base` as int64 (sign-extended from 16 bits)."""
    return _entries(read, Region.SPAD, base, n, SPAD_BITS)


def read_lut(read: Read, table: int) -> np.ndarray:
    """The LUT_ENTRIES int8 entries of one activation table."""
    return _entries(read, Region.LUT, table * LUT_ENTRIES, LUT_ENTRIES, ACT_BITS)


def read_program(read: Read, base: int, n: int) -> list[int]:
    return region_read(read, Region.PROGRAM, base, n, INSTRUCTION_BITS)


def csr_write(csr: Csr, value: int) -> Write:
    return address(Region.CSR, csr), int(value) & DATA_MASK


def read_csr(read: Read, csr: Csr) -> int:
    return read(address(Region.CSR, csr)) & DATA_MASK


def read_counters(read: Read) -> dict[str, int]:
    """Each of memory_map.COUNTERS as a 64-bit count (read LO then HI)."""
    out = {}
    for name in COUNTERS:
        lo = read_csr(read, Csr[f"{name.upper()}_LO"])
        hi = read_csr(read, Csr[f"{name.upper()}_HI"])
        out[name] = lo | hi << BUS_DATA_BITS
    return out


def read_status(read: Read) -> dict[str, int]:
    """The STATUS fields; `state` as memory_map.State and `error` as isa.ErrorCode when known."""
    status = STATUS.unpack(read_csr(read, Csr.STATUS))
    status["state"] = State(status["state"])
    if status["error"] in set(ErrorCode):
        status["error"] = ErrorCode(status["error"])
    return status


def fault(status: dict[str, int]) -> DeviceFault | None:
    """The DeviceFault a status describes (state ERROR), or None."""
    if status["state"] != State.ERROR:
        return None
    code = status["error"]
    if code not in set(ErrorCode):
        return DeviceFault(ErrorCode.NONE, status["pc"], f"unknown error code {code}")
    return DeviceFault(ErrorCode(code), status["pc"])
