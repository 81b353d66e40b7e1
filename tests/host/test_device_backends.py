"""The golden and Verilator backends behind one Device API: bit-identical on random programs and faults.

Compared exactly: every scratchpad entry, STATUS, RETIRED, and MACS/SKIPPED (except after a
weight-stream error, where the ISA leaves the failed MATVEC's destination and counts unspecified).
CYCLES and STALLS are the implementation's (the golden model estimates them) and are not compared.
A small core (8 lanes, the regression's depths) keeps the one-off Verilator build short.
"""

import numpy as np
import pytest

from edgeasr.firmware import loader, weight_codec
from edgeasr.firmware.assembler import Program
from edgeasr.firmware.errors import DeviceError, DeviceFault
from edgeasr.firmware.isa import ErrorCode, Opcode, encode
from edgeasr.firmware.memory_map import CoreConfig, Region, State
from edgeasr.firmware.weight_format import HEADER1, PARAM_WORD_BITS, mask_word_bits, value_word_bits
from edgeasr.host.device import BackendNotImplemented, DeviceTimeout, RunResult, open_device
from edgeasr.verif.random_program import FAULT_ERROR, make_case, regress_config

CONFIG = regress_config(8)
WEIGHT_STREAM_ERRORS = (ErrorCode.WEIGHT_TRUNCATED, ErrorCode.WEIGHT_LENGTH)
SEED = 11


@pytest.fixture(scope="module")
def devices():
    golden, rtl = open_device("golden", CONFIG), open_device("verilator", CONFIG)
    yield golden, rtl
    rtl.close()


def observe(dev, writes, pc_start, max_cycles):
    """Clear the counters, load, run, and read back what is compared: (outcome, spad, status, counters)."""
    dev.clear_counters()
    dev.write_many(writes)
    try:
        outcome = dev.run(pc_start, max_cycles)
    except DeviceFault as f:
        outcome = f
    return outcome, dev.read_spad(0, CONFIG.spad_depth), dev.status(), dev.counters()


def assert_same(gold, rtl, hole=None, what=""):
    g_out, g_spad, g_status, g_counters = gold
    r_out, r_spad, r_status, r_counters = rtl
    assert type(g_out) is type(r_out), (what, g_out, r_out)
    if isinstance(g_out, DeviceFault):
        assert (g_out.error_code, g_out.pc) == (r_out.error_code, r_out.pc), what
    else:
        assert (g_out.state, g_out.pc) == (r_out.state, r_out.pc), what
    assert g_status == r_status, what
    names = ("retired",) if g_status["error"] in WEIGHT_STREAM_ERRORS else ("retired", "macs", "skipped")
    assert {k: g_counters[k] for k in names} == {k: r_counters[k] for k in names}, what
    differ = g_spad != r_spad
    if hole is not None:
        differ[hole[0]:hole[0] + hole[1]] = False
    bad = np.nonzero(differ)[0]
    assert bad.size == 0, f"{what}: {bad.size} scratchpad entries differ, first spad[{bad[0]}] " \
                          f"golden {g_spad[bad[0]]}, verilator {r_spad[bad[0]]}"


def _hole(case, status):
    if status["error"] not in WEIGHT_STREAM_ERRORS:
        return None
    instr = case.program.get(status["pc"])
    return (instr.fields["dst"], instr.matrix.cm.rows) if instr is not None and instr.matrix is not None else None


def test_sixteen_lanes_matvec_is_bit_identical():
    """One 16-lane core (small depths: its build is the cost): a MATVEC and an ACT, golden vs Verilator.

    First in the file, so that pytest-xdist starts this build on one worker while another builds
    the 8-lane core.
    """
    config = CoreConfig(lanes=16, spad_depth=1024, prog_depth=16, param_depth=128, mask_depth=128, value_depth=512)
    rng = np.random.default_rng(7)
    cm = _matrix(rng, 48, 16 * 16 + 3, 16)
    writes = (loader.spad_writes(0, rng.integers(-300, 300, config.spad_depth)) + loader.matrix_writes(cm, 0, 0, 0)
              + loader.program_writes(Program().matvec(dst=512, src=0, mat=0).act(dst=600, a=512, length=48, table=1)
                                      .halt().words()))
    results = []
    for spec in ("golden", "verilator"):
        with open_device(spec, config) as dev:
            dev.write_many(writes)
            run = dev.run(0)
            results.append((run.pc, {k: run.counters[k] for k in ("macs", "skipped", "retired")},
                            dev.read_spad(0, config.spad_depth)))
    (g_pc, g_counts, g_spad), (r_pc, r_counts, r_spad) = results
    assert (g_pc, g_counts) == (r_pc, r_counts)
    np.testing.assert_array_equal(g_spad, r_spad)


