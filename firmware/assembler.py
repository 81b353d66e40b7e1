"""Building NEP programs, and a one-line text form of each instruction that round-trips.

Syntax, one instruction per line (operands as key=value, decimal or 0x hex, in any order):
    NOP
    HALT
    MATVEC dst=64 src=0 mat=2                 (src is field `a`, mat is field `b`)
    ACT dst=0 a=0 len=8 table=1 shift=0       (table is field `func`)
    EW.MUL dst=10 a=0 b=20 len=8 shift=7 sat16=0
    ILLEGAL 0x0000...                         (any word `isa.decode_error` rejects, kept verbatim)
`shift` and `sat16` may be omitted (0). Text after '#' or ';' is a comment. Every word the builder
or `assemble` produces passes `isa.decode_error`, except ILLEGAL lines, which exist so that
`assemble(disassemble(w)) == [w]` for every 128-bit word w.
"""

import re

from .errors import ProgramError
from .isa import INSTRUCTION, INSTRUCTION_BITS, Ew, ErrorCode, Opcode, decode_error, encode

# Operand name in the text -> instruction field, per opcode (EW's func comes from the mnemonic).
OPERANDS = {
    Opcode.NOP: {},
    Opcode.HALT: {},
    Opcode.MATVEC: {"dst": "dst", "src": "a", "mat": "b"},
    Opcode.ACT: {"dst": "dst", "a": "a", "len": "len", "table": "func", "shift": "shift"},
    Opcode.EW: {"dst": "dst", "a": "a", "b": "b", "len": "len", "shift": "shift", "sat16": "sat16"},
}
OPTIONAL = ("shift", "sat16")
_HEX_DIGITS = INSTRUCTION_BITS // 4


def _checked(opcode: Opcode, fields: dict[str, int]) -> int:
    try:
        word = encode(opcode, **fields)
    except ValueError as e:
        raise ProgramError(str(e)) from None
    if decode_error(word) != ErrorCode.NONE:
        shown = " ".join(f"{k}={fields[k]}" for k in INSTRUCTION.fields if k in fields)
        raise ProgramError(f"{opcode.name} {shown} is not a legal instruction (see isa.decode_error)")
    return word


class Program:
    """An instruction list built op by op; every method checks its operands and returns self."""

    def __init__(self):
        self._words: list[int] = []

    def __len__(self) -> int:
        return len(self._words)

    def _emit(self, opcode: Opcode, **fields: int) -> "Program":
        self._words.append(_checked(opcode, fields))
        return self

    def matvec(self, dst: int, src: int, mat: int) -> "Program":
        return self._emit(Opcode.MATVEC, dst=dst, a=src, b=mat)

    def act(self, dst: int, a: int, length: int, table: int, shift: int = 0) -> "Program":
        return self._emit(Opcode.ACT, dst=dst, a=a, len=length, func=int(table), shift=shift)

    def ew(self, func: Ew, dst: int, a: int, b: int, length: int, shift: int = 0, sat16: bool = False) -> "Program":
        return self._emit(Opcode.EW, func=int(Ew(func)), dst=dst, a=a, b=b, len=length, shift=shift,
                          sat16=int(bool(sat16)))

    def nop(self) -> "Program":
        return self._emit(Opcode.NOP)

    def halt(self) -> "Program":
        return self._emit(Opcode.HALT)

    def words(self) -> list[int]:
        return list(self._words)


def disassemble(word: int) -> str:
    """One line of `assemble` syntax for a 128-bit instruction word."""
    if not 0 <= word < 1 << INSTRUCTION_BITS:
        raise ProgramError(f"instruction word {word:#x} does not fit {INSTRUCTION_BITS} bits")
    if decode_error(word) != ErrorCode.NONE:
        return f"ILLEGAL 0x{word:0{_HEX_DIGITS}x}"
    f = INSTRUCTION.unpack(word)
    op = Opcode(f["opcode"])
    name = f"EW.{Ew(f['func']).name}" if op == Opcode.EW else op.name
    return " ".join([name] + [f"{text}={f[field]}" for text, field in OPERANDS[op].items()])


def _mnemonics() -> dict[str, tuple[Opcode, dict[str, int]]]:
    table = {op.name: (op, {}) for op in Opcode if op != Opcode.EW}
    table.update({f"EW.{e.name}": (Opcode.EW, {"func": int(e)}) for e in Ew})
    return table


_MNEMONICS = _mnemonics()
_OPERAND = re.compile(r"^([a-z0-9]+)=(0[xX][0-9a-fA-F]+|[0-9]+)$")


def _assemble_line(line: str) -> int:
    mnemonic, *operands = line.split()
    if mnemonic.upper() == "ILLEGAL":
        if len(operands) != 1 or not re.fullmatch(r"0[xX][0-9a-fA-F]+", operands[0]):
            raise ProgramError(f"ILLEGAL takes one hex word, got {' '.join(operands)!r}")
        word = int(operands[0], 16)
        if word >> INSTRUCTION_BITS:
            raise ProgramError(f"ILLEGAL word {operands[0]} does not fit {INSTRUCTION_BITS} bits")
        return word
    if mnemonic.upper() not in _MNEMONICS:
        raise ProgramError(f"unknown mnemonic {mnemonic!r}; expected one of {', '.join(_MNEMONICS)} or ILLEGAL")
    opcode, fields = _MNEMONICS[mnemonic.upper()]
    fields = dict(fields)
    names = OPERANDS[opcode]
    seen = set()
    for operand in operands:
        m = _OPERAND.match(operand)
        if not m:
            raise ProgramError(f"operand {operand!r} is not name=number")
        key, digits = m.group(1), m.group(2)
        value = int(digits, 16) if digits[:2].lower() == "0x" else int(digits)
        if key not in names:
            raise ProgramError(f"{mnemonic} has no operand {key!r}; it takes {', '.join(names) or 'none'}")
        if key in seen:
            raise ProgramError(f"{mnemonic} operand {key!r} given twice")
        seen.add(key)
        fields[names[key]] = value
    missing = [k for k in names if k not in seen and k not in OPTIONAL]
    if missing:
        raise ProgramError(f"{mnemonic} is missing operand(s) {', '.join(missing)}")
    return _checked(opcode, fields)


def assemble(text: str) -> list[int]:
    """Instruction words of `text`; raises ProgramError naming the line ("line 3: ...")."""
    words = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = re.split(r"[#;]", raw, maxsplit=1)[0].strip()
        if not line:
            continue
        try:
            words.append(_assemble_line(line))
        except ProgramError as e:
            raise ProgramError(f"line {number}: {e}") from None
    return words
