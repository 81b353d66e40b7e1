"""The instruction-level golden model of one NEP core, behind the same bus as the RTL.

The bus (`write(addr, data)`, `read(addr)`) is the contract, exactly as `memory_map` describes it;
the attributes `spad`, `lut` and `counters` are conveniences for tests. CTRL.START runs the whole
program synchronously, so the core is never observed BUSY and STATUS.refused always reads 0.

Execution follows `isa` literally, checks in the documented order. Choices where the ISA leaves
room (the RTL must agree where a test depends on them):
- A failing MATVEC (any error, including WEIGHT_TRUNCATED/WEIGHT_LENGTH) leaves all memory unchanged.
- Mask bits for columns >= cols are ignored (they issue no MAC and need no value beat); padding
  slots are never read; a set mask bit over a zero value is issued and counts as a MAC.
- STATUS.pc after HALT is the HALT's address; it holds the low 16 bits of the PC.
- Bus writes outside a memory's depth and to read-only or unknown registers are ignored; reads of
  them return 0.
- cycles and stalls are an estimate (the RTL's are authoritative): every instruction takes one
  cycle that issues nothing (a stall); a MATVEC adds max(1, k) cycles per (row, segment) with k
  value beats, those with k == 0 being stalls; ACT/EW add ceil(len / lanes) cycles.
"""

import numpy as np

from . import ops
from .errors import WeightLengthError, WeightTruncatedError
from .isa import INSTRUCTION, LUT_TABLES, ErrorCode, Ew, Opcode, decode_error
from .memory_map import (BUS_ADDR_BITS, BUS_DATA_BITS, CONFIG, CORE_ID, FORMAT_VERSION, REGION_SHIFT, STATUS,
                         CoreConfig, Csr, Ctrl, Region, State, chunks)
from .number_formats import LUT_ENTRIES, SPAD_BITS, ACT_BITS, default_luts, wrap
from .weight_codec import decode_arrays, row_params_from_words
from .weight_format import (HEADER0, HEADER1, HEADER_WORDS, MASK_BITS_PER_LANE, MATRIX_MAGIC, WBITS_CODE,
                            segments, value_words)

DATA_MASK = (1 << BUS_DATA_BITS) - 1
COUNTER_MASK = (1 << 64) - 1
_WEIGHT_BITS = {code: bits for bits, code in WBITS_CODE.items()}
_COUNTER_CSRS = {
    Csr.CYCLES_LO: "cycles", Csr.MACS_LO: "macs", Csr.SKIPPED_LO: "skipped",
    Csr.STALLS_LO: "stalls", Csr.RETIRED_LO: "retired",
}


def _meets(x: int, y: int, n_x: int, n_y: int) -> bool:
    """[x, x + n_x) and [y, y + n_y) share an entry."""
    return n_x > 0 and n_y > 0 and x < y + n_y and y < x + n_x


