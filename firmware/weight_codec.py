"""Compressing weights into the NEP's mask/value format, decoding it back, and its byte serialization.

The format itself (geometry, mask words, value beats, device words) is defined in `weight_format`;
this module is its one encoder and its one decoder. The golden core decodes its memories with
`decode_arrays(strict=False)` (device semantics: only beat counting can fail); `decompress` and
`from_bytes` use `strict=True` and also reject padding slots that are not zero, mask bits set for a
zero weight and mask bits beyond the last column, which the device never sees from our compiler.

Byte serialization (`to_bytes`), all little-endian:
    header (`HEADER_STRUCT`, 32 bytes): magic b"NEPW", version (memory_map.FORMAT_VERSION), lanes,
        weight_bits, flags (bit 0 = out16), reserved, rows, cols, reserved, beats, then the byte
        lengths of the three sections below;
    row params: one ROW_PARAMS word per row, 8 bytes each;
    mask words: rows*segments words of lanes*16 bits, lanes*2 bytes each;
    value words: value_words(beats) words of lanes*8 bits, lanes bytes each;
    CRC32 (zlib.crc32) of every byte before it, 4 bytes.
Reserved fields are zero. Every error raised while parsing names the byte offset at fault.
"""

import struct
import zlib
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .errors import WeightLengthError, WeightStreamError, WeightTruncatedError
from .memory_map import FORMAT_VERSION
from .number_formats import WEIGHT_BITS, int_range
from .weight_format import (HEADER0, HEADER1, LANE_COUNTS, LANES_MAX, LANES_MIN, MASK_BITS_PER_LANE, MATRIX_MAGIC,
                            PARAM_WORD_BITS, ROW_PARAMS, WBITS_CODE, beats_per_value_word,
                            mask_word_bits, segment_columns, segments, value_word_bits, value_words)

MAGIC = b"NEPW"
DIM_MAX = HEADER0["rows"].max            # rows and cols are 16-bit header fields, at least 1
FLAG_OUT16 = 0x01

_HEADER_FIELDS = [
    ("magic", "4s"), ("version", "H"), ("lanes", "B"), ("weight_bits", "B"), ("flags", "B"),
    ("reserved0", "B"), ("rows", "H"), ("cols", "H"), ("reserved1", "H"), ("beats", "I"),
    ("row_bytes", "I"), ("mask_bytes", "I"), ("value_bytes", "I"),
]
HEADER_STRUCT = struct.Struct("<" + "".join(fmt for _, fmt in _HEADER_FIELDS))
HEADER_OFFSETS = {}
_offset = 0
for _name, _fmt in _HEADER_FIELDS:
    HEADER_OFFSETS[_name] = _offset
    _offset += struct.calcsize("<" + _fmt)
del _offset, _name, _fmt
CRC_BYTES = 4
ROW_PARAM_BYTES = PARAM_WORD_BITS // 8


@dataclass(eq=False)
class CompressedMatrix:
    """One matrix in the device's compressed form (what `compress` makes and the device decodes).

    bias, mult, shift: (rows,) int64 row parameters. mask_words: rows*segments ints of lanes*16 bits,
    row-major. value_words: value_words(beats, weight_bits) ints of lanes*8 bits. beats: the value
    beats the masks use (the header's `beats`).
    """
    lanes: int
    weight_bits: int
    rows: int
    cols: int
    out16: bool
    bias: np.ndarray
    mult: np.ndarray
    shift: np.ndarray
    mask_words: list
    value_words: list
    beats: int

    @property
    def segments(self) -> int:
        return segments(self.cols, self.lanes)

    def __eq__(self, other):
        if not isinstance(other, CompressedMatrix):
            return NotImplemented
        scalars = ("lanes", "weight_bits", "rows", "cols", "beats")
        return (all(getattr(self, n) == getattr(other, n) for n in scalars)
                and bool(self.out16) == bool(other.out16)
                and all(np.array_equal(getattr(self, n), getattr(other, n)) for n in ("bias", "mult", "shift"))
                and [int(w) for w in self.mask_words] == [int(w) for w in other.mask_words]
                and [int(w) for w in self.value_words] == [int(w) for w in other.value_words])


# --- geometry -------------------------------------------------------------------------------------

def _check_lanes(lanes: int):
    if lanes not in LANE_COUNTS:
        raise ValueError(f"lanes must be a power of two in [{LANES_MIN}, {LANES_MAX}], got {lanes}")


