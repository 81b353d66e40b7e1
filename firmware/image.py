"""The device image: everything a compiled model puts into a NEP, in one versioned, CRC-checked file.

An `Image` holds the CoreConfig it was compiled for, sections of memory words (programs, the three
parts of each compressed matrix, activation tables, scratchpad constants), named program entry
points and named scratchpad symbols. `load_image(device, image)` checks that the device is that
core and writes every section over the bus.

Byte layout (`to_bytes`), all little-endian:
    header (`HEADER`, 56 bytes): magic b"NEPI", image version (IMAGE_VERSION), format version
        (memory_map.FORMAT_VERSION), lanes, mask bits per lane, the five memory depths of the
        CoreConfig, the counts of sections, entry points and symbols, the image's total byte
        length, the feature stride (10 ms frames between the encoder inputs the host writes: the
        device does not use it, the host's front end must match the model), a reserved word (0);
    section table (`SECTION`, 20 bytes each): type (SectionType), target region (memory_map.Region),
        flags (SectionFlag), base word, length in words, payload byte offset, payload byte length;
    entry points (`ENTRY`, 36 bytes each): name (NUL-padded ASCII, NAME_BYTES), program address;
    symbols (`SYMBOL`, 48 bytes each): name, scratchpad base entry, length in entries, scale
        (float64: real value = integer entry * scale);
    payloads, in section order, back to back: each word of the region's width in whole bytes,
        little-endian (scratchpad entries as two's-complement int16, LUT entries as int8);
    CRC32 (zlib.crc32) of every byte before it.

Parsing checks, in order: the header's length, magic and versions, the total length (so every
truncation fails here), the CRC (so every bit flip fails here at the latest), then every field of
every table (a correctly checksummed image from a buggy compiler is still rejected). Each
ImageError names the byte offset and the field at fault.
"""

from __future__ import annotations

import enum
import math
import re
import struct
import zlib
from dataclasses import dataclass, field

import numpy as np

from . import loader
from .errors import DeviceError, ImageError
from .isa import LUT_TABLES
from .memory_map import FORMAT_VERSION, CoreConfig, Region
from .number_formats import ACT_BITS, FEATURE_STRIDE, LUT_ENTRIES, SPAD_BITS
from .weight_codec import CompressedMatrix, array_to_words, param_words, words_to_array
from .weight_format import MASK_BITS_PER_LANE

MAGIC = b"NEPI"
IMAGE_VERSION = 2                # 2: the header's first reserved word became feature_stride
NAME_BYTES = 32
CRC_BYTES = 4
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
MAX_FEATURE_STRIDE = 16
_DEPTHS = ("spad_depth", "prog_depth", "param_depth", "mask_depth", "value_depth")


def _layout(fields: list[tuple[str, str]]):
    st = struct.Struct("<" + "".join(f for _, f in fields))
    offsets, at = {}, 0
    for n, f in fields:
        offsets[n] = at
        at += struct.calcsize("<" + f)
    return st, [n for n, _ in fields], offsets


HEADER, _HEADER_FIELDS, HEADER_OFFSETS = _layout([
    ("magic", "4s"), ("image_version", "H"), ("format_version", "H"), ("lanes", "H"), ("mask_bits", "H"),
    ("spad_depth", "I"), ("prog_depth", "I"), ("param_depth", "I"), ("mask_depth", "I"), ("value_depth", "I"),
    ("sections", "I"), ("entries", "I"), ("symbols", "I"), ("total_bytes", "I"), ("feature_stride", "I"),
    ("reserved", "I"),
])
SECTION, _SECTION_FIELDS, SECTION_OFFSETS = _layout([
    ("type", "B"), ("region", "B"), ("flags", "H"), ("base", "I"), ("length", "I"), ("offset", "I"),
    ("bytes", "I"),
])
ENTRY, _ENTRY_FIELDS, ENTRY_OFFSETS = _layout([("name", f"{NAME_BYTES}s"), ("pc", "I")])
SYMBOL, _SYMBOL_FIELDS, SYMBOL_OFFSETS = _layout([
    ("name", f"{NAME_BYTES}s"), ("base", "I"), ("length", "I"), ("scale", "d"),
])