def test_both_report_the_built_config(devices):
    for dev in devices:
        assert dev.config() == CONFIG
        assert dev.status() == {"state": State.IDLE, "refused": 0, "error": ErrorCode.NONE, "pc": 0}


@pytest.mark.parametrize("first", [0, 20])
def test_random_programs_are_bit_identical(devices, first):
    golden, rtl = devices
    for index in range(first, first + 20):
        case = make_case(SEED, index, CONFIG)
        g = observe(golden, case.writes(), case.pc_start, case.max_cycles)
        r = observe(rtl, case.writes(), case.pc_start, case.max_cycles)
        assert_same(g, r, _hole(case, g[2]), f"{case.name} (seed {SEED})")


@pytest.mark.parametrize("kind", sorted(FAULT_ERROR))
def test_generated_faults_are_the_same_device_fault(devices, kind):
    golden, rtl = devices
    case = make_case(SEED, 1000, CONFIG, kind=kind)
    g = observe(golden, case.writes(), case.pc_start, case.max_cycles)
    r = observe(rtl, case.writes(), case.pc_start, case.max_cycles)
    assert isinstance(g[0], DeviceFault) and g[0].error_code == FAULT_ERROR[kind], (case.name, g[0])
    assert_same(g, r, _hole(case, g[2]), case.name)


def _matrix(rng, rows, cols, lanes, sparsity=0.5):
    w = weight_codec.balanced_prune(rng.integers(-8, 8, (rows, cols)), sparsity, lanes)
    return weight_codec.compress(w, np.zeros(rows, np.int64), np.full(rows, 1 << 14, np.int64),
                                 np.full(rows, 20, np.int64), lanes=lanes, weight_bits=4)


def _fault_program(kind):
    """(writes, expected ErrorCode, expected pc, spad hole) of a hand-written fault program."""
    rng = np.random.default_rng(5)
    cm = _matrix(rng, 24, 100, CONFIG.lanes)
    writes = [*loader.spad_writes(0, rng.integers(-200, 200, CONFIG.spad_depth))]
    params = weight_codec.param_words(cm, 0, 0)
    prog = Program().act(dst=300, a=0, length=16, table=1)
    if kind == "illegal_opcode":
        words = prog.words() + [encode(Opcode.NOP) | 0x3F] + Program().halt().words()
        return writes + loader.program_writes(words), ErrorCode.ILLEGAL_INSTRUCTION, 1, None
    if kind == "truncated_weights":
        h1 = HEADER1.unpack(params[1])
        h1["beats"] = cm.beats - 3                      # the masks need 3 beats more than declared
        params[1] = HEADER1.pack(**h1)
        writes += loader.region_writes(Region.PARAM, 0, params, PARAM_WORD_BITS)
        writes += loader.region_writes(Region.MASK, 0, cm.mask_words, mask_word_bits(cm.lanes))
        writes += loader.region_writes(Region.VALUE, 0, cm.value_words, value_word_bits(cm.lanes))
        words = prog.matvec(dst=512, src=0, mat=0).halt().words()
        return writes + loader.program_writes(words), ErrorCode.WEIGHT_TRUNCATED, 1, (512, cm.rows)
    if kind == "address_out_of_range":
        words = prog.matvec(dst=CONFIG.spad_depth - 10, src=0, mat=0).halt().words()
        return (writes + loader.matrix_writes(cm, 0, 0, 0) + loader.program_writes(words),
                ErrorCode.ADDRESS_RANGE, 1, None)
    raise ValueError(kind)