def _check_weight_bits(weight_bits: int):
    if weight_bits not in WEIGHT_BITS:
        raise ValueError(f"weight_bits must be one of {WEIGHT_BITS}, got {weight_bits}")


def _grid_columns(cols: int, lanes: int) -> np.ndarray:
    """(segments, lanes, MASK_BITS_PER_LANE) column index of each mask bit (may be >= cols)."""
    s = np.arange(segments(cols, lanes))[:, None, None]
    lane = np.arange(lanes)[None, :, None]
    bit = np.arange(MASK_BITS_PER_LANE)[None, None, :]
    return s * segment_columns(lanes) + bit * lanes + lane      # == weight_format.column(s, lane, bit)


def lane_groups(cols: int, lanes: int) -> list[list[np.ndarray]]:
    """groups[segment][lane]: the columns (< cols, ascending mask bit) lane `lane` owns in `segment`.

    Load-balanced pruning keeps the same number of non-zeros in each lane's group of a
    (row, segment), so that no value slot is padding.
    """
    _check_lanes(lanes)
    grid = _grid_columns(cols, lanes)
    return [[g[g < cols] for g in seg] for seg in grid]


def _to_grid(dense: np.ndarray, lanes: int) -> np.ndarray:
    """(rows, cols) -> (rows, segments, lanes, MASK_BITS) with zero columns past the end."""
    rows, cols = dense.shape
    width = segments(cols, lanes) * segment_columns(lanes)
    padded = np.zeros((rows, width), dtype=dense.dtype)
    padded[:, :cols] = dense
    return padded.reshape(rows, -1, MASK_BITS_PER_LANE, lanes).transpose(0, 1, 3, 2)


def _from_grid(grid: np.ndarray, cols: int) -> np.ndarray:
    rows = grid.shape[0]
    return grid.transpose(0, 1, 3, 2).reshape(rows, -1)[:, :cols]


# --- words <-> byte arrays ------------------------------------------------------------------------

def words_to_array(words, word_bits: int, what: str = "word") -> np.ndarray:
    """Python ints -> (n, word_bits/8) uint8, little-endian. Raises WeightStreamError if one does not fit."""
    nbytes = word_bits // 8
    try:
        raw = b"".join(int(w).to_bytes(nbytes, "little") for w in words)
    except OverflowError:
        bad = next(i for i, w in enumerate(words) if not 0 <= int(w) < 1 << word_bits)
        raise WeightStreamError(f"{what} {bad} is outside [0, 2**{word_bits}): {int(words[bad]):#x}") from None
    return np.frombuffer(raw, dtype=np.uint8).reshape(len(words), nbytes)


def array_to_words(array: np.ndarray) -> list[int]:
    """(n, nbytes) uint8 little-endian -> Python ints."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    return [int.from_bytes(row.tobytes(), "little") for row in array]


def _pack_values(stream: np.ndarray, weight_bits: int) -> np.ndarray:
    """(beats, lanes) values -> (value words, lanes) bytes; beats is a multiple of beats per word."""
    if weight_bits == 8:
        return (stream & 0xFF).astype(np.uint8)
    nibbles = (stream & 0xF).astype(np.uint8).reshape(-1, 2, stream.shape[1])   # (words, half, lane)
    packed = nibbles[..., 0::2] | (nibbles[..., 1::2] << 4)                       # lane 2i low nibble
    return packed.reshape(-1, stream.shape[1])


def _unpack_values(array: np.ndarray, weight_bits: int) -> np.ndarray:
    """(value words, lanes) bytes -> (beats, lanes) int64 signed values."""
    if weight_bits == 8:
        return array.view(np.int8).astype(np.int64)
    n, lanes = array.shape
    halves = array.reshape(n, 2, lanes // 2).astype(np.int64)
    nibbles = np.stack([halves & 0xF, halves >> 4], axis=-1).reshape(n * 2, lanes)
    return (nibbles ^ 8) - 8


# --- row parameters -------------------------------------------------------------------------------

def _row_params(rows: int, bias, mult, shift) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    out = []
    for name, value in (("bias", bias), ("mult", mult), ("shift", shift)):
        a = np.asarray(value)
        if a.dtype.kind not in "iu" or a.shape != (rows,):
            raise ValueError(f"{name} must be an integer array of shape ({rows},), got dtype {a.dtype} shape {a.shape}")
        f = ROW_PARAMS[name]
        if a.size and (a.min() < f.min or a.max() > f.max):
            raise ValueError(f"{name} must be in [{f.min}, {f.max}], found [{a.min()}, {a.max()}]")
        out.append(a.astype(np.int64))
    return tuple(out)


def row_param_words(bias, mult, shift) -> list[int]:
    """One ROW_PARAMS word per row."""
    return [ROW_PARAMS.pack(bias=int(b), mult=int(m), shift=int(s)) for b, m, s in zip(bias, mult, shift)]


def row_params_from_words(words) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(bias, mult, shift) int64 arrays from ROW_PARAMS words; reserved bits are ignored (as the device does)."""
    fields = [ROW_PARAMS.unpack(int(w)) for w in words]
    return tuple(np.array([f[n] for f in fields], dtype=np.int64) for n in ("bias", "mult", "shift"))