class GoldenCore:
    """A NEP core of size `config`, reset state: memories zero, LUTs default, status IDLE."""

    def __init__(self, config: CoreConfig = CoreConfig()):
        self.config = config
        regions = config.region_words()
        self._wide = {}
        for region in (Region.PROGRAM, Region.PARAM, Region.MASK, Region.VALUE):
            depth, bits = regions[region]
            self._wide[region] = np.zeros((depth, chunks(bits)), dtype="<u4")
        # A word narrower than the bus (2-lane values: 16 bits) keeps only its own bits.
        self._chunk_mask = {region: (1 << min(regions[region][1], BUS_DATA_BITS)) - 1 for region in self._wide}
        self.spad = np.zeros(config.spad_depth, dtype=np.int64)
        self.lut = default_luts()
        self.counters = dict.fromkeys(_COUNTER_CSRS.values(), 0)
        self.pc_start = 0
        self.state, self.error, self.pc = State.IDLE, ErrorCode.NONE, 0

    # --- bus ---------------------------------------------------------------------------------------

    def write(self, addr: int, data: int):
        """One 32-bit bus write."""
        self._check_bus(addr, data)
        region, offset = addr >> REGION_SHIFT, addr & ((1 << REGION_SHIFT) - 1)
        if region in self._wide:
            mem = self._wide[region]
            word, chunk = divmod(offset, mem.shape[1])
            if word < mem.shape[0]:
                mem[word, chunk] = data & self._chunk_mask[region]
        elif region == Region.SPAD:
            if offset < self.spad.size:
                self.spad[offset] = wrap(data & ((1 << SPAD_BITS) - 1), SPAD_BITS)
        elif region == Region.LUT:
            if offset < LUT_TABLES * LUT_ENTRIES:
                self.lut[divmod(offset, LUT_ENTRIES)] = wrap(data & ((1 << ACT_BITS) - 1), ACT_BITS)
        elif region == Region.CSR:
            if offset == Csr.CTRL:
                if data & Ctrl.CLEAR_COUNTERS:
                    self.counters = dict.fromkeys(self.counters, 0)
                if data & Ctrl.START:
                    self._run()
            elif offset == Csr.PC_START:
                self.pc_start = data & 0xFFFF

    def read(self, addr: int) -> int:
        """One 32-bit bus read (scratchpad and LUT entries sign-extended to 32 bits)."""
        self._check_bus(addr, 0)
        region, offset = addr >> REGION_SHIFT, addr & ((1 << REGION_SHIFT) - 1)
        if region in self._wide:
            mem = self._wide[region]
            word, chunk = divmod(offset, mem.shape[1])
            return int(mem[word, chunk]) if word < mem.shape[0] else 0
        if region == Region.SPAD:
            return int(self.spad[offset]) & DATA_MASK if offset < self.spad.size else 0
        if region == Region.LUT:
            if offset < LUT_TABLES * LUT_ENTRIES:
                return int(self.lut[divmod(offset, LUT_ENTRIES)]) & DATA_MASK
            return 0
        if region == Region.CSR:
            return self._read_csr(offset)
        return 0

    @staticmethod
    def _check_bus(addr: int, data: int):
        if not 0 <= addr < 1 << BUS_ADDR_BITS:
            raise ValueError(f"bus address {addr:#x} does not fit {BUS_ADDR_BITS} bits")
        if not 0 <= data <= DATA_MASK:
            raise ValueError(f"bus data {data:#x} does not fit {BUS_DATA_BITS} bits")

    def _read_csr(self, offset: int) -> int:
        c = self.config
        fixed = {
            Csr.ID: CORE_ID,
            Csr.CONFIG: CONFIG.pack(lanes=c.lanes, mask_bits=MASK_BITS_PER_LANE, version=FORMAT_VERSION),
            Csr.SPAD_DEPTH: c.spad_depth, Csr.PROG_DEPTH: c.prog_depth, Csr.PARAM_DEPTH: c.param_depth,
            Csr.MASK_DEPTH: c.mask_depth, Csr.VALUE_DEPTH: c.value_depth,
            Csr.PC_START: self.pc_start,
            Csr.STATUS: STATUS.pack(state=self.state, refused=0, error=self.error, pc=self.pc & 0xFFFF),
        }
        if offset in fixed:
            return fixed[offset]
        for lo, name in _COUNTER_CSRS.items():
            if offset in (lo, lo + 1):
                value = self.counters[name] & COUNTER_MASK
                return (value >> (BUS_DATA_BITS * (offset - lo))) & DATA_MASK
        return 0

    def _word_bytes(self, region: Region, first: int, count: int) -> np.ndarray:
        """Words `first`.. of a wide memory as (count, bytes per word) little-endian bytes; a word
        narrower than its 32-bit chunk (2-lane values) drops the chunk's unused bytes."""
        width = self.config.region_words()[region][1] // 8
        return self._wide[region][first:first + count].view(np.uint8)[:, :width]

    # --- execution ---------------------------------------------------------------------------------

    def _count(self, cycles: int = 0, stalls: int = 0, macs: int = 0, skipped: int = 0, retired: int = 0):
        for name, n in (("cycles", cycles), ("stalls", stalls), ("macs", macs), ("skipped", skipped),
                        ("retired", retired)):
            self.counters[name] = (self.counters[name] + n) & COUNTER_MASK

    def _run(self):
        """Execute from PC_START until HALT or an error (the PC only increases, so this ends)."""
        self.state, self.error = State.BUSY, ErrorCode.NONE
        pc = self.pc_start
        while True:
            self.pc = pc
            self._count(cycles=1, stalls=1)
            if pc >= self.config.prog_depth:
                return self._stop(ErrorCode.ADDRESS_RANGE)
            word = int.from_bytes(self._wide[Region.PROGRAM][pc].tobytes(), "little")
            error = decode_error(word)
            if error != ErrorCode.NONE:
                return self._stop(error)
            f = INSTRUCTION.unpack(word)
            op = Opcode(f["opcode"])
            if op == Opcode.MATVEC:
                error = self._matvec(f["dst"], f["a"], f["b"])
            elif op == Opcode.ACT:
                error = self._elementwise(f, (f["a"],), lambda a: ops.act(a, self.lut[f["func"]], f["shift"]))
            elif op == Opcode.EW:
                error = self._elementwise(f, (f["a"], f["b"]),
                                          lambda a, b: ops.ew(Ew(f["func"]), a, b, f["shift"], bool(f["sat16"])))
            if error != ErrorCode.NONE:
                return self._stop(error)
            self._count(retired=1)
            if op == Opcode.HALT:
                self.state = State.HALTED
                return
            pc += 1

    def _stop(self, error: ErrorCode):
        self.state, self.error = State.ERROR, error

    def _elementwise(self, f: dict, sources: tuple, compute) -> ErrorCode:
        """ACT/EW: checks 2 (ranges) and 3 (overlap), then spad[dst + i] = compute(*sources)[i]."""
        dst, n, depth = f["dst"], f["len"], self.spad.size
        if any(x + n > depth for x in sources + (dst,)):
            return ErrorCode.ADDRESS_RANGE
        if any(dst != x and _meets(dst, x, n, n) for x in sources):
            return ErrorCode.OVERLAP
        if n:
            self.spad[dst:dst + n] = compute(*(self.spad[x:x + n] for x in sources))
            self._count(cycles=-(-n // self.config.lanes))
        return ErrorCode.NONE

    def _matvec(self, dst: int, src: int, mat: int) -> ErrorCode:
        """MATVEC checks 2..7 in the ISA's order, then the product; memory is unchanged on error."""
        c = self.config
        params = self._wide[Region.PARAM].view("<u8")[:, 0]
        if mat + HEADER_WORDS > c.param_depth:
            return ErrorCode.ADDRESS_RANGE
        word0, word1 = int(params[mat]), int(params[mat + 1])
        h0, h1 = HEADER0.unpack(word0), HEADER1.unpack(word1)
        rows, cols, beats = h0["rows"], h0["cols"], h1["beats"]
        if (h0["magic"] != MATRIX_MAGIC or h0["lanes"] != c.lanes or rows == 0 or cols == 0
                or HEADER0.reserved_bits(word0) or HEADER1.reserved_bits(word1)):
            return ErrorCode.WEIGHT_HEADER
        weight_bits = _WEIGHT_BITS[h0["w4"]]
        n_mask, n_value = rows * segments(cols, c.lanes), value_words(beats, weight_bits)
        mask_base, value_base = h1["mask_base"], h1["value_base"]
        if (mat + HEADER_WORDS + rows > c.param_depth or mask_base + n_mask > c.mask_depth
                or value_base + n_value > c.value_depth or src + cols > c.spad_depth or dst + rows > c.spad_depth):
            return ErrorCode.ADDRESS_RANGE
        if src % c.lanes:
            return ErrorCode.MISALIGNED
        if _meets(dst, src, rows, cols):
            return ErrorCode.OVERLAP
        try:
            decoded = decode_arrays(
                lanes=c.lanes, weight_bits=weight_bits, rows=rows, cols=cols, beats=beats, strict=False,
                mask_bytes=self._word_bytes(Region.MASK, mask_base, n_mask),
                value_bytes=self._word_bytes(Region.VALUE, value_base, n_value))
        except WeightTruncatedError:
            return ErrorCode.WEIGHT_TRUNCATED
        except WeightLengthError:
            return ErrorCode.WEIGHT_LENGTH
        bias, mult, shift = row_params_from_words(params[mat + HEADER_WORDS:mat + HEADER_WORDS + rows])
        out_bits = SPAD_BITS if h0["out16"] else ACT_BITS
        self.spad[dst:dst + rows] = ops.matvec(decoded.weights, self.spad[src:src + cols], bias, mult, shift,
                                               out_bits)
        k = decoded.segment_beats
        self._count(cycles=int(np.maximum(k, 1).sum()), stalls=int((k == 0).sum()),
                    macs=decoded.macs, skipped=rows * cols - decoded.macs)
        return ErrorCode.NONE
