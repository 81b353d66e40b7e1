"""The NEP instruction set: opcodes, the 128-bit instruction word, error codes and each op's semantics.

This module is the single definition that the RTL decoder, the golden model, the assembler and the
host import. Programs have no branches: the host sequences them, so a program always terminates
(it ends at HALT, at an error, or when the PC runs off the program memory, which is an error).

Scratchpad entries are int16. Addresses and lengths count entries.

MATVEC  dst, src, mat          y[dst + r] = requant_r(bias_r + sum_c W[r, c] * sat8(spad[src + c]))
    `mat` is the param-memory word address of a compressed matrix (see `weight_format`), which
    names rows, cols, weight width, output width and where its masks and values live. Only the
    non-zero weights are issued to the lanes, so a MATVEC costs about ceil(nnz / lanes) cycles.
    src must be a multiple of the lane count (the scratchpad is banked by lane); dst and
    [src, src + cols) must not overlap [dst, dst + rows). src is field `a`, mat is field `b`;
    func, sat16, shift and len must be zero.
ACT     dst, a, len, table=func, shift
    spad[dst + i] = lut[table][sat8(round_shift(spad[a + i], shift)) + 128]
EW      dst, a, b, len, func, shift, sat16
    spad[dst + i] = sat(round_shift(f(spad[a + i], spad[b + i]), shift)), f by `Ew`,
    sat to int16 when sat16 else int8. MOV ignores b.
    For ACT and EW, a destination range must either equal a source range or not overlap it.
NOP     does nothing.
HALT    stops the program; the status register reads HALTED.

Any other opcode, a set reserved bit, or a non-zero field an op does not use is ILLEGAL_INSTRUCTION.

Checks, in this order; the first that fails stops the core with its ErrorCode and STATUS.pc = PC:
  0. PC >= program depth: ADDRESS_RANGE.   1. `decode_error` (ILLEGAL_INSTRUCTION).
  MATVEC: 2. mat + HEADER_WORDS > param depth: ADDRESS_RANGE. 3. header magic != MATRIX_MAGIC,
  lanes != core lanes, rows == 0, cols == 0 or a reserved header bit set: WEIGHT_HEADER.
  4. mat + HEADER_WORDS + rows > param depth, mask_base + rows*segments > mask depth,
  value_base + value_words(beats) > value depth, src + cols > spad depth or dst + rows > spad
  depth: ADDRESS_RANGE. 5. src % lanes: MISALIGNED. 6. [dst, dst+rows) meets [src, src+cols):
  OVERLAP. 7. while decoding: WEIGHT_TRUNCATED / WEIGHT_LENGTH (then the destination range holds
  unspecified values; all memory outside it is unchanged).
  Row-parameter words ignore their reserved bits; any shift 0..63 is exact.
  ACT/EW: 2. a + len, (EW:) b + len or dst + len > spad depth: ADDRESS_RANGE. 3. dst != a and
  the ranges meet, or (EW:) dst != b and the ranges meet: OVERLAP. len == 0 is a legal no-op.
Counters: MACs and skipped are exact for every completed MATVEC (nnz and rows*cols - nnz);
cycles and stalls depend on the implementation. RETIRED counts completed instructions and HALT.
"""

import enum

from .bitfields import Field, WordFormat

INSTRUCTION_BITS = 128
ADDRESS_BITS = 16
SHIFT_BITS = 6

INSTRUCTION = WordFormat("instruction", INSTRUCTION_BITS, [
    Field("opcode", 0, 8),
    Field("func", 8, 4),
    Field("sat16", 12, 1),
    Field("shift", 16, SHIFT_BITS),
    Field("dst", 32, ADDRESS_BITS),
    Field("a", 48, ADDRESS_BITS),
    Field("b", 64, ADDRESS_BITS),
    Field("len", 80, ADDRESS_BITS),
])


class Opcode(enum.IntEnum):
    NOP = 0
    HALT = 1
    MATVEC = 2
    ACT = 3
    EW = 4


class Ew(enum.IntEnum):
    """Elementwise functions of the EW opcode (its `func` field)."""
    ADD = 0
    SUB = 1
    MUL = 2
    MOV = 3


# Fields each opcode reads; every other field must be zero.
FIELDS_USED = {
    Opcode.NOP: (),
    Opcode.HALT: (),
    Opcode.MATVEC: ("dst", "a", "b"),
    Opcode.ACT: ("func", "shift", "dst", "a", "len"),
    Opcode.EW: ("func", "sat16", "shift", "dst", "a", "b", "len"),
}

# Largest legal shift per opcode (EW/ACT shift a value of at most 33 bits).
MAX_SHIFT = {Opcode.ACT: 31, Opcode.EW: 31}


class ErrorCode(enum.IntEnum):
    """Why the core stopped; read from the STATUS register. NONE means no error."""
    NONE = 0
    ILLEGAL_INSTRUCTION = 1   # unknown opcode/func, reserved bit set, unused field non-zero, shift too big
    ADDRESS_RANGE = 2         # an operand range leaves its memory, or the PC ran off program memory
    MISALIGNED = 3            # MATVEC src is not a multiple of the lane count
    OVERLAP = 4               # destination partially overlaps a source
    WEIGHT_HEADER = 5         # bad matrix header: magic, lane count, zero size, reserved bits
    WEIGHT_TRUNCATED = 6      # the masks ask for more value beats than the header declares
    WEIGHT_LENGTH = 7         # the masks asked for fewer value beats than the header declares


def encode(opcode: Opcode, **fields: int) -> int:
    """The 128-bit word of one instruction. Raises ValueError for a field out of range."""
    return INSTRUCTION.pack(opcode=int(opcode), **fields)


def decode_error(word: int) -> ErrorCode:
    """ErrorCode.NONE if `word` is a well-formed instruction, else ILLEGAL_INSTRUCTION.

    The RTL decoder applies the same rule; this is the reference the golden model uses.
    """
    f = INSTRUCTION.unpack(word)
    if INSTRUCTION.reserved_bits(word):
        return ErrorCode.ILLEGAL_INSTRUCTION
    try:
        op = Opcode(f["opcode"])
    except ValueError:
        return ErrorCode.ILLEGAL_INSTRUCTION
    for name, value in f.items():
        if name != "opcode" and name not in FIELDS_USED[op] and value:
            return ErrorCode.ILLEGAL_INSTRUCTION
    if op == Opcode.EW and f["func"] not in set(Ew):
        return ErrorCode.ILLEGAL_INSTRUCTION
    if op in MAX_SHIFT and f["shift"] > MAX_SHIFT[op]:
        return ErrorCode.ILLEGAL_INSTRUCTION
    if op == Opcode.ACT and f["func"] >= LUT_TABLES:
        return ErrorCode.ILLEGAL_INSTRUCTION
    return ErrorCode.NONE


# Number of activation lookup tables (ACT's `func` selects one); see number_formats.
LUT_TABLES = 4