# --- encoder --------------------------------------------------------------------------------------

def compress(weights, bias, mult, shift, *, lanes: int, weight_bits: int, out16: bool = False) -> CompressedMatrix:
    """The compressed form of a dense integer matrix (rows, cols) and its per-row parameters."""
    _check_lanes(lanes)
    _check_weight_bits(weight_bits)
    w = np.asarray(weights)
    if w.ndim != 2 or w.dtype.kind not in "iu":
        raise ValueError(f"weights must be a 2-D integer array, got dtype {w.dtype} shape {w.shape}")
    rows, cols = w.shape
    if not (1 <= rows <= DIM_MAX and 1 <= cols <= DIM_MAX):
        raise ValueError(f"rows and cols must be in [1, {DIM_MAX}], got shape {w.shape}")
    lo, hi = int_range(weight_bits)
    if w.min() < lo or w.max() > hi:
        raise ValueError(f"weights must be int{weight_bits} in [{lo}, {hi}], found [{w.min()}, {w.max()}]")
    bias, mult, shift = _row_params(rows, bias, mult, shift)

    grid = _to_grid(w.astype(np.int64), lanes)                  # (rows, segs, lanes, bits)
    nonzero = grid != 0
    k = nonzero.sum(-1).max(-1)                                  # beats per (row, segment)
    beats = int(k.sum())
    start = (np.cumsum(k.ravel()) - k.ravel()).reshape(k.shape)
    beat_of = start[..., None, None] + np.cumsum(nonzero, axis=-1) - 1
    per_word = beats_per_value_word(weight_bits)
    stream = np.zeros((value_words(beats, weight_bits) * per_word, lanes), dtype=np.int64)
    r, s, lane, bit = np.nonzero(nonzero)
    stream[beat_of[r, s, lane, bit], lane] = grid[r, s, lane, bit]

    masks = np.packbits(nonzero.reshape(-1, lanes * MASK_BITS_PER_LANE), axis=-1, bitorder="little")
    return CompressedMatrix(
        lanes=lanes, weight_bits=weight_bits, rows=rows, cols=cols, out16=bool(out16),
        bias=bias, mult=mult, shift=shift,
        mask_words=array_to_words(masks), value_words=array_to_words(_pack_values(stream, weight_bits)),
        beats=beats)


# --- decoder --------------------------------------------------------------------------------------

def _word_where(section: str, index: int) -> str:
    return f"{section} word {index}"


@dataclass
class Decoded:
    """A decoded matrix and what the device would issue to its lanes while decoding it."""
    weights: np.ndarray         # (rows, cols) int64
    macs: int                   # mask bits set inside the matrix (weights issued to lanes)
    segment_beats: np.ndarray   # (rows * segments,) value beats of each (row, segment), row-major


