"""cocotb bench of the sequencer (through `harnesses.SequencerHarness`), the golden core as oracle.

Random programs mix legal instructions with malformed ones (unknown opcodes, reserved bits,
stray fields, big shifts), out-of-range, misaligned and overlapping operands, and bad matrix
headers. The bench plays the MATVEC and ACT/EW units with random latencies (done may come the
cycle after start) and sometimes makes a MATVEC report a weight-stream error. It checks every
dispatched job field by field, the final state, error code and PC against `GoldenCore`, the
retired count, and that every run ends within a cycle bound.
"""

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly

from ..firmware import loader
from ..firmware.assembler import disassemble
from ..firmware.golden_core import GoldenCore
from ..firmware.isa import INSTRUCTION, LUT_TABLES, ErrorCode, Ew, Opcode, encode
from ..firmware.memory_map import CoreConfig, Csr, Ctrl, Region, State
from ..firmware.weight_format import HEADER0, HEADER1, MATRIX_MAGIC, PARAM_WORD_BITS, segments
from .simulator import bench_params

MV_FIELDS = ("rows", "cols", "segs", "w4", "out16", "mask_base", "value_base", "beats", "dst", "src", "mat")
ACT_FIELDS = ("act", "func", "shift", "sat16", "dst", "a", "b", "len")


def random_header(rng, cfg):
    """Header words of a matrix with beats=0 (all-zero masks), sometimes corrupt."""
    rows, cols = int(rng.integers(1, 40)), int(rng.integers(1, 600))
    h0 = dict(magic=MATRIX_MAGIC, w4=int(rng.integers(2)), out16=int(rng.integers(2)), lanes=cfg.lanes,
              rows=rows, cols=cols)
    h1 = dict(mask_base=int(rng.integers(0, cfg.mask_depth)), value_base=int(rng.integers(0, cfg.value_depth)), beats=0)
    fault = rng.random()
    if fault < 0.05:
        h0["magic"] = int(rng.integers(256)) ^ MATRIX_MAGIC or 1
    elif fault < 0.1:
        h0["lanes"] = cfg.lanes // 2
    elif fault < 0.13:
        h0["rows"] = 0
    elif fault < 0.16:
        h0["cols"] = 0
    w0, w1 = HEADER0.pack(**h0), HEADER1.pack(**h1)
    if rng.random() < 0.04:
        reserved = [i for i in range(64) if HEADER0.reserved_mask >> i & 1]
        w0 |= 1 << int(rng.choice(reserved))
    return w0, w1


