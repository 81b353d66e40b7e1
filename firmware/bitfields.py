"""Named bit fields of a fixed-width word, declared once and used by every layer.

The same `WordFormat` object gives the assembler and the host `pack`/`unpack`, and gives the RTL an
Amaranth `lib.data` layout (`layout()`), so a field's position is typed exactly once.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Field:
    """A field of `width` bits starting at bit `offset`; `signed` fields hold two's complement."""
    name: str
    offset: int
    width: int
    signed: bool = False

    @property
    def mask(self) -> int:
        return (1 << self.width) - 1

    @property
    def min(self) -> int:
        return -(1 << (self.width - 1)) if self.signed else 0

    @property
    def max(self) -> int:
        return (1 << (self.width - 1)) - 1 if self.signed else self.mask


class WordFormat:
    """A `width`-bit word made of named fields; bits not covered by a field are reserved and must be zero."""

    def __init__(self, name: str, width: int, fields: list[Field]):
        self.name = name
        self.width = width
        self.fields = {f.name: f for f in fields}
        used = 0
        for f in fields:
            bits = f.mask << f.offset
            if f.offset + f.width > width or used & bits:
                raise ValueError(f"{name}: field {f.name} overlaps or overflows the {width}-bit word")
            used |= bits
        self.reserved_mask = ((1 << width) - 1) & ~used

    def __getitem__(self, name: str) -> Field:
        return self.fields[name]

    def pack(self, **values: int) -> int:
        """The word holding `values` (missing fields are zero); out-of-range values raise ValueError."""
        word = 0
        for name, value in values.items():
            if name not in self.fields:
                raise ValueError(f"{self.name}: no field named {name!r}")
            f = self.fields[name]
            value = int(value)
            if not f.min <= value <= f.max:
                raise ValueError(f"{self.name}.{name}={value} is outside [{f.min}, {f.max}]")
            word |= (value & f.mask) << f.offset
        return word

    def unpack(self, word: int) -> dict[str, int]:
        """Every field of `word`, signed fields sign-extended."""
        out = {}
        for name, f in self.fields.items():
            raw = (word >> f.offset) & f.mask
            if f.signed and raw >> (f.width - 1):
                raw -= 1 << f.width
            out[name] = raw
        return out

    def reserved_bits(self, word: int) -> int:
        """The reserved bits of `word` that are set (zero for a well-formed word)."""
        return word & self.reserved_mask

    def layout(self):
        """An Amaranth `lib.data.FlexibleLayout` with the same fields, for the RTL's views."""
        from amaranth.lib import data
        from amaranth.hdl import signed, unsigned
        return data.FlexibleLayout(self.width, {
            f.name: data.Field(signed(f.width) if f.signed else unsigned(f.width), f.offset)
            for f in self.fields.values()
        })
