"""weight_codec: round trips against a slow reference encoder written from weight_format's docstring,
the byte serialization's error reporting, load-balanced pruning and the bits/weight budget."""

import re

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from edgeasr.firmware import weight_codec as wc
from edgeasr.firmware import weight_format as wf
from edgeasr.firmware.errors import WeightLengthError, WeightStreamError, WeightTruncatedError
from edgeasr.firmware.number_formats import int_range

FAST = settings(max_examples=60, deadline=None)
LANES = (2, 4, 8, 16, 32)


def reference_words(w: np.ndarray, lanes: int, weight_bits: int) -> tuple[list[int], list[int], int]:
    """Mask words, value words and beats, built loop by loop from the weight_format docstring."""
    rows, cols = w.shape
    m = wf.MASK_BITS_PER_LANE
    masks, beats = [], []
    for r in range(rows):
        for s in range(wf.segments(cols, lanes)):
            word, lane_values = 0, []
            for lane in range(lanes):
                values = []
                for bit in range(m):
                    c = wf.column(s, lane, bit, lanes)
                    if c < cols and w[r, c] != 0:
                        word |= 1 << (lane * m + bit)
                        values.append(int(w[r, c]))
                lane_values.append(values)
            masks.append(word)
            for t in range(max(len(v) for v in lane_values)):
                beats.append([v[t] if t < len(v) else 0 for v in lane_values])
    n_beats = len(beats)
    per_word = wf.beats_per_value_word(weight_bits)
    beats += [[0] * lanes] * (-len(beats) % per_word)
    values = []
    for first in range(0, len(beats), per_word):
        word = 0
        for half in range(per_word):
            for lane, v in enumerate(beats[first + half]):
                word |= (v & ((1 << weight_bits) - 1)) << (half * lanes * weight_bits + lane * weight_bits)
        values.append(word)
    return masks, values, n_beats


def random_matrix(rng, rows, cols, weight_bits, sparsity):
    lo, hi = int_range(weight_bits)
    w = rng.integers(lo, hi + 1, size=(rows, cols))
    w[rng.random((rows, cols)) < sparsity] = 0
    return w


def row_params(rng, rows):
    return (rng.integers(-2**31, 2**31, rows), rng.integers(-2**15, 2**15, rows), rng.integers(0, 64, rows))


def make(rng, rows, cols, lanes, weight_bits, sparsity, out16=False):
    w = random_matrix(rng, rows, cols, weight_bits, sparsity)
    return w, wc.compress(w, *row_params(rng, rows), lanes=lanes, weight_bits=weight_bits, out16=out16)


@FAST
@given(seed=st.integers(0, 2**32 - 1), rows=st.integers(1, 40), cols=st.integers(1, 300),
       lanes=st.sampled_from(LANES), weight_bits=st.sampled_from((4, 8)), sparsity=st.floats(0, 1),
       out16=st.booleans())
def test_round_trip_matches_reference(seed, rows, cols, lanes, weight_bits, sparsity, out16):
    rng = np.random.default_rng(seed)
    w, cm = make(rng, rows, cols, lanes, weight_bits, sparsity, out16)
    masks, values, beats = reference_words(w, lanes, weight_bits)
    assert cm.mask_words == masks
    assert cm.value_words == values
    assert cm.beats == beats
    np.testing.assert_array_equal(wc.decompress(cm), w)
    data = wc.to_bytes(cm)
    assert wc.from_bytes(data) == cm
    assert wc.to_bytes(wc.from_bytes(data)) == data


@pytest.mark.parametrize("rows, cols, lanes, weight_bits, sparsity", [
    (256, 512, 16, 4, 0.5), (640, 1024, 32, 8, 0.8), (1, 65535, 4, 4, 0.9), (3000, 17, 8, 8, 0.0),
    (64, 256, 16, 4, 1.0),
])
def test_round_trip_big(rows, cols, lanes, weight_bits, sparsity):
    rng = np.random.default_rng(rows * cols)
    w, cm = make(rng, rows, cols, lanes, weight_bits, sparsity)
    np.testing.assert_array_equal(wc.decompress(cm), w)
    assert wc.from_bytes(wc.to_bytes(cm)) == cm


def test_all_zero_matrix_has_no_beats():
    z = np.zeros(3, dtype=np.int64)
    cm = wc.compress(np.zeros((3, 70), dtype=np.int64), z, z, z, lanes=4, weight_bits=4)
    assert (cm.beats, cm.value_words, set(cm.mask_words)) == (0, [], {0})
    assert wc.from_bytes(wc.to_bytes(cm)) == cm