def random_instruction(rng, cfg, mats):
    depth = cfg.spad_depth
    kind = rng.random()
    if kind < 0.3:
        n = cfg.lanes
        src = int(rng.integers(0, depth // n)) * n
        if rng.random() < 0.05:
            src += 1
        return encode(Opcode.MATVEC, dst=int(rng.integers(0, depth)), a=src,
                      b=int(rng.choice(mats)) if rng.random() < 0.95 else cfg.param_depth - 1)
    if kind < 0.75:
        length = int(rng.integers(0, 64))
        a, b = int(rng.integers(0, depth)), int(rng.integers(0, depth))
        dst = a if rng.random() < 0.3 else int(rng.integers(0, depth))
        if rng.random() < 0.5:
            return encode(Opcode.ACT, func=int(rng.integers(LUT_TABLES)), shift=int(rng.integers(0, 32)),
                          dst=dst, a=a, len=length)
        return encode(Opcode.EW, func=int(rng.integers(len(Ew))), sat16=int(rng.integers(2)),
                      shift=int(rng.integers(0, 32)), dst=dst, a=a, b=b, len=length)
    if kind < 0.85:
        return encode(Opcode.NOP)
    # Malformed: a legal-looking word with one thing wrong.
    word = encode(Opcode.EW, func=0, dst=1, a=2, b=3, len=1)
    choice = int(rng.integers(5))
    if choice == 0:
        word = INSTRUCTION.pack(opcode=int(rng.integers(5, 256)))
    elif choice == 1:
        reserved = [i for i in range(128) if INSTRUCTION.reserved_mask >> i & 1]
        word |= 1 << int(rng.choice(reserved))
    elif choice == 2:
        word = encode(Opcode.NOP, dst=int(rng.integers(1, 100)))
    elif choice == 3:
        word = encode(Opcode.ACT, func=int(rng.integers(LUT_TABLES, 16)), dst=1, a=2, len=1)
    else:
        word = encode(Opcode.EW, func=0, shift=int(rng.integers(32, 64)), dst=1, a=2, b=3, len=1)
    return word


def golden_outcome(cfg, program, pc_start, params):
    core = GoldenCore(cfg)
    for addr, data in (loader.program_writes(program, pc_start) +
                       loader.region_writes(Region.PARAM, 0, params, PARAM_WORD_BITS)):
        core.write(addr, data)
    core.write(*loader.csr_write(Csr.PC_START, pc_start))
    core.write(*loader.csr_write(Csr.CTRL, Ctrl.START))
    status = loader.read_status(core.read)
    return status["state"], status["error"], status["pc"], loader.read_counters(core.read)["retired"]


def expected_job(cfg, word, params):
    f = INSTRUCTION.unpack(word)
    if f["opcode"] == Opcode.MATVEC:
        h0, h1 = HEADER0.unpack(params[f["b"]]), HEADER1.unpack(params[f["b"] + 1])
        return "mv", dict(rows=h0["rows"], cols=h0["cols"], segs=segments(h0["cols"], cfg.lanes), w4=h0["w4"],
                          out16=h0["out16"], mask_base=h1["mask_base"], value_base=h1["value_base"],
                          beats=h1["beats"], dst=f["dst"], src=f["a"], mat=f["b"])
    return "act", dict(act=int(f["opcode"] == Opcode.ACT), func=f["func"], shift=f["shift"], sat16=f["sat16"],
                       dst=f["dst"], a=f["a"], b=f["b"], len=f["len"])


class SequencerTB:
    def __init__(self, dut):
        self.dut = dut
        self.cfg = CoreConfig(**bench_params())

    async def setup(self):
        d = self.dut
        cocotb.start_soon(Clock(d.clk, 10, unit="ns").start())
        d.rst.value = 0
        for name in ("start", "prog_w_en", "param_w_en", "mv_done", "act_done", "mv_error"):
            getattr(d, name).value = 0
        await FallingEdge(d.clk)

    async def load(self, program, pc_start, params):
        d = self.dut
        for i, word in enumerate(program):
            d.prog_w_addr.value, d.prog_w_data.value, d.prog_w_en.value = pc_start + i, word, 1
            await FallingEdge(d.clk)
        d.prog_w_en.value = 0
        for i, word in enumerate(params):
            d.param_w_addr.value, d.param_w_data.value, d.param_w_en.value = i, word, 1
            await FallingEdge(d.clk)
        d.param_w_en.value = 0

    async def run(self, pc_start, rng, fail_at_job, fail_code, max_cycles):
        """Start; play the units; return (jobs, retired, cycles).

        Each cycle: on the falling edge drive the units' done/error, then sample in ReadOnly,
        where the sequencer's combinational outputs already see them.
        """
        d = self.dut
        d.pc_start.value, d.start.value = pc_start, 1
        await FallingEdge(d.clk)
        d.start.value = 0
        jobs, retired, pending, cycles = [], 0, None, 0
        while True:
            await FallingEdge(d.clk)
            d.mv_done.value = d.act_done.value = d.mv_error.value = 0
            if pending is not None:
                if pending[1] == 0:
                    getattr(d, f"{pending[0]}_done").value = 1
                    if pending[0] == "mv" and len(jobs) - 1 == fail_at_job:
                        d.mv_error.value = fail_code
                    pending = None
                else:
                    pending[1] -= 1
            await ReadOnly()
            if not int(d.busy.value):
                break
            cycles += 1
            assert cycles < max_cycles, f"sequencer still busy after {cycles} cycles"
            retired += int(d.retired.value)
            for unit, fields in (("mv", MV_FIELDS), ("act", ACT_FIELDS)):
                if int(getattr(d, f"{unit}_start").value):
                    assert pending is None, f"{unit} started while a {pending[0]} job runs"
                    jobs.append((unit, {f: int(getattr(d, f"{unit}_{f}").value) for f in fields}))
                    pending = [unit, int(rng.integers(0, 5))]    # done 1..5 cycles after start
        await FallingEdge(d.clk)
        d.mv_done.value = d.act_done.value = d.mv_error.value = 0
        return jobs, retired, cycles


@cocotb.test()
async def random_programs(dut):
    tb = SequencerTB(dut)
    cfg = tb.cfg
    await tb.setup()
    seed = bench_params().get("seed", 17)
    rng = np.random.default_rng(seed)
    for case in range(60):
        params = [0] * 64
        mats = []
        for i in range(8):
            at = int(rng.integers(0, 31)) * 2
            params[at], params[at + 1] = random_header(rng, cfg)
            mats.append(at)
        length = int(rng.integers(1, 24))
        program = [random_instruction(rng, cfg, mats) for _ in range(length)]
        if rng.random() < 0.85:
            program.append(encode(Opcode.HALT))
        pc_start = int(rng.integers(0, cfg.prog_depth - len(program) + 1))
        if rng.random() < 0.1:
            pc_start = cfg.prog_depth - len(program)     # may run off the end
            program = program[:-1] if program[-1] == encode(Opcode.HALT) else program
        state, error, pc, retired = golden_outcome(cfg, program, pc_start, params)

        # Walk the program as the golden core did, to list the jobs it dispatched.
        expected, stop = [], pc - pc_start
        for word in program[:stop + (state == State.HALTED)]:
            if INSTRUCTION.unpack(word)["opcode"] in (Opcode.MATVEC, Opcode.ACT, Opcode.EW):
                expected.append(expected_job(cfg, word, params))
        fail_at_job, fail_code = -1, 0
        mv_jobs = [i for i, (unit, _) in enumerate(expected) if unit == "mv"]
        if mv_jobs and rng.random() < 0.3:
            fail_at_job = int(rng.choice(mv_jobs))
            fail_code = int(rng.choice([ErrorCode.WEIGHT_TRUNCATED, ErrorCode.WEIGHT_LENGTH]))
            mv_pcs = [i for i, w in enumerate(program) if INSTRUCTION.unpack(w)["opcode"] in
                      (Opcode.MATVEC, Opcode.ACT, Opcode.EW)]
            fail_pc = pc_start + mv_pcs[fail_at_job]
            expected = expected[:fail_at_job + 1]
            retired = fail_pc - pc_start
            state, error, pc = State.ERROR, ErrorCode(fail_code), fail_pc

        await tb.load(program, pc_start, params)
        bound = 8 * len(program) + 6 * len(expected) + 20
        jobs, got_retired, cycles = await tb.run(pc_start, rng, fail_at_job, fail_code, bound)
        listing = "\n".join(f"  {pc_start + i}: {disassemble(w)}" for i, w in enumerate(program))
        where = f"seed {seed} case {case}, program:\n{listing}"
        for i, (got, want) in enumerate(zip(jobs, expected)):
            assert got == want, f"{where}\njob {i}: expected {want}, got {got}"
        assert len(jobs) == len(expected), f"{where}\n{len(jobs)} jobs dispatched, {len(expected)} expected"
        d = tb.dut
        got_state = (int(d.state.value), int(d.error.value), int(d.pc.value))
        assert got_state == (state, error, pc), (f"{where}\nexpected {State(state).name} {ErrorCode(error).name} "
                                                 f"pc {pc}, got {got_state}")
        assert got_retired == retired, f"{where}\nretired {got_retired}, expected {retired}"
