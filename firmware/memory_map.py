"""The NEP's host bus: address map, control/status registers and the core's size parameters.

The bus carries 32-bit words at 24-bit word addresses; bits 23..20 select a region. A read returns
its data on `r_data` one clock after `r_en`. Memories wider than 32 bits are reached in 32-bit
chunks: bus offset = word * chunks + chunk, chunk 0 holding bits 31..0. Scratchpad and LUT entries
take one bus word each (written from the low bits, read back sign-extended).

While the core is BUSY, bus writes other than to CTRL.CLEAR_COUNTERS are dropped and set the sticky
STATUS.refused bit (cleared by the next START); registers can always be read, memories only while
the core is not BUSY (a memory read while BUSY returns 0 and sets `refused`).
"""

import enum
from dataclasses import dataclass

from .bitfields import Field, WordFormat
from .isa import INSTRUCTION_BITS, LUT_TABLES
from .number_formats import LUT_ENTRIES
from .weight_format import LANE_COUNTS, LANES_MAX, LANES_MIN, PARAM_WORD_BITS, mask_word_bits, value_word_bits

BUS_ADDR_BITS = 24
BUS_DATA_BITS = 32
REGION_SHIFT = 20
CORE_ID = 0x4E455031    # "NEP1"
FORMAT_VERSION = 1


class Region(enum.IntEnum):
    CSR = 0
    PROGRAM = 1
    SPAD = 2
    PARAM = 3
    MASK = 4
    VALUE = 5
    LUT = 6


class Csr(enum.IntEnum):
    """Register word offsets in the CSR region."""
    ID = 0x00               # RO  CORE_ID
    CONFIG = 0x01           # RO  CONFIG layout
    SPAD_DEPTH = 0x02       # RO  entries
    PROG_DEPTH = 0x03       # RO  instructions
    PARAM_DEPTH = 0x04      # RO  64-bit words
    MASK_DEPTH = 0x05       # RO  mask words
    VALUE_DEPTH = 0x06      # RO  value words
    CTRL = 0x08             # WO  CTRL bits
    PC_START = 0x09         # RW  first instruction of the next run
    STATUS = 0x0A           # RO  STATUS layout
    CYCLES_LO = 0x10        # RO  busy cycles
    CYCLES_HI = 0x11
    MACS_LO = 0x12          # RO  non-zero weights issued to lanes
    MACS_HI = 0x13
    SKIPPED_LO = 0x14       # RO  zero weights never issued (rows*cols - MACs of each MATVEC)
    SKIPPED_HI = 0x15
    STALLS_LO = 0x16        # RO  busy cycles in which no MAC and no element was issued
    STALLS_HI = 0x17
    RETIRED_LO = 0x18       # RO  instructions completed (HALT included)
    RETIRED_HI = 0x19


COUNTERS = ("cycles", "macs", "skipped", "stalls", "retired")


class Ctrl(enum.IntFlag):
    START = 1           # run from PC_START (clears status and error)
    CLEAR_COUNTERS = 2


class State(enum.IntEnum):
    IDLE = 0            # after reset
    BUSY = 1
    HALTED = 2          # ended at HALT
    ERROR = 3           # stopped with STATUS.error != NONE


STATUS = WordFormat("status", 32, [
    Field("state", 0, 2),
    Field("refused", 2, 1),
    Field("error", 8, 8),
    Field("pc", 16, 16),    # PC of the current instruction, or of the one that failed
])

CONFIG = WordFormat("config", 32, [
    Field("lanes", 0, 8),
    Field("mask_bits", 8, 8),
    Field("version", 16, 8),
])


def chunks(width_bits: int) -> int:
    """32-bit bus chunks per memory word, rounded up to a power of two."""
    n = -(-width_bits // BUS_DATA_BITS)
    return 1 << (n - 1).bit_length()


def address(region: Region, offset: int) -> int:
    return (int(region) << REGION_SHIFT) | offset


@dataclass(frozen=True)
class CoreConfig:
    """Size parameters of one NEP build; images are compiled for one of these."""
    lanes: int = 16
    spad_depth: int = 8192       # int16 entries, split over `lanes` banks
    prog_depth: int = 256        # instructions
    param_depth: int = 4096      # 64-bit words
    mask_depth: int = 4096       # words of lanes*16 bits
    value_depth: int = 16384     # words of lanes*8 bits

    def __post_init__(self):
        if self.lanes not in LANE_COUNTS:
            raise ValueError(f"lanes must be a power of two in [{LANES_MIN}, {LANES_MAX}], got {self.lanes}")
        if self.spad_depth % self.lanes:
            raise ValueError(f"spad_depth {self.spad_depth} must be a multiple of lanes {self.lanes}")
        for name in ("spad_depth", "prog_depth", "param_depth", "mask_depth", "value_depth"):
            depth = getattr(self, name)
            if not 0 < depth <= 1 << 16:
                raise ValueError(f"{name} must be in [1, 65536], got {depth}")

    def region_words(self) -> dict[Region, tuple[int, int]]:
        """(depth, bits per word) of each memory region."""
        return {
            Region.PROGRAM: (self.prog_depth, INSTRUCTION_BITS),
            Region.SPAD: (self.spad_depth, 16),
            Region.PARAM: (self.param_depth, PARAM_WORD_BITS),
            Region.MASK: (self.mask_depth, mask_word_bits(self.lanes)),
            Region.VALUE: (self.value_depth, value_word_bits(self.lanes)),
            Region.LUT: (LUT_TABLES * LUT_ENTRIES, 8),
        }