def test_int4_value_layout_by_hand():
    # lanes=4: lane l owns columns l, l+4, ...; row 0 has lane 0: [1, -2], lane 1: [7], lanes 2, 3: none.
    w = np.zeros((1, 64), dtype=np.int64)
    w[0, 0], w[0, 4], w[0, 1] = 1, -2, 7
    z = np.zeros(1, dtype=np.int64)
    cm = wc.compress(w, z, z, z, lanes=4, weight_bits=4)
    assert cm.mask_words == [0b11 | 0b1 << 16]
    assert cm.beats == 2
    # beat 0 in bits 4l..: lane0=1, lane1=7; beat 1 in bits 16+4l..: lane0=-2 (0xE), lane1 padding 0.
    assert cm.value_words == [0x1 | 0x7 << 4 | 0xE << 16]


def test_param_words():
    rng = np.random.default_rng(1)
    w, cm = make(rng, 5, 100, 8, 4, 0.5, out16=True)
    words = wc.param_words(cm, mask_base=12, value_base=345)
    assert len(words) == wf.param_words(5)
    assert wf.HEADER0.unpack(words[0]) == dict(magic=wf.MATRIX_MAGIC, w4=1, out16=1, lanes=8, rows=5, cols=100)
    assert wf.HEADER1.unpack(words[1]) == dict(mask_base=12, value_base=345, beats=cm.beats)
    bias, mult, shift = wc.row_params_from_words(words[2:])
    for got, want in zip((bias, mult, shift), (cm.bias, cm.mult, cm.shift)):
        np.testing.assert_array_equal(got, want)


# --- compress validation --------------------------------------------------------------------------

def _z(n):
    return np.zeros(n, dtype=np.int64)


@pytest.mark.parametrize("weights, kwargs, message", [
    (np.full((2, 3), 8), dict(lanes=4, weight_bits=4), "weights must be int4 in [-8, 7], found [8, 8]"),
    (np.full((2, 3), -129), dict(lanes=4, weight_bits=8), "weights must be int8 in [-128, 127], found [-129, -129]"),
    (np.zeros((2, 3)), dict(lanes=4, weight_bits=8), "weights must be a 2-D integer array, got dtype float64 shape (2, 3)"),
    (np.zeros((2, 0), int), dict(lanes=4, weight_bits=8), "rows and cols must be in [1, 65535], got shape (2, 0)"),
    (np.zeros((2, 65536), int), dict(lanes=4, weight_bits=8), "rows and cols must be in [1, 65535], got shape (2, 65536)"),
    (np.zeros((2, 3), int), dict(lanes=6, weight_bits=8), "lanes must be a power of two in [2, 32], got 6"),
    (np.zeros((2, 3), int), dict(lanes=4, weight_bits=2), "weight_bits must be one of (4, 8), got 2"),
])
def test_compress_rejects(weights, kwargs, message):
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        wc.compress(weights, _z(2), _z(2), _z(2), **kwargs)


def test_compress_rejects_row_params():
    w = np.zeros((2, 3), int)
    with pytest.raises(ValueError, match=re.escape("shift must be in [0, 63], found [0, 64]")):
        wc.compress(w, _z(2), _z(2), np.array([0, 64]), lanes=4, weight_bits=8)
    with pytest.raises(ValueError, match=re.escape("bias must be an integer array of shape (2,), got dtype int64 shape (3,)")):
        wc.compress(w, _z(3), _z(2), _z(2), lanes=4, weight_bits=8)


# --- strict decoding of inconsistent words --------------------------------------------------------

def _small():
    w = np.zeros((2, 20), dtype=np.int64)
    w[0, 0], w[0, 1], w[1, 5] = 3, -1, 2
    return w, wc.compress(w, _z(2), _z(2), _z(2), lanes=4, weight_bits=8)


def test_decompress_rejects_beat_mismatch():
    _, cm = _small()
    cm.beats, cm.value_words = cm.beats - 1, cm.value_words[:-1]
    with pytest.raises(WeightTruncatedError, match=r"^weight stream truncated at mask word 1 \(row 1, segment 0\): "
                                                   r"masks need 2 value beats, the header declares 1$"):
        wc.decompress(cm)
    _, cm = _small()
    cm.beats, cm.value_words = cm.beats + 1, cm.value_words + [0]
    with pytest.raises(WeightLengthError, match=r"^weight stream length mismatch at mask word 1: "
                                                r"masks use 2 value beats, the header declares 3$"):
        wc.decompress(cm)


