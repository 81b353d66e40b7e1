"""The compressed-weight format: per-lane bitmasks plus packed non-zero values, lane-balanced.

Geometry for a core with N lanes and M = MASK_BITS_PER_LANE:
- Columns are split into segments of N*M columns. In segment s, lane l owns the M columns
  c = s*N*M + j*N + l for j = 0..M-1 (strided, so lane l always reads scratchpad bank l).
- For each (row, segment) there is one mask word of N*M bits: bit l*M + j set iff W[row, c] != 0.
  Mask words are stored row-major: mask memory word mask_base + row*segs + s.
- Values follow in "beats": beat t of a (row, segment) carries, in slot l, lane l's t-th non-zero
  (ascending j), or 0 as padding when lane l has fewer. The segment has k = max_l popcount(lane
  mask) beats (0 for an all-zero segment). Beats of all segments form one continuous stream.
  A value-memory word holds N*8 bits: one beat of int8 (slot l in bits 8l..8l+7) or two beats of
  int4 (beat 2w in bits 4l..4l+3, beat 2w+1 in bits 4N+4l..4N+4l+3).
  When every lane of a segment has the same popcount (load-balanced pruning per lane group), no
  slot is padding and the matrix costs exactly nnz/N beats.
- Param memory (64-bit words) holds at `mat`: HEADER0, HEADER1, then one ROW_PARAMS word per row.

The device checks the header at MATVEC start (magic, lane count, sizes, reserved bits, ranges) and
counts beats as it decodes: needing beat number `beats` or more is WEIGHT_TRUNCATED; finishing with
fewer than `beats` consumed is WEIGHT_LENGTH. The byte serialization used in files and images is in
`weight_codec`.
"""

from .bitfields import Field, WordFormat

MASK_BITS_PER_LANE = 16
PARAM_WORD_BITS = 64
VALUE_SLOT_BITS = 8
MATRIX_MAGIC = 0xE5
HEADER_WORDS = 2
LANES_MIN, LANES_MAX = 2, 32      # 2 lanes: the smallest boards (iCE40 UP5K)
LANE_COUNTS = tuple(1 << k for k in range(LANES_MIN.bit_length() - 1, LANES_MAX.bit_length()))  # powers of two

WBITS_CODE = {8: 0, 4: 1}       # header field `w4` is 1 for int4 weights

HEADER0 = WordFormat("matrix_header0", PARAM_WORD_BITS, [
    Field("magic", 0, 8),
    Field("w4", 8, 1),
    Field("out16", 9, 1),
    Field("lanes", 10, 6),
    Field("rows", 16, 16),
    Field("cols", 32, 16),
])

HEADER1 = WordFormat("matrix_header1", PARAM_WORD_BITS, [
    Field("mask_base", 0, 16),
    Field("value_base", 16, 16),
    Field("beats", 32, 32),
])

ROW_PARAMS = WordFormat("row_params", PARAM_WORD_BITS, [
    Field("bias", 0, 32, signed=True),
    Field("mult", 32, 16, signed=True),
    Field("shift", 48, 6),
])


def segment_columns(lanes: int) -> int:
    return lanes * MASK_BITS_PER_LANE


def segments(cols: int, lanes: int) -> int:
    """Mask words per row."""
    return -(-cols // segment_columns(lanes))


def column(segment: int, lane: int, bit: int, lanes: int) -> int:
    """The matrix column that mask bit `bit` of lane `lane` in `segment` stands for."""
    return segment * segment_columns(lanes) + bit * lanes + lane


def beats_per_value_word(weight_bits: int) -> int:
    return VALUE_SLOT_BITS // weight_bits


def value_words(beats: int, weight_bits: int) -> int:
    return -(-beats // beats_per_value_word(weight_bits))


def mask_word_bits(lanes: int) -> int:
    return lanes * MASK_BITS_PER_LANE


def value_word_bits(lanes: int) -> int:
    return lanes * VALUE_SLOT_BITS


def param_words(rows: int) -> int:
    return HEADER_WORDS + rows
