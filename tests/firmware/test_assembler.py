"""assembler: the builder's checks, the text syntax, and assemble(disassemble(w)) == [w] for any word."""

import pytest
from hypothesis import given, settings, strategies as st

from edgeasr.firmware.assembler import Program, assemble, disassemble
from edgeasr.firmware.errors import ProgramError
from edgeasr.firmware.isa import INSTRUCTION, INSTRUCTION_BITS, Ew, Opcode, encode

FAST = settings(max_examples=60, deadline=None)


def every_opcode() -> Program:
    p = Program().nop().matvec(64, 0, 2).act(0, 0, 8, 1, shift=3)
    for func in Ew:
        p.ew(func, 10, 0, 20, 8, shift=7, sat16=func == Ew.MUL)
    return p.halt()


def test_disassembly_text():
    assert [disassemble(w) for w in every_opcode().words()] == [
        "NOP",
        "MATVEC dst=64 src=0 mat=2",
        "ACT dst=0 a=0 len=8 table=1 shift=3",
        "EW.ADD dst=10 a=0 b=20 len=8 shift=7 sat16=0",
        "EW.SUB dst=10 a=0 b=20 len=8 shift=7 sat16=0",
        "EW.MUL dst=10 a=0 b=20 len=8 shift=7 sat16=1",
        "EW.MOV dst=10 a=0 b=20 len=8 shift=7 sat16=0",
        "HALT",
    ]


def test_builder_encodes_fields():
    (word,) = Program().matvec(5, 16, 300).words()
    assert INSTRUCTION.unpack(word) == dict(opcode=Opcode.MATVEC, func=0, sat16=0, shift=0, dst=5, a=16, b=300, len=0)


def test_round_trip_every_opcode():
    words = every_opcode().words()
    assert assemble("\n".join(disassemble(w) for w in words)) == words


@FAST
@given(st.integers(0, 2**INSTRUCTION_BITS - 1))
def test_round_trip_any_word(word):
    assert assemble(disassemble(word)) == [word]


@FAST
@given(func=st.sampled_from(list(Ew)), dst=st.integers(0, 65535), a=st.integers(0, 65535),
       b=st.integers(0, 65535), length=st.integers(0, 65535), shift=st.integers(0, 31), sat16=st.booleans())
def test_round_trip_legal_ew(func, dst, a, b, length, shift, sat16):
    (word,) = Program().ew(func, dst, a, b, length, shift, sat16).words()
    assert assemble(disassemble(word)) == [word]
    assert not disassemble(word).startswith("ILLEGAL")


def test_illegal_words_disassemble_verbatim():
    assert disassemble(encode(Opcode.NOP, dst=1)) == "ILLEGAL 0x" + f"{1 << 32:032x}"
    assert disassemble(7) == "ILLEGAL 0x" + "0" * 31 + "7"


def test_assemble_comments_defaults_hex_and_order():
    text = """
        # a comment line
        EW.ADD len=0x10 b=2 a=1 dst=40   ; shift and sat16 default to 0
        halt
    """
    assert assemble(text) == Program().ew(Ew.ADD, 40, 1, 2, 16).halt().words()


@pytest.mark.parametrize("text, message", [
    ("FOO", "line 1: unknown mnemonic 'FOO'; expected one of NOP, HALT, MATVEC, ACT, EW.ADD, EW.SUB, EW.MUL, EW.MOV or ILLEGAL"),
    ("NOP\nMATVEC dst=1 src=0", "line 2: MATVEC is missing operand(s) mat"),
    ("MATVEC dst=1 src=0 mat=2 len=3", "line 1: MATVEC has no operand 'len'; it takes dst, src, mat"),
    ("NOP dst=1", "line 1: NOP has no operand 'dst'; it takes none"),
    ("ACT dst=1 dst=2 a=0 len=1 table=0", "line 1: ACT operand 'dst' given twice"),
    ("ACT dst=-1 a=0 len=1 table=0", "line 1: operand 'dst=-1' is not name=number"),
    ("ACT dst=70000 a=0 len=1 table=0", "line 1: instruction.dst=70000 is outside [0, 65535]"),
    ("ACT dst=0 a=0 len=1 table=4", "line 1: ACT func=4 dst=0 a=0 len=1 is not a legal instruction (see isa.decode_error)"),
    ("EW.ADD dst=0 a=0 b=0 len=1 shift=32", "line 1: EW func=0 shift=32 dst=0 a=0 b=0 len=1 is not a legal instruction (see isa.decode_error)"),
    ("ILLEGAL 12", "line 1: ILLEGAL takes one hex word, got '12'"),
    ("ILLEGAL 0x1" + "0" * 32, "line 1: ILLEGAL word 0x1" + "0" * 32 + " does not fit 128 bits"),
])
def test_assemble_errors(text, message):
    with pytest.raises(ProgramError) as info:
        assemble(text)
    assert str(info.value) == message


def test_builder_errors():
    with pytest.raises(ProgramError, match=r"^ACT func=0 shift=40 dst=0 a=0 len=1 is not a legal instruction"):
        Program().act(0, 0, 1, 0, shift=40)
    with pytest.raises(ProgramError, match=r"^instruction.a=65536 is outside \[0, 65535\]$"):
        Program().matvec(0, 65536, 0)
    with pytest.raises(ProgramError, match=r"does not fit 128 bits$"):
        disassemble(1 << 128)
