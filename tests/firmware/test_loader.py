"""loader: bus writes for every memory and the readers that invert them, against a fake bus."""

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from edgeasr.firmware import loader, weight_codec as wc
from edgeasr.firmware.errors import DeviceFault
from edgeasr.firmware.isa import ErrorCode
from edgeasr.firmware.memory_map import STATUS, Csr, Region, State, address


class FakeBus(dict):
    """Bus words by address; unwritten addresses read 0."""

    def apply(self, writes):
        for addr, data in writes:
            assert 0 <= data < 1 << 32
            self[addr] = data

    def read(self, addr):
        return self.get(addr, 0)


def test_region_writes_chunk_order():
    writes = loader.region_writes(Region.MASK, 2, [(1 << 255) | 5], 256)
    assert writes[0] == (address(Region.MASK, 16), 5)
    assert writes[7] == (address(Region.MASK, 23), 1 << 31)
    assert len(writes) == 8
    with pytest.raises(ValueError, match=r"^PARAM word 4 = 0x10000000000000000 does not fit 64 bits$"):
        loader.region_writes(Region.PARAM, 4, [1 << 64], 64)


def test_matrix_round_trip_through_the_bus():
    rng = np.random.default_rng(0)
    w = rng.integers(-8, 8, (5, 70))
    z = np.zeros(5, dtype=np.int64)
    cm = wc.compress(w, z, z + 3, z, lanes=8, weight_bits=4)
    bus = FakeBus()
    bus.apply(loader.matrix_writes(cm, 10, 20, 30))
    assert loader.region_read(bus.read, Region.PARAM, 10, 7, 64) == wc.param_words(cm, 20, 30)
    assert loader.region_read(bus.read, Region.MASK, 20, len(cm.mask_words), 128) == cm.mask_words
    assert loader.region_read(bus.read, Region.VALUE, 30, len(cm.value_words), 64) == cm.value_words


def test_spad_and_lut_entries():
    bus = FakeBus()
    values = np.array([-32768, -1, 0, 32767])
    bus.apply(loader.spad_writes(100, values))
    assert bus[address(Region.SPAD, 101)] == 0xFFFF
    assert_array_equal(loader.read_spad(bus.read, 100, 4), values)
    table = np.arange(256) - 128
    bus.apply(loader.lut_writes(3, table))
    assert bus[address(Region.LUT, 3 * 256)] == 0x80
    assert_array_equal(loader.read_lut(bus.read, 3), table)
    with pytest.raises(ValueError, match=r"^SPAD values must be in \[-32768, 32767\], found \[0, 32768\]$"):
        loader.spad_writes(0, np.array([0, 32768]))
    with pytest.raises(ValueError, match=r"^table must be in \[0, 4\), got 4$"):
        loader.lut_writes(4, table)


def test_counters_status_and_fault():
    bus = FakeBus()
    bus[address(Region.CSR, Csr.MACS_LO)] = 7
    bus[address(Region.CSR, Csr.MACS_HI)] = 2
    bus[address(Region.CSR, Csr.STATUS)] = STATUS.pack(state=State.ERROR, error=ErrorCode.OVERLAP, pc=12)
    assert loader.read_counters(bus.read) == dict(cycles=0, macs=7 | 2 << 32, skipped=0, stalls=0, retired=0)
    status = loader.read_status(bus.read)
    assert status == dict(state=State.ERROR, refused=0, error=ErrorCode.OVERLAP, pc=12)
    fault = loader.fault(status)
    assert isinstance(fault, DeviceFault)
    assert str(fault) == "device fault OVERLAP at pc 12"
    assert loader.fault(dict(state=State.HALTED, refused=0, error=0, pc=3)) is None