def test_decompress_rejects_padding_zero_values_and_stray_bits():
    _, cm = _small()
    cm.value_words[0] |= 0x55 << 24                 # lane 3 of beat 0 is padding
    with pytest.raises(WeightStreamError, match=r"^non-zero padding in slot 3 of beat 0 at value word 0$"):
        wc.decompress(cm)
    _, cm = _small()
    cm.value_words[1] = 0                           # row 1's only weight becomes 0 under its mask bit
    with pytest.raises(WeightStreamError, match=r"^mask bit set for a zero weight at row 1 column 5 \(mask word 1\)$"):
        wc.decompress(cm)
    _, cm = _small()
    cm.mask_words[0] |= 1 << 15                     # row 0, lane 0, bit 15 -> column 60 >= 20
    with pytest.raises(WeightStreamError, match=r"^mask bit set for column 60 beyond cols 20 in row 0 at mask word 0$"):
        wc.decompress(cm)
    _, cm = _small()
    cm.mask_words = cm.mask_words[:-1]
    with pytest.raises(WeightStreamError, match=r"^expected 2 mask words for 2 rows x 1 segments, found 1$"):
        wc.decompress(cm)
    _, cm = _small()
    cm.value_words[0] = 1 << 32
    with pytest.raises(WeightStreamError, match=r"^value word 0 is outside \[0, 2\*\*32\): 0x100000000$"):
        wc.decompress(cm)


# --- byte serialization ---------------------------------------------------------------------------

def test_every_truncation_names_its_offset():
    _, cm = make(np.random.default_rng(2), 3, 40, 4, 4, 0.5)
    data = wc.to_bytes(cm)
    for n in range(len(data)):
        with pytest.raises(WeightStreamError,
                           match=rf"^weight stream truncated at byte {n}: expected \d+ more bytes of "
                                 r"(header|row params|masks|values|CRC)$"):
            wc.from_bytes(data[:n])


def test_truncation_message_counts_the_missing_section_bytes():
    _, cm = make(np.random.default_rng(3), 4, 64, 16, 8, 0.0)
    data = wc.to_bytes(cm)
    cut = len(data) - 4 - 64
    with pytest.raises(WeightStreamError, match=rf"^weight stream truncated at byte {cut}: expected 64 more bytes of values$"):
        wc.from_bytes(data[:cut])