def decode_arrays(*, lanes: int, weight_bits: int, rows: int, cols: int, beats: int,
                  mask_bytes: np.ndarray, value_bytes: np.ndarray, strict: bool,
                  where: Callable[[str, int], str] = _word_where) -> Decoded:
    """Decode masks (rows*segments, lanes*2) and values (value_words(beats), lanes) uint8 arrays.

    Raises WeightTruncatedError when the masks need beat number `beats` or more, WeightLengthError
    when they use fewer than `beats`. Non-strict (device) decoding ignores mask bits beyond `cols`,
    padding slots and zero values under set bits (they count as MACs); strict decoding rejects them
    with WeightStreamError. `where(section, index)` words the location in messages.
    """
    segs = segments(cols, lanes)
    assert mask_bytes.shape == (rows * segs, lanes * MASK_BITS_PER_LANE // 8), mask_bytes.shape
    assert value_bytes.shape == (value_words(beats, weight_bits), lanes), value_bytes.shape
    bits = np.unpackbits(mask_bytes, axis=-1, bitorder="little").astype(bool)
    bits = bits.reshape(rows, segs, lanes, MASK_BITS_PER_LANE)
    inside = _grid_columns(cols, lanes) < cols
    outside = bits & ~inside
    if outside.any():
        if strict:
            r, s, lane, bit = (int(i[0]) for i in np.nonzero(outside))
            column = int(_grid_columns(cols, lanes)[s, lane, bit])
            raise WeightStreamError(f"mask bit set for column {column} beyond cols {cols} in row {r} "
                                    f"at {where('mask', r * segs + s)}")
        bits &= inside

    k = bits.sum(-1).max(-1).ravel()                              # beats per (row, segment)
    end = np.cumsum(k)
    needed = int(end[-1])
    if needed > beats:
        i = int(np.argmax(end > beats))
        raise WeightTruncatedError(
            f"weight stream truncated at {where('mask', i)} (row {i // segs}, segment {i % segs}): "
            f"masks need {needed} value beats, the header declares {beats}")
    if needed < beats:
        raise WeightLengthError(f"weight stream length mismatch at {where('mask', rows * segs - 1)}: "
                                f"masks use {needed} value beats, the header declares {beats}")

    stream = _unpack_values(value_bytes, weight_bits)               # (padded beats, lanes)
    beat_of = (end - k).reshape(rows, segs)[..., None, None] + np.cumsum(bits, axis=-1) - 1
    r, s, lane, bit = np.nonzero(bits)
    values = stream[beat_of[r, s, lane, bit], lane]
    if strict:
        used = np.zeros(stream.shape, dtype=bool)
        used[beat_of[r, s, lane, bit], lane] = True
        padding = (stream != 0) & ~used
        if padding.any():
            t, slot = (int(i[0]) for i in np.nonzero(padding))
            word = t // beats_per_value_word(weight_bits)
            raise WeightStreamError(f"non-zero padding in slot {slot} of beat {t} at {where('value', word)}")
        zero = np.nonzero(values == 0)[0]
        if zero.size:
            z = int(zero[0])
            column = int(_grid_columns(cols, lanes)[s[z], lane[z], bit[z]])
            raise WeightStreamError(f"mask bit set for a zero weight at row {r[z]} column {column} "
                                    f"({where('mask', int(r[z]) * segs + int(s[z]))})")
    grid = np.zeros(bits.shape, dtype=np.int64)
    grid[r, s, lane, bit] = values
    return Decoded(weights=_from_grid(grid, cols), macs=int(r.size), segment_beats=k)


def _check_matrix(cm: CompressedMatrix):
    _check_lanes(cm.lanes)
    _check_weight_bits(cm.weight_bits)
    if not (1 <= cm.rows <= DIM_MAX and 1 <= cm.cols <= DIM_MAX):
        raise ValueError(f"rows and cols must be in [1, {DIM_MAX}], got {cm.rows} x {cm.cols}")
    _row_params(cm.rows, cm.bias, cm.mult, cm.shift)
    if not 0 <= cm.beats <= HEADER1["beats"].max:
        raise ValueError(f"beats must be in [0, {HEADER1['beats'].max}], got {cm.beats}")
    n_mask, n_value = cm.rows * cm.segments, value_words(cm.beats, cm.weight_bits)
    if len(cm.mask_words) != n_mask:
        raise WeightStreamError(f"expected {n_mask} mask words for {cm.rows} rows x {cm.segments} segments, "
                                f"found {len(cm.mask_words)}")
    if len(cm.value_words) != n_value:
        raise WeightStreamError(f"expected {n_value} value words for {cm.beats} beats, found {len(cm.value_words)}")


def decompress(cm: CompressedMatrix) -> np.ndarray:
    """The dense (rows, cols) int64 matrix; raises WeightStreamError for any inconsistent stream."""
    _check_matrix(cm)
    return decode_arrays(
        lanes=cm.lanes, weight_bits=cm.weight_bits, rows=cm.rows, cols=cm.cols, beats=cm.beats,
        mask_bytes=words_to_array(cm.mask_words, mask_word_bits(cm.lanes), "mask word"),
        value_bytes=words_to_array(cm.value_words, value_word_bits(cm.lanes), "value word"),
        strict=True).weights


# --- device words ---------------------------------------------------------------------------------

def param_words(cm: CompressedMatrix, mask_base: int, value_base: int) -> list[int]:
    """HEADER0, HEADER1 and one ROW_PARAMS word per row, as the device reads them at `mat`."""
    _check_matrix(cm)
    header0 = HEADER0.pack(magic=MATRIX_MAGIC, w4=WBITS_CODE[cm.weight_bits], out16=int(bool(cm.out16)),
                           lanes=cm.lanes, rows=cm.rows, cols=cm.cols)
    header1 = HEADER1.pack(mask_base=mask_base, value_base=value_base, beats=cm.beats)
    return [header0, header1] + row_param_words(cm.bias, cm.mult, cm.shift)


# --- byte serialization ---------------------------------------------------------------------------

def _section_sizes(cm: CompressedMatrix) -> tuple[int, int, int]:
    return (cm.rows * ROW_PARAM_BYTES,
            cm.rows * cm.segments * mask_word_bits(cm.lanes) // 8,
            value_words(cm.beats, cm.weight_bits) * value_word_bits(cm.lanes) // 8)


def to_bytes(cm: CompressedMatrix) -> bytes:
    """The versioned, CRC-protected serialization described in the module docstring."""
    _check_matrix(cm)
    row_bytes, mask_bytes, value_bytes = _section_sizes(cm)
    header = HEADER_STRUCT.pack(MAGIC, FORMAT_VERSION, cm.lanes, cm.weight_bits,
                                FLAG_OUT16 if cm.out16 else 0, 0, cm.rows, cm.cols, 0, cm.beats,
                                row_bytes, mask_bytes, value_bytes)
    body = b"".join([
        header,
        words_to_array(row_param_words(cm.bias, cm.mult, cm.shift), PARAM_WORD_BITS, "row param").tobytes(),
        words_to_array(cm.mask_words, mask_word_bits(cm.lanes), "mask word").tobytes(),
        words_to_array(cm.value_words, value_word_bits(cm.lanes), "value word").tobytes(),
    ])
    return body + struct.pack("<I", zlib.crc32(body))


def _field_error(name: str, expected: str, found) -> WeightStreamError:
    return WeightStreamError(f"weight stream field {name} at byte {HEADER_OFFSETS[name]}: "
                             f"expected {expected}, found {found}")


def from_bytes(data) -> CompressedMatrix:
    """Parse and fully validate `to_bytes` output; raises WeightStreamError naming the byte at fault."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"from_bytes takes bytes, got {type(data).__name__}")
    data = bytes(data)
    size = len(data)
    if size < HEADER_STRUCT.size:
        raise WeightStreamError(f"weight stream truncated at byte {size}: "
                                f"expected {HEADER_STRUCT.size - size} more bytes of header")
    h = dict(zip((n for n, _ in _HEADER_FIELDS), HEADER_STRUCT.unpack_from(data)))
    if h["magic"] != MAGIC:
        raise _field_error("magic", repr(MAGIC), repr(h["magic"]))
    if h["version"] != FORMAT_VERSION:
        raise _field_error("version", str(FORMAT_VERSION), h["version"])
    lanes, weight_bits, rows, cols, beats = (h[n] for n in ("lanes", "weight_bits", "rows", "cols", "beats"))
    if lanes not in LANE_COUNTS:
        raise _field_error("lanes", f"a power of two in [{LANES_MIN}, {LANES_MAX}]", lanes)
    if weight_bits not in WEIGHT_BITS:
        raise _field_error("weight_bits", f"one of {WEIGHT_BITS}", weight_bits)
    if h["flags"] & ~FLAG_OUT16:
        raise _field_error("flags", f"only bit 0 (out16) set", f"{h['flags']:#04x}")
    for name in ("reserved0", "reserved1"):
        if h[name]:
            raise _field_error(name, "0", h[name])
    for name in ("rows", "cols"):
        if h[name] == 0:
            raise _field_error(name, f"[1, {DIM_MAX}]", 0)

    segs = segments(cols, lanes)
    mask_word_bytes, value_word_bytes = mask_word_bits(lanes) // 8, value_word_bits(lanes) // 8
    expected = {
        "row_bytes": (rows * ROW_PARAM_BYTES, f"{rows} rows x {ROW_PARAM_BYTES} bytes"),
        "mask_bytes": (rows * segs * mask_word_bytes, f"{rows} rows x {segs} segments x {mask_word_bytes} bytes"),
        "value_bytes": (value_words(beats, weight_bits) * value_word_bytes,
                        f"{beats} int{weight_bits} beats on {lanes} lanes"),
    }
    for name, (length, why) in expected.items():
        if h[name] != length:
            raise _field_error(name, f"{length} ({why})", h[name])

    sections = [("row params", expected["row_bytes"][0]), ("masks", expected["mask_bytes"][0]),
                ("values", expected["value_bytes"][0]), ("CRC", CRC_BYTES)]
    starts, offset = {}, HEADER_STRUCT.size
    for name, length in sections:
        starts[name] = offset
        if size < offset + length:
            raise WeightStreamError(f"weight stream truncated at byte {size}: "
                                    f"expected {offset + length - size} more bytes of {name}")
        offset += length
    if size > offset:
        raise WeightStreamError(f"weight stream has {size - offset} trailing bytes at byte {offset}")
    crc_at = starts["CRC"]
    stored, computed = struct.unpack_from("<I", data, crc_at)[0], zlib.crc32(data[:crc_at])
    if stored != computed:
        raise WeightStreamError(f"weight stream CRC mismatch over bytes 0..{crc_at - 1}: "
                                f"stored {stored:#010x} at byte {crc_at}, computed {computed:#010x}")

    def section(name: str, word_bytes: int) -> np.ndarray:
        start = starts[name]
        end = start + dict(sections)[name]
        return np.frombuffer(data[start:end], dtype=np.uint8).reshape(-1, word_bytes)

    row_words = array_to_words(section("row params", ROW_PARAM_BYTES))
    for i, word in enumerate(row_words):
        if ROW_PARAMS.reserved_bits(word):
            raise WeightStreamError(f"reserved bits set in row params of row {i} "
                                    f"at byte {starts['row params'] + i * ROW_PARAM_BYTES}")
    bias, mult, shift = row_params_from_words(row_words)
    word_bytes = {"mask": mask_word_bytes, "value": value_word_bytes}
    section_of = {"mask": "masks", "value": "values"}
    masks, values = section("masks", mask_word_bytes), section("values", value_word_bytes)
    decode_arrays(lanes=lanes, weight_bits=weight_bits, rows=rows, cols=cols, beats=beats,
                  mask_bytes=masks, value_bytes=values, strict=True,
                  where=lambda sec, i: f"byte {starts[section_of[sec]] + i * word_bytes[sec]}")
    return CompressedMatrix(lanes=lanes, weight_bits=weight_bits, rows=rows, cols=cols,
                            out16=bool(h["flags"] & FLAG_OUT16), bias=bias, mult=mult, shift=shift,
                            mask_words=array_to_words(masks), value_words=array_to_words(values), beats=beats)


def bits_per_weight(cm: CompressedMatrix, include_row_params: bool = False) -> float:
    """Serialized bits per matrix element: header + CRC + masks + values (+ row params)."""
    row_bytes, mask_bytes, value_bytes = _section_sizes(cm)
    total = HEADER_STRUCT.size + CRC_BYTES + mask_bytes + value_bytes + (row_bytes if include_row_params else 0)
    return total * 8 / (cm.rows * cm.cols)


# --- load-balanced pruning ------------------------------------------------------------------------

def balanced_prune(weights, sparsity: float, lanes: int) -> np.ndarray:
    """A copy of `weights` (rows, cols) with the smallest-magnitude entries of each lane group zeroed.

    In every (row, segment), each lane's group of columns (`lane_groups`) keeps its
    round_half_up((1 - sparsity) * group_size) largest-magnitude entries (ties keep the lower mask
    bit); group_size is 16 except in a partial last segment. Entries that are already zero count as
    kept if they rank high enough, so a matrix with many zeros may end up sparser than asked.
    """
    _check_lanes(lanes)
    if not 0.0 <= sparsity <= 1.0:
        raise ValueError(f"sparsity must be in [0, 1], got {sparsity}")
    w = np.asarray(weights)
    if w.ndim != 2 or w.shape[0] < 1 or w.shape[1] < 1:
        raise ValueError(f"weights must be a non-empty 2-D array, got shape {w.shape}")
    cols = w.shape[1]
    grid_cols = _grid_columns(cols, lanes)
    inside = grid_cols < cols
    magnitude = np.where(inside, np.abs(w[:, np.minimum(grid_cols, cols - 1)].astype(np.float64)), -np.inf)
    order = np.argsort(-magnitude, axis=-1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.broadcast_to(np.arange(MASK_BITS_PER_LANE), order.shape), axis=-1)
    keep = np.floor((1.0 - sparsity) * inside.sum(-1) + 0.5).astype(np.int64)     # (segs, lanes)
    kept = _from_grid((rank < keep[..., None]) & inside, cols)
    return np.where(kept, w, np.zeros((), dtype=w.dtype))
