"""The device image: round trip, every truncation and bit flip rejected, structural errors named, loading."""

import struct
import zlib

import numpy as np
import pytest

from edgeasr.firmware import weight_codec
from edgeasr.firmware.assembler import Program
from edgeasr.firmware.errors import DeviceError, ImageError
from edgeasr.firmware.memory_map import CoreConfig, Region
from edgeasr.host.backends.golden import GoldenDevice
from edgeasr.host.device import open_device
from edgeasr.firmware.image import (HEADER, HEADER_OFFSETS, SECTION, SECTION_OFFSETS, SYMBOL, SYMBOL_OFFSETS, Image, Section,
                                SectionFlag, SectionType, Symbol, load_image)
from edgeasr.verif.random_program import regress_config

CONFIG = regress_config(8)


def make_image(config=CONFIG, seed=0) -> Image:
    rng = np.random.default_rng(seed)
    lanes = config.lanes
    w = weight_codec.balanced_prune(rng.integers(-8, 8, (20, 70)), 0.5, lanes)
    cm = weight_codec.compress(w, rng.integers(-500, 500, 20), np.full(20, 1 << 14, np.int64),
                               np.full(20, 20, np.int64), lanes=lanes, weight_bits=4)
    step = Program().matvec(dst=128, src=0, mat=0).act(dst=160, a=128, length=20, table=1).halt().words()
    other = Program().ew(0, dst=200, a=160, b=160, length=20).halt().words()
    return Image(config, [Section.code(0, step), Section.code(8, other), *Section.matrix(cm, 0, 0, 0),
                          Section.data(0, rng.integers(-128, 128, 70)),
                          Section.table(1, rng.integers(-128, 128, 256), SectionFlag.VERIFY)],
                 entry_points={"encoder_step": 0, "joint": 8},
                 symbols={"features": Symbol(0, 70, 1 / 16), "logits": Symbol(200, 20, 0.125)})


def with_crc(body: bytes) -> bytes:
    """`body` (an image without its CRC) with a correct CRC: structural checks must still catch it."""
    return body + struct.pack("<I", zlib.crc32(body))


def patched(data: bytes, at: int, fmt: str, value) -> bytes:
    body = bytearray(data[:-4])
    struct.pack_into("<" + fmt, body, at, value)
    return with_crc(bytes(body))


def test_round_trip_is_exact():
    image = make_image()
    data = image.to_bytes()
    back = Image.from_bytes(data)
    assert back == image
    assert back.to_bytes() == data
    assert back.entry_points == {"encoder_step": 0, "joint": 8}
    assert back.symbols["features"] == Symbol(0, 70, 0.0625)


def test_every_truncation_is_rejected_naming_a_byte():
    data = make_image().to_bytes()
    for n in range(len(data)):
        with pytest.raises(ImageError, match=r"byte \d+") as e:
            Image.from_bytes(data[:n])
        if n < HEADER.size:
            assert str(e.value) == f"image truncated at byte {n}: expected a {HEADER.size}-byte header"
        else:
            assert str(e.value) == f"image truncated: it is {n} bytes but field total_bytes at byte 44 " \
                                   f"declares {len(data)}"