def test_every_single_bit_flip_is_detected():
    _, cm = make(np.random.default_rng(4), 3, 40, 4, 4, 0.5)
    data = bytearray(wc.to_bytes(cm))
    for bit in range(len(data) * 8):
        data[bit // 8] ^= 1 << bit % 8
        with pytest.raises(WeightStreamError, match=r"byte \d+"):
            wc.from_bytes(bytes(data))
        data[bit // 8] ^= 1 << bit % 8


@FAST
@given(seed=st.integers(0, 2**32 - 1), rows=st.integers(1, 20), cols=st.integers(1, 200),
       lanes=st.sampled_from(LANES), weight_bits=st.sampled_from((4, 8)), data=st.data())
def test_random_bit_flip_is_detected(seed, rows, cols, lanes, weight_bits, data):
    _, cm = make(np.random.default_rng(seed), rows, cols, lanes, weight_bits, 0.5)
    stream = bytearray(wc.to_bytes(cm))
    bit = data.draw(st.integers(0, len(stream) * 8 - 1))
    stream[bit // 8] ^= 1 << bit % 8
    with pytest.raises(WeightStreamError, match=r"byte \d+"):
        wc.from_bytes(bytes(stream))


def _corrupt(data: bytes, offset: int, new: bytes) -> bytes:
    """Overwrite bytes and fix up the CRC, so that only the semantic checks can fail."""
    import struct
    import zlib
    body = bytearray(data[:-4])
    body[offset:offset + len(new)] = new
    return bytes(body) + struct.pack("<I", zlib.crc32(body))


@pytest.mark.parametrize("offset, new, message", [
    (0, b"NEPX", r"weight stream field magic at byte 0: expected b'NEPW', found b'NEPX'"),
    (4, b"\x02\x00", r"weight stream field version at byte 4: expected 1, found 2"),
    (6, b"\x05", r"weight stream field lanes at byte 6: expected a power of two in \[2, 32\], found 5"),
    (7, b"\x05", r"weight stream field weight_bits at byte 7: expected one of \(4, 8\), found 5"),
    (8, b"\x02", r"weight stream field flags at byte 8: expected only bit 0 \(out16\) set, found 0x02"),
    (10, b"\x00\x00", r"weight stream field rows at byte 10: expected \[1, 65535\], found 0"),
    (20, b"\x00\x00\x00\x00", r"weight stream field row_bytes at byte 20: expected 16 \(2 rows x 8 bytes\), found 0"),
])
def test_from_bytes_rejects_bad_fields(offset, new, message):
    _, cm = _small()
    with pytest.raises(WeightStreamError, match="^" + message + "$"):
        wc.from_bytes(_corrupt(wc.to_bytes(cm), offset, new))


def test_from_bytes_rejects_crc_trailing_and_semantic_errors():
    _, cm = _small()
    data = wc.to_bytes(cm)
    crc_at = len(data) - 4
    bad = data[:crc_at] + bytes(4)
    with pytest.raises(WeightStreamError, match=rf"^weight stream CRC mismatch over bytes 0\.\.{crc_at - 1}: "
                                                rf"stored 0x00000000 at byte {crc_at}, computed 0x[0-9a-f]{{8}}$"):
        wc.from_bytes(bad)
    with pytest.raises(WeightStreamError, match=rf"^weight stream has 1 trailing bytes at byte {len(data)}$"):
        wc.from_bytes(data + b"\x00")
    values_at = wc.HEADER_STRUCT.size + 2 * 8 + 2 * 8
    with pytest.raises(WeightStreamError, match=rf"^non-zero padding in slot 3 of beat 0 at byte {values_at}$"):
        wc.from_bytes(_corrupt(data, values_at + 3, b"\x55"))
    with pytest.raises(WeightStreamError, match=rf"^reserved bits set in row params of row 1 at byte {32 + 8}$"):
        wc.from_bytes(_corrupt(data, 32 + 8 + 7, b"\x80"))


# --- pruning and size -----------------------------------------------------------------------------

@FAST
@given(seed=st.integers(0, 2**32 - 1), rows=st.integers(1, 20), cols=st.integers(1, 300),
       lanes=st.sampled_from(LANES), sparsity=st.floats(0, 1))
def test_balanced_prune_keeps_equal_counts(seed, rows, cols, lanes, sparsity):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((rows, cols)) + 10.0          # no zeros, distinct magnitudes
    pruned = wc.balanced_prune(w, sparsity, lanes)
    kept_total = 0
    for groups in wc.lane_groups(cols, lanes):
        for group in groups:
            keep = int(np.floor((1 - sparsity) * len(group) + 0.5))
            kept = pruned[:, group] != 0
            assert (kept.sum(axis=1) == keep).all()
            # the kept entries are the largest of their group
            if 0 < keep < len(group):
                assert (np.abs(w[:, group])[kept].reshape(rows, keep).min(1)
                        >= np.abs(w[:, group])[~kept].reshape(rows, -1).max(1)).all()
            kept_total += keep * rows
    assert np.count_nonzero(pruned) == kept_total
    np.testing.assert_array_equal(pruned[pruned != 0], w[pruned != 0])


def test_lane_groups_partition_the_columns():
    groups = wc.lane_groups(150, 4)
    assert len(groups) == wf.segments(150, 4)
    flat = np.concatenate([g for seg in groups for g in seg])
    np.testing.assert_array_equal(np.sort(flat), np.arange(150))
    np.testing.assert_array_equal(groups[1][2], [wf.column(1, 2, b, 4) for b in range(16)])


def test_balanced_prune_is_padding_free_and_meets_bits_per_weight():
    rng = np.random.default_rng(5)
    w = rng.integers(1, 8, (256, 512)) * rng.choice([-1, 1], (256, 512))
    pruned = wc.balanced_prune(w, 0.5, 16)
    assert np.count_nonzero(pruned) == 256 * 512 // 2
    cm = wc.compress(pruned, *row_params(rng, 256), lanes=16, weight_bits=4)
    assert cm.beats == 256 * 512 // 2 // 16               # no padding slot anywhere
    bpw = wc.bits_per_weight(cm)
    assert 3.0 <= bpw <= 3.2, bpw
    assert wc.bits_per_weight(cm, include_row_params=True) == pytest.approx(bpw + 64 / 512)


def test_balanced_prune_int8_minimum_and_validation():
    w = np.array([[-128, 1, 2, 3]], dtype=np.int8)
    np.testing.assert_array_equal(wc.balanced_prune(w, 0.5, 4), w)  # one column per lane group: keeps round(0.5)=1
    with pytest.raises(ValueError, match=r"^sparsity must be in \[0, 1\], got 1.5$"):
        wc.balanced_prune(w, 1.5, 4)