class SectionType(enum.IntEnum):
    """What a section's words are; each type goes to the regions in SECTION_REGIONS."""
    CODE = 1          # instructions
    WEIGHTS = 2       # matrix headers and row parameters, masks, values
    TABLES = 3        # activation lookup tables
    DATA = 4          # scratchpad constants (initial states, biases kept in the scratchpad)


SECTION_REGIONS = {
    SectionType.CODE: (Region.PROGRAM,),
    SectionType.WEIGHTS: (Region.PARAM, Region.MASK, Region.VALUE),
    SectionType.TABLES: (Region.LUT,),
    SectionType.DATA: (Region.SPAD,),
}


class SectionFlag(enum.IntFlag):
    VERIFY = 1        # `load_image` reads the section back and compares (for links that can drop words)


def word_bytes(config: CoreConfig, region: Region) -> int:
    """Bytes per word of `region` in a payload (the region's width rounded up to whole bytes)."""
    return -(-config.region_words()[region][1] // 8)


@dataclass
class Section:
    """`words` (unsigned, the region's width) for `region` from word `base`."""
    type: SectionType
    region: Region
    base: int
    words: list[int]
    flags: SectionFlag = SectionFlag(0)

    @classmethod
    def code(cls, base: int, words, flags=SectionFlag(0)) -> "Section":
        return cls(SectionType.CODE, Region.PROGRAM, base, [int(w) for w in words], SectionFlag(flags))

    @classmethod
    def data(cls, base: int, values, flags=SectionFlag(0)) -> "Section":
        """Signed int16 scratchpad entries."""
        return cls(SectionType.DATA, Region.SPAD, base, _unsigned(values, SPAD_BITS, "scratchpad"),
                   SectionFlag(flags))

    @classmethod
    def table(cls, table: int, values, flags=SectionFlag(0)) -> "Section":
        """One whole signed int8 activation table."""
        if not 0 <= table < LUT_TABLES or np.shape(values) != (LUT_ENTRIES,):
            raise ImageError(f"a table section is table 0..{LUT_TABLES - 1} with {LUT_ENTRIES} entries, "
                             f"got table {table} with shape {np.shape(values)}")
        return cls(SectionType.TABLES, Region.LUT, table * LUT_ENTRIES, _unsigned(values, ACT_BITS, "LUT"),
                   SectionFlag(flags))

    @classmethod
    def matrix(cls, cm: CompressedMatrix, mat: int, mask_base: int, value_base: int,
               flags=SectionFlag(0)) -> list["Section"]:
        """The sections of a compressed matrix placed as `loader.matrix_writes` places it: params and
        masks, and values unless the matrix is all zeros (no value words; sections are never empty)."""
        flags = SectionFlag(flags)
        out = [cls(SectionType.WEIGHTS, Region.PARAM, mat, param_words(cm, mask_base, value_base), flags),
               cls(SectionType.WEIGHTS, Region.MASK, mask_base, list(cm.mask_words), flags)]
        if cm.value_words:
            out.append(cls(SectionType.WEIGHTS, Region.VALUE, value_base, list(cm.value_words), flags))
        return out


def _unsigned(values, bits: int, what: str) -> list[int]:
    v = np.asarray(values, dtype=np.int64).reshape(-1)
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    if v.size and (v.min() < lo or v.max() > hi):
        raise ImageError(f"{what} values must be in [{lo}, {hi}], found [{v.min()}, {v.max()}]")
    return (v & ((1 << bits) - 1)).tolist()


@dataclass(frozen=True)
class Symbol:
    """A named scratchpad range: entries [base, base + length), real value = entry * scale."""
    base: int
    length: int
    scale: float = 1.0


@dataclass
class Image:
    config: CoreConfig
    sections: list[Section] = field(default_factory=list)
    entry_points: dict[str, int] = field(default_factory=dict)     # program name -> first instruction
    symbols: dict[str, Symbol] = field(default_factory=dict)
    feature_stride: int = FEATURE_STRIDE        # models.features frames per encoder input (see the module doc)

    def writes(self) -> list[tuple[int, int]]:
        """The bus writes of every section, in section order."""
        table = self.config.region_words()
        out = []
        for s in self.sections:
            out += loader.region_writes(s.region, s.base, s.words, table[s.region][1])
        return out

    def validate(self) -> None:
        """Raise ImageError unless every section, entry point and symbol fits `config` (see module doc)."""
        self.from_bytes(self.to_bytes())

    def to_bytes(self) -> bytes:
        c = self.config
        table_bytes = (HEADER.size + SECTION.size * len(self.sections) + ENTRY.size * len(self.entry_points)
                       + SYMBOL.size * len(self.symbols))
        payloads, records, offset = [], [], table_bytes
        for i, s in enumerate(self.sections):
            region = Region(s.region)
            if region not in c.region_words():
                raise ImageError(f"section {i}: {region.name} is not a memory region")
            bits = c.region_words()[region][1]
            if not len(s.words):
                raise ImageError(f"section {i} ({region.name}) has no words; leave empty sections out")
            try:
                payload = words_to_array(s.words, word_bytes(c, region) * 8, f"section {i} word").tobytes()
            except ValueError as e:
                raise ImageError(f"section {i} ({region.name}): {e}") from None
            bad = next((j for j, w in enumerate(s.words) if int(w) >> bits), None)
            if bad is not None:
                raise ImageError(f"section {i} ({region.name}) word {bad} = {int(s.words[bad]):#x} "
                                 f"does not fit {bits} bits")
            records.append(SECTION.pack(int(s.type), int(region), int(s.flags), s.base, len(s.words), offset,
                                        len(payload)))
            payloads.append(payload)
            offset += len(payload)
        entries = [ENTRY.pack(_name_bytes(n), pc) for n, pc in self.entry_points.items()]
        symbols = [SYMBOL.pack(_name_bytes(n), s.base, s.length, float(s.scale)) for n, s in self.symbols.items()]
        total = offset + CRC_BYTES
        header = HEADER.pack(MAGIC, IMAGE_VERSION, FORMAT_VERSION, c.lanes, MASK_BITS_PER_LANE,
                             *(getattr(c, d) for d in _DEPTHS), len(self.sections), len(self.entry_points),
                             len(self.symbols), total, self.feature_stride, 0)
        body = b"".join([header, *records, *entries, *symbols, *payloads])
        return body + struct.pack("<I", zlib.crc32(body))

    @classmethod
    def from_bytes(cls, data) -> "Image":
        """Parse and check an image; raises ImageError naming the byte offset and field at fault."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"Image.from_bytes takes bytes, got {type(data).__name__}")
        return _Parser(bytes(data)).image()


def _name_bytes(name: str) -> bytes:
    if not isinstance(name, str) or not _NAME.match(name) or len(name.encode()) > NAME_BYTES:
        raise ImageError(f"name {name!r} must be an identifier of at most {NAME_BYTES} ASCII characters "
                         f"(letters, digits, '_' and '.')")
    return name.encode().ljust(NAME_BYTES, b"\0")


class _Parser:
    def __init__(self, data: bytes):
        self.data = data

    def fail(self, at: int, name: str, expected: str, found) -> ImageError:
        return ImageError(f"image field {name} at byte {at}: expected {expected}, found {found}")

    def image(self) -> Image:
        data, size = self.data, len(self.data)
        if size < HEADER.size:
            raise ImageError(f"image truncated at byte {size}: expected a {HEADER.size}-byte header")
        h = dict(zip(_HEADER_FIELDS, HEADER.unpack_from(data)))
        at = HEADER_OFFSETS
        if h["magic"] != MAGIC:
            raise self.fail(at["magic"], "magic", repr(MAGIC), repr(h["magic"]))
        if h["image_version"] != IMAGE_VERSION:
            raise self.fail(at["image_version"], "image_version", str(IMAGE_VERSION), h["image_version"])
        if h["format_version"] != FORMAT_VERSION:
            raise self.fail(at["format_version"], "format_version", str(FORMAT_VERSION), h["format_version"])
        if h["total_bytes"] != size:
            what = "truncated" if size < h["total_bytes"] else "has trailing bytes"
            raise ImageError(f"image {what}: it is {size} bytes but field total_bytes at byte "
                             f"{at['total_bytes']} declares {h['total_bytes']}")
        crc_at = size - CRC_BYTES
        stored, computed = struct.unpack_from("<I", data, crc_at)[0], zlib.crc32(data[:crc_at])
        if stored != computed:
            raise ImageError(f"image CRC mismatch over bytes 0..{crc_at - 1}: stored {stored:#010x} at byte "
                             f"{crc_at}, computed {computed:#010x}")
        if h["mask_bits"] != MASK_BITS_PER_LANE:
            raise self.fail(at["mask_bits"], "mask_bits", str(MASK_BITS_PER_LANE), h["mask_bits"])
        if h["reserved"]:
            raise self.fail(at["reserved"], "reserved", "0", h["reserved"])
        if not 1 <= h["feature_stride"] <= MAX_FEATURE_STRIDE:
            raise self.fail(at["feature_stride"], "feature_stride", f"1..{MAX_FEATURE_STRIDE}", h["feature_stride"])
        try:
            config = CoreConfig(lanes=h["lanes"], **{d: h[d] for d in _DEPTHS})
        except ValueError as e:
            raise ImageError(f"image header (bytes {at['lanes']}..{at['sections'] - 1}) describes no valid "
                             f"core: {e}") from None

        counts = (h["sections"], h["entries"], h["symbols"])
        table_end = HEADER.size + SECTION.size * counts[0] + ENTRY.size * counts[1] + SYMBOL.size * counts[2]
        if table_end > crc_at:
            raise ImageError(f"image tables ({counts[0]} sections, {counts[1]} entry points, {counts[2]} "
                             f"symbols, header fields at bytes {at['sections']}..{at['total_bytes'] - 1}) "
                             f"end at byte {table_end}, past the payloads' end at byte {crc_at}")
        image = Image(config, feature_stride=h["feature_stride"])
        offset, pos = table_end, HEADER.size
        regions = config.region_words()
        placed: dict[Region, list[tuple[int, int, int]]] = {}
        for i in range(counts[0]):
            s = dict(zip(_SECTION_FIELDS, SECTION.unpack_from(data, pos)))
            where = lambda f: pos + SECTION_OFFSETS[f]          # noqa: E731 - byte of field f of this record
            name = lambda f: f"section[{i}].{f}"                  # noqa: E731
            if s["type"] not in set(SectionType):
                raise self.fail(where("type"), name("type"), f"one of {[int(t) for t in SectionType]}", s["type"])
            stype = SectionType(s["type"])
            allowed = SECTION_REGIONS[stype]
            if s["region"] not in [int(r) for r in allowed]:
                raise self.fail(where("region"), name("region"),
                                f"{' or '.join(f'{r.name} ({int(r)})' for r in allowed)} for a {stype.name} section",
                                s["region"])
            region = Region(s["region"])
            if s["flags"] & ~int(SectionFlag.VERIFY):
                raise self.fail(where("flags"), name("flags"), "only bit 0 (VERIFY) set", f"{s['flags']:#06x}")
            depth = regions[region][0]
            if s["length"] == 0 or s["base"] + s["length"] > depth:
                raise self.fail(where("length"), name("length"),
                                f"1..{depth - min(s['base'], depth)} words ({region.name} has {depth} words, "
                                f"base {s['base']})", s["length"])
            nbytes = s["length"] * word_bytes(config, region)
            if s["offset"] != offset:
                raise self.fail(where("offset"), name("offset"), f"{offset} (right after the previous payload)",
                                s["offset"])
            if s["bytes"] != nbytes:
                raise self.fail(where("bytes"), name("bytes"),
                                f"{nbytes} ({s['length']} words of {word_bytes(config, region)} bytes)", s["bytes"])
            if offset + nbytes > crc_at:
                raise self.fail(where("bytes"), name("bytes"), f"a payload ending by byte {crc_at}",
                                f"{nbytes} bytes from byte {offset}")
            for j, base, length in placed.get(region, []):
                if s["base"] < base + length and base < s["base"] + s["length"]:
                    raise self.fail(where("base"), name("base"),
                                    f"a {region.name} range disjoint from section {j}'s [{base}, {base + length})",
                                    f"[{s['base']}, {s['base'] + s['length']})")
            placed.setdefault(region, []).append((i, s["base"], s["length"]))
            raw = np.frombuffer(data, dtype=np.uint8, count=nbytes, offset=offset)
            words = array_to_words(raw.reshape(s["length"], -1))
            bits = regions[region][1]
            bad = next((k for k, w in enumerate(words) if w >> bits), None)
            if bad is not None:
                raise ImageError(f"image section[{i}] word {bad} at byte {offset + bad * word_bytes(config, region)} "
                                 f"does not fit {region.name}'s {bits} bits")
            image.sections.append(Section(stype, region, s["base"], words, SectionFlag(s["flags"])))
            offset += nbytes
            pos += SECTION.size
        if offset != crc_at:
            raise ImageError(f"image payloads end at byte {offset} but the CRC is at byte {crc_at}: "
                             f"{crc_at - offset} bytes belong to no section")
        for i in range(counts[1]):
            e = dict(zip(_ENTRY_FIELDS, ENTRY.unpack_from(data, pos)))
            name = self.name(e["name"], pos, f"entry[{i}].name", image.entry_points)
            if e["pc"] >= config.prog_depth:
                raise self.fail(pos + ENTRY_OFFSETS["pc"], f"entry[{i}].pc", f"< {config.prog_depth} (program depth)",
                                e["pc"])
            image.entry_points[name] = e["pc"]
            pos += ENTRY.size
        for i in range(counts[2]):
            s = dict(zip(_SYMBOL_FIELDS, SYMBOL.unpack_from(data, pos)))
            name = self.name(s["name"], pos, f"symbol[{i}].name", image.symbols)
            if s["length"] == 0 or s["base"] + s["length"] > config.spad_depth:
                raise self.fail(pos + SYMBOL_OFFSETS["length"], f"symbol[{i}].length",
                                f"1..{config.spad_depth - min(s['base'], config.spad_depth)} entries from base "
                                f"{s['base']} (scratchpad depth {config.spad_depth})", s["length"])
            if not (math.isfinite(s["scale"]) and s["scale"] > 0):
                raise self.fail(pos + SYMBOL_OFFSETS["scale"], f"symbol[{i}].scale", "a finite positive number",
                                s["scale"])
            image.symbols[name] = Symbol(s["base"], s["length"], s["scale"])
            pos += SYMBOL.size
        return image

    def name(self, raw: bytes, at: int, field_name: str, seen: dict) -> str:
        text = raw.rstrip(b"\0")
        try:
            name = text.decode("ascii")
        except UnicodeDecodeError:
            name = None
        if name is None or b"\0" in text or not _NAME.match(name):
            raise self.fail(at, field_name, "an ASCII identifier padded with NUL bytes", repr(raw))
        if name in seen:
            raise self.fail(at, field_name, "a name not used before", repr(name))
        return name


def _config_difference(expected: CoreConfig, found: CoreConfig) -> str:
    names = ("lanes",) + _DEPTHS
    return ", ".join(f"{n} {getattr(expected, n)} vs {getattr(found, n)}" for n in names
                     if getattr(expected, n) != getattr(found, n))


def load_image(device, image: Image) -> None:
    """Write every section of `image` into `device` after checking the device is the core it was built for.

    Raises ImageError if the device's CoreConfig differs (naming each differing field, image vs
    device), DeviceError if the device refused writes (it was BUSY) or a VERIFY section reads back
    different.
    """
    found = device.config()
    if found != image.config:
        raise ImageError(f"image compiled for {image.config} but the device is {found} "
                         f"(image vs device: {_config_difference(image.config, found)})")
    image.validate()
    device.write_many(image.writes())
    if device.status()["refused"]:
        raise DeviceError(f"{device.name} refused writes while loading the image (core BUSY); reset it first")
    for i, s in enumerate(image.sections):
        if s.flags & SectionFlag.VERIFY:
            back = device.read_words(s.region, s.base, len(s.words))
            bad = next((j for j, (a, b) in enumerate(zip(s.words, back)) if a != b), None)
            if bad is not None:
                raise DeviceError(f"{device.name}: section {i} ({s.region.name}) word {s.base + bad} reads back "
                                  f"{back[bad]:#x}, wrote {s.words[bad]:#x}")