def test_every_bit_flip_is_rejected():
    data = make_image().to_bytes()
    for bit in range(8 * len(data)):
        flipped = bytearray(data)
        flipped[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(ImageError, match=r"byte \d+"):
            Image.from_bytes(bytes(flipped))


def test_header_errors_name_field_and_offset():
    data = make_image().to_bytes()
    with pytest.raises(ImageError, match=r"^image field magic at byte 0: expected b'NEPI', found b'NEPW'$"):
        Image.from_bytes(b"NEPW" + data[4:])
    with pytest.raises(ImageError, match=r"^image field image_version at byte 4: expected 2, found 1$"):
        Image.from_bytes(patched(data, 4, "H", 1))      # an image from before feature_stride
    with pytest.raises(ImageError, match=r"^image has trailing bytes: it is \d+ bytes but field total_bytes at "
                                         r"byte 44 declares \d+$"):
        Image.from_bytes(data + b"\0")
    with pytest.raises(ImageError, match=r"^image CRC mismatch over bytes 0\.\.\d+: stored 0x[0-9a-f]{8} at byte "
                                         r"\d+, computed 0x[0-9a-f]{8}$"):
        Image.from_bytes(data[:-1] + bytes([data[-1] ^ 1]))


def test_feature_stride_round_trips_and_is_checked():
    image = make_image()
    image.feature_stride = 2
    assert Image.from_bytes(image.to_bytes()).feature_stride == 2
    at = HEADER_OFFSETS["feature_stride"]
    with pytest.raises(ImageError, match=rf"^image field feature_stride at byte {at}: expected 1\.\.16, found 0$"):
        Image.from_bytes(patched(image.to_bytes(), at, "I", 0))


def _section_field(index: int, name: str) -> int:
    return HEADER.size + index * SECTION.size + SECTION_OFFSETS[name]


def test_structural_errors_with_a_valid_crc_are_named():
    data = make_image().to_bytes()
    at = _section_field(0, "region")
    with pytest.raises(ImageError, match=rf"^image field section\[0\]\.region at byte {at}: expected PROGRAM \(1\) "
                                         rf"for a CODE section, found 3$"):
        Image.from_bytes(patched(data, at, "B", int(Region.PARAM)))
    at = _section_field(1, "base")          # the second program now starts inside the first
    with pytest.raises(ImageError, match=rf"^image field section\[1\]\.base at byte {at}: expected a PROGRAM range "
                                         rf"disjoint from section 0's \[0, 3\), found \[2, 4\)$"):
        Image.from_bytes(patched(data, at, "I", 2))
    at = _section_field(0, "flags")
    with pytest.raises(ImageError, match=rf"^image field section\[0\]\.flags at byte {at}: expected only bit 0 "
                                         rf"\(VERIFY\) set, found 0x0004$"):
        Image.from_bytes(patched(data, at, "H", 4))
    at = _section_field(0, "length")
    with pytest.raises(ImageError, match=rf"^image field section\[0\]\.length at byte {at}: expected 1\.\.64 words "
                                         rf"\(PROGRAM has 64 words, base 0\), found 65$"):
        Image.from_bytes(patched(data, at, "I", 65))
    symbols_at = HEADER.size + 7 * SECTION.size + 2 * 36
    at = symbols_at + SYMBOL_OFFSETS["scale"]
    with pytest.raises(ImageError, match=rf"^image field symbol\[0\]\.scale at byte {at}: expected a finite positive "
                                         rf"number, found -1\.0$"):
        Image.from_bytes(patched(data, at, "d", -1.0))
    with pytest.raises(ImageError, match=rf"^image field symbol\[1\]\.name at byte {symbols_at + SYMBOL.size}: "
                                         rf"expected a name not used before, found 'features'$"):
        Image.from_bytes(patched(data, symbols_at + SYMBOL.size, "32s", b"features"))


def test_building_a_bad_image_fails_before_any_bytes():
    with pytest.raises(ImageError, match=r"^scratchpad values must be in \[-32768, 32767\], found \[0, 40000\]$"):
        Section.data(0, [0, 40000])
    assert [s.region for s in Section.matrix(weight_codec.compress(
        np.zeros((3, 5), np.int64), np.zeros(3, np.int64), np.ones(3, np.int64), np.zeros(3, np.int64), lanes=8,
        weight_bits=8), 0, 0, 0)] == [Region.PARAM, Region.MASK]          # an all-zero matrix has no values
    image = make_image()
    image.sections.append(Section.code(40, []))
    with pytest.raises(ImageError, match=r"^section 7 \(PROGRAM\) has no words; leave empty sections out$"):
        image.to_bytes()
    image = make_image()
    image.entry_points["bad name"] = 0
    with pytest.raises(ImageError, match=r"^name 'bad name' must be an identifier"):
        image.to_bytes()
    image = make_image()
    image.entry_points["late"] = CONFIG.prog_depth
    with pytest.raises(ImageError, match=r"^image field entry\[2\]\.pc at byte \d+: expected < 64 \(program depth\), "
                                         r"found 64$"):
        image.validate()


def test_load_image_rejects_another_core():
    image = make_image(CoreConfig(lanes=16, spad_depth=2048, prog_depth=64, param_depth=1024, mask_depth=1024,
                                  value_depth=4096))
    with pytest.raises(ImageError, match=r"^image compiled for CoreConfig\(lanes=16, .*\) but the device is "
                                         r"CoreConfig\(lanes=8, .*\) \(image vs device: lanes 16 vs 8\)$"):
        load_image(GoldenDevice(CONFIG), image)
    image = make_image(CoreConfig(lanes=8, spad_depth=2048, prog_depth=64, param_depth=1024, mask_depth=1024,
                                  value_depth=8192))
    with pytest.raises(ImageError, match=r"\(image vs device: value_depth 8192 vs 4096\)$"):
        load_image(GoldenDevice(CONFIG), image)


@pytest.mark.parametrize("spec", ["golden", "verilator"])
def test_load_image_writes_every_section_and_entry_points_run(spec):
    image = Image.from_bytes(make_image().to_bytes())
    with open_device(spec, CONFIG) as dev:
        load_image(dev, image)
        for s in image.sections:
            assert dev.read_words(s.region, s.base, len(s.words)) == s.words, (spec, s.region.name)
        dev.run(image.entry_points["encoder_step"])
        dev.run(image.entry_points["joint"])
        logits = image.symbols["logits"]
        out = dev.read_spad(logits.base, logits.length)
    reference = GoldenDevice(CONFIG)
    reference.write_many(image.writes())
    reference.run(0)
    reference.run(8)
    np.testing.assert_array_equal(out, reference.read_spad(logits.base, logits.length))


class DroppingDevice(GoldenDevice):
    """A golden core behind a link that loses the 10th write."""

    def _write_pairs(self, pairs):
        super()._write_pairs(np.delete(pairs, 9, axis=0) if len(pairs) > 9 else pairs)


def test_verify_flag_catches_a_lossy_link():
    image = make_image()
    for s in image.sections:
        s.flags = SectionFlag(0)
    image.sections = [Section.table(2, np.arange(-128, 128), SectionFlag.VERIFY)] + image.sections
    with pytest.raises(DeviceError, match=r"^golden: section 0 \(LUT\) word 521 reads back 0x[0-9a-f]+, wrote 0x89$"):
        load_image(DroppingDevice(CONFIG), image)
    assert SectionType.TABLES in {s.type for s in image.sections}