@pytest.mark.parametrize("kind", ["illegal_opcode", "truncated_weights", "address_out_of_range"])
def test_fault_programs_raise_the_same_device_fault(devices, kind):
    writes, code, pc, hole = _fault_program(kind)
    golden, rtl = devices
    g = observe(golden, writes, 0, 100_000)
    r = observe(rtl, writes, 0, 100_000)
    assert isinstance(g[0], DeviceFault)
    assert (g[0].error_code, g[0].pc) == (code, pc)
    assert str(g[0]) == f"device fault {code.name} at pc {pc}"
    assert_same(g, r, hole, kind)


def test_run_result_holds_this_runs_counts(devices):
    rng = np.random.default_rng(3)
    cm = _matrix(rng, 32, 2 * CONFIG.lanes * 16, CONFIG.lanes)
    nnz = int(np.count_nonzero(weight_codec.decompress(cm)))
    for dev in devices:
        dev.clear_counters()
        dev.write_spad(0, rng.integers(-128, 128, cm.cols))
        dev.write_many(loader.matrix_writes(cm, 0, 0, 0))
        dev.write_many(loader.program_writes(Program().matvec(dst=cm.cols, src=0, mat=0).halt().words()))
        first, second = dev.run(0), dev.run(0)
        assert isinstance(first, RunResult) and first.state == State.HALTED and first.pc == 1
        assert first.counters["macs"] == second.counters["macs"] == nnz
        assert first.counters["skipped"] == cm.rows * cm.cols - nnz
        assert first.counters["retired"] == 2
        assert dev.counters()["macs"] == 2 * nnz


def test_verilator_times_out_instead_of_hanging_and_recovers(devices):
    _, rtl = devices
    rng = np.random.default_rng(4)
    cm = _matrix(rng, 64, 256, CONFIG.lanes, sparsity=0.0)
    rtl.write_many(loader.matrix_writes(cm, 0, 0, 0))
    rtl.write_many(loader.program_writes(Program().matvec(dst=256, src=0, mat=0).halt().words()))
    with pytest.raises(DeviceTimeout, match=r"^verilator: core still BUSY at pc 0 after 50 cycles \(started at "
                                            r"pc 0\); reset\(\) the device before using it again$"):
        rtl.run(0, max_cycles=50)
    with pytest.raises(DeviceError, match=r"^verilator: core is BUSY at pc 0 before START \(a run that timed out\?\); "
                                          r"reset\(\) the device first$"):
        rtl.run(0)
    rtl.reset()
    assert rtl.status()["state"] == State.IDLE
    assert rtl.run(0).counters["retired"] == 2


def test_bus_and_helper_arguments_are_checked(devices):
    for dev in devices:
        with pytest.raises(ValueError, match=r"^bus access 0: address 0x1000000 does not fit 24 bits$"):
            dev.read_many([1 << 24])
        with pytest.raises(ValueError, match=r"^bus write 1: data 0x100000000 does not fit 32 bits$"):
            dev.write_many([(0, 0), (0, 1 << 32)])
        with pytest.raises(ValueError, match=r"^scratchpad entries \[2040, 2050\) leave the scratchpad "
                                             r"\(depth 2048 entries\)$"):
            dev.write_spad(2040, np.zeros(10, np.int64))
        with pytest.raises(ValueError, match=r"^max_cycles must be positive, got 0$"):
            dev.run(0, max_cycles=0)


def test_load_and_read_words_round_trip_every_region(devices):
    rng = np.random.default_rng(6)
    for region, (depth, bits) in CONFIG.region_words().items():
        words = [int.from_bytes(rng.bytes(-(-bits // 8)), "little") & ((1 << bits) - 1) for _ in range(5)]
        for dev in devices:
            dev.load_words(region, depth - 5, words)
            assert dev.read_words(region, depth - 5, 5) == words, (dev.name, region.name)


def test_unknown_names_are_rejected():
    assert issubclass(BackendNotImplemented, DeviceError) and issubclass(BackendNotImplemented, NotImplementedError)
    with pytest.raises(ValueError, match=r"^unknown device 'fpga'; expected one of golden, verilator, serial:PORT$"):
        open_device("fpga")
