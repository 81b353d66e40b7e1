"""The serial backend against the NEP SoC in Verilator behind a pty (hardware in the loop).

Compared exactly with the golden backend: every scratchpad entry, STATUS, RETIRED, MACS and
SKIPPED (the same rule as test_device_backends: not MACS/SKIPPED after a weight-stream error).
Then the same through a fault injector at 1% damaged bytes, a simulator killed or frozen while
the host waits (a clear DeviceError; the time it took is printed, the 2 s bound itself is the
retry budget of `serial.LinkTiming`, not a timed assertion), an absent or silent device, and
unit tests of the link protocol. A 4-lane core with the regression's depths keeps the build and
the link traffic small (about 10 kB/s through the pty at divisor 8).
"""

import os
import re
import signal
import threading
import time

import numpy as np
import pytest
import serial

from edgeasr.firmware import link_protocol as lp
from edgeasr.firmware import loader, weight_codec
from edgeasr.firmware.assembler import Program
from edgeasr.firmware.errors import DeviceError, DeviceFault
from edgeasr.firmware.isa import ErrorCode
from edgeasr.host.backends.fault_injector import FaultInjector
from edgeasr.host.backends.serial import LinkTiming, SerialDevice
from edgeasr.host.backends.soc_sim import soc_simulator, start_soc_simulator, stop_soc_simulator
from edgeasr.host.device import open_device
from edgeasr.verif.random_program import make_case, regress_config

CONFIG = regress_config(4)
SEED = 11
WEIGHT_STREAM_ERRORS = (ErrorCode.WEIGHT_TRUNCATED, ErrorCode.WEIGHT_LENGTH)


@pytest.fixture(scope="module")
def soc():
    with soc_simulator(CONFIG) as (process, path):
        yield process, path


@pytest.fixture(scope="module")
def golden():
    return open_device("golden", CONFIG)


def observe(dev, case):
    """Clear the counters, load, run, read back: (outcome, spad, status, counters)."""
    dev.clear_counters()
    dev.write_many(case.writes())
    try:
        outcome = dev.run(case.pc_start, case.max_cycles)
    except DeviceFault as f:
        outcome = f
    return outcome, dev.read_spad(0, CONFIG.spad_depth), dev.status(), dev.counters()


def assert_same(gold, board, what):
    g_out, g_spad, g_status, g_counters = gold
    b_out, b_spad, b_status, b_counters = board
    assert type(g_out) is type(b_out), (what, g_out, b_out)
    if isinstance(g_out, DeviceFault):
        assert (g_out.error_code, g_out.pc) == (b_out.error_code, b_out.pc), what
        names = ("retired",) if g_status["error"] in WEIGHT_STREAM_ERRORS else ("retired", "macs", "skipped")
    else:
        assert (g_out.state, g_out.pc) == (b_out.state, b_out.pc), what
        names = ("retired", "macs", "skipped")
        assert {k: g_out.counters[k] for k in names} == {k: b_out.counters[k] for k in names}, what
    assert g_status == b_status, what
    assert {k: g_counters[k] for k in names} == {k: b_counters[k] for k in names}, what
    if g_status["error"] not in WEIGHT_STREAM_ERRORS:
        np.testing.assert_array_equal(g_spad, b_spad, err_msg=what)


# Timeouts well above a scheduler's time slice: the tests that count retransmissions on a clean line
# must not count the ones a busy machine causes by descheduling the simulator behind the pty.
PATIENT = LinkTiming(first_timeout_s=0.5, min_timeout_s=0.5, max_timeout_s=1.0)


def test_random_programs_match_golden_over_the_pty(soc, golden):
    _, path = soc
    with SerialDevice(path, CONFIG, timing=PATIENT) as dev:
        assert dev.config() == CONFIG
        moved = 0
        start = time.perf_counter()
        for index in range(4):
            case = make_case(SEED, index, CONFIG)
            assert_same(observe(golden, case), observe(dev, case), f"{case.name} (seed {SEED})")
        stats = dev.link_stats()
        wall = time.perf_counter() - start
        moved = stats.bytes_out + stats.bytes_in
        print(f"\nclean link: {moved} bytes in {wall:.1f} s = {moved / wall:.0f} B/s through the pty; "
              f"{stats.summary()}")
        assert stats.retransmissions == 0, stats       # a clean line needs none


def test_faulty_case_kinds_match_golden(soc, golden):
    _, path = soc
    with open_device(f"serial:{path}", CONFIG) as dev:
        for kind in ("illegal", "truncated", "range"):
            case = make_case(SEED, 1000, CONFIG, kind=kind)
            gold = observe(golden, case)
            assert isinstance(gold[0], DeviceFault), (kind, gold[0])
            assert_same(gold, observe(dev, case), case.name)


def test_one_percent_damaged_bytes_still_bit_exact(soc, golden):
    _, path = soc
    port = serial.Serial(path, 115200, timeout=LinkTiming().poll_s)
    injector = FaultInjector.at_rate(port, 0.01, seed=SEED)
    with SerialDevice(injector, CONFIG) as dev:
        start = time.perf_counter()
        case = make_case(SEED, 7, CONFIG)
        assert_same(observe(golden, case), observe(dev, case), f"{case.name} at 1% link faults (seed {SEED})")
        stats = dev.link_stats()
        print(f"\n1% faults: {injector.summary()}\n  recovered: {stats.summary()}; "
              f"{time.perf_counter() - start:.1f} s, frames now {dev.frame_words} words")
    for direction in ("write", "read"):
        counts = injector.injected[direction]
        assert counts.flipped > 0 and counts.dropped > 0 and counts.duplicated > 0, (direction, counts)
    assert stats.retransmissions > 0 and stats.recovered > 0 and stats.naks > 0, stats


class LoseRunAnswer:
    """A port that loses the whole answer to the first RUN it carries (the core ran; its ACK is gone)."""

    def __init__(self, port):
        self.wrapped, self.port, self.lost = port, port.port, 0
        self._armed = False

    def write(self, data):
        if len(data) > 3 and data[3] == lp.Command.RUN and not self.lost:
            self._armed = True
        return self.wrapped.write(data)

    def read(self, size=1):
        data = self.wrapped.read(size)
        if self._armed and data:
            self.lost += len(data)
            self._armed = self.lost < lp.HEADER_BYTES + 4 + lp.CRC_BYTES
            return b""
        return data

    def __getattr__(self, name):
        return getattr(self.wrapped, name)


def test_lost_run_answer_is_retransmitted_without_running_twice(soc, golden):
    """RUN's ACK lost: the retransmission (same SEQ) is answered with the status, the program runs once."""
    _, path = soc
    port = LoseRunAnswer(serial.Serial(path, 115200, timeout=LinkTiming().poll_s))
    with SerialDevice(port, CONFIG, timing=PATIENT) as dev:
        case = make_case(SEED, 3, CONFIG)
        assert_same(observe(golden, case), observe(dev, case), case.name)
        assert port.lost == 10 and dev.link_stats().retransmissions == 1, dev.link_stats()


def _long_program(dev, repeats=40):
    """Load a dense MATVEC repeated `repeats` times: a run of ~0.2M clocks (a few tenths of a second)."""
    rng = np.random.default_rng(5)
    w = rng.integers(-8, 8, (64, 256))
    cm = weight_codec.compress(w, np.zeros(64, np.int64), np.full(64, 1 << 14, np.int64),
                               np.full(64, 20, np.int64), lanes=CONFIG.lanes, weight_bits=4)
    dev.write_spad(0, rng.integers(-128, 128, 256))
    dev.write_many(loader.matrix_writes(cm, 0, 0, 0))
    program = Program()
    for _ in range(repeats):
        program.matvec(dst=256, src=0, mat=0)
    dev.write_many(loader.program_writes(program.halt().words()))


def _fail_after(action, dev, delay_s):
    """Run `action` on a timer `delay_s` into dev.run(); return (the DeviceError, seconds from action to it)."""
    when = {}

    def fire():
        when["t"] = time.monotonic()
        action()

    timer = threading.Timer(delay_s, fire)
    timer.start()
    try:
        with pytest.raises(DeviceError) as info:
            dev.run(0, max_cycles=10_000_000)
            dev.read_spad(0, CONFIG.spad_depth)         # in case the run finished first
    finally:
        timer.cancel()
    return info.value, time.monotonic() - when["t"]


def test_killed_simulator_is_a_clear_error():
    process, path = start_soc_simulator(CONFIG)
    try:
        dev = SerialDevice(path, CONFIG)
        _long_program(dev)
        error, seconds = _fail_after(process.kill, dev, 0.1)
        print(f"\nkilled mid-run: DeviceError after {seconds * 1000:.0f} ms: {error}")
        # usually RUN or READ; on a loaded machine the answers to the program's last WRITEs may
        # still be in flight when the simulator dies
        assert re.match(rf"^serial {path}: the device hung up while waiting for the answer to (RUN|READ|WRITE) "
                        rf"\(seq \d+\): ", str(error)), str(error)
        with pytest.raises(DeviceError, match=rf"^serial {path}: "):
            dev.status()
        dev.close()
    finally:
        stop_soc_simulator(process)


def test_frozen_simulator_is_a_clear_error_within_the_retry_budget():
    """SIGSTOP: the pty stays up but nothing answers, so only the dead-device deadline can tell."""
    process, path = start_soc_simulator(CONFIG)
    try:
        dev = SerialDevice(path, CONFIG)
        writes = loader.spad_writes(0, np.arange(CONFIG.spad_depth) % 1000)
        timer = threading.Timer(0.05, os.kill, (process.pid, signal.SIGSTOP))
        timer.start()
        start = time.monotonic()
        with pytest.raises(DeviceError) as info:
            for _ in range(100):
                dev.write_many(writes)
        timer.cancel()
        seconds = time.monotonic() - (start + 0.05)
        print(f"\nfrozen mid-write: DeviceError {seconds * 1000:.0f} ms after SIGSTOP "
              f"(budget {dev.timing.dead_bound_s:.2f} s): {info.value}")
        assert re.match(rf"^serial {path}: the device stopped answering: no valid frame for 1\.\d\d s while "
                        rf"waiting for the answer to WRITE \(seq \d+, \d+ attempts\)$", str(info.value)), str(info.value)
        assert dev.timing.dead_bound_s < 2.0
        dev.close()
    finally:
        os.kill(process.pid, signal.SIGCONT)
        stop_soc_simulator(process)


def test_absent_device_is_a_clear_error():
    with pytest.raises(DeviceError, match=r"^serial /dev/nep-absent: cannot open the port: No such file or "
                                          r"directory \(no such port: is the board plugged in, or the "
                                          r"simulator running\?\)$"):
        open_device("serial:/dev/nep-absent@115200")


def test_silent_port_fails_the_opening_ping():
    master, slave = os.openpty()
    try:
        path = os.ttyname(slave)
        with pytest.raises(DeviceError, match=rf"^serial {path}: the device stopped answering: no valid frame "
                                              rf"for 1\.\d\d s while waiting for the answer to PING \(seq 1, \d+ "
                                              rf"attempts\); is the board running the NEP SoC\?$"):
            open_device(f"serial:{path}")
    finally:
        os.close(master)
        os.close(slave)


def test_config_mismatch_is_refused(soc):
    _, path = soc
    other = regress_config(8)
    with pytest.raises(DeviceError, match=rf"^serial {path}: the board reports CoreConfig\(lanes=4, .*\), "
                                          rf"expected CoreConfig\(lanes=8, .*\)$"):
        open_device(f"serial:{path}", other)


# --- the link protocol ---------------------------------------------------------------------------------

def test_crc16_check_value():
    assert lp.crc16(b"123456789") == 0x29B1
    assert lp.crc16(b"") == 0xFFFF


def test_frame_parse_round_trip():
    rng = np.random.default_rng(1)
    frames = [(7, lp.Command.PING, b""), (8, lp.Command.ACK, bytes(4)),
              (255, lp.Command.DATA, rng.bytes(4 * lp.MAX_WORDS)), (0, lp.Command.NAK, bytes([lp.Nak.CRC]))]
    stream = b"".join(lp.frame(*f) for f in frames)
    parser = lp.FrameParser()
    got = []
    for i in range(0, len(stream), 5):            # in pieces, as a port delivers them
        got += parser.feed(stream[i:i + 5])
    assert got == [(s, int(c), p) for s, c, p in frames]
    assert parser.dropped == 0 and not parser.buffer
    with pytest.raises(ValueError, match=r"^payload of 256 bytes exceeds 255$"):
        lp.frame(0, lp.Command.WRITE, bytes(256))


def test_parser_resynchronises_after_garbage_and_damage():
    good = lp.frame(3, lp.Command.ACK, b"\x00\x00\x00\x02")
    damaged = bytearray(lp.frame(2, lp.Command.ACK, b"\x01\x02\x03\x04"))
    damaged[6] ^= 0x10
    parser = lp.FrameParser()
    garbage = bytes([0x00, lp.SYNC, 0x13, 0x01, lp.SYNC, 0x02])   # SYNCs with impossible or short frames
    assert parser.feed(garbage + bytes(damaged) + good) == [(3, lp.Command.ACK, b"\x00\x00\x00\x02")]
    assert parser.dropped > 0


def test_command_rules():
    assert lp.command_ok(lp.Command.WRITE, lp.write_payload(0x200000, [1] * lp.MAX_WORDS))
    assert not lp.command_ok(lp.Command.WRITE, lp.write_payload(0x200000, []))
    assert lp.command_ok(lp.Command.READ, lp.read_payload(0x200000, 1))
    assert not lp.command_ok(lp.Command.READ, bytes([0, 0, 0, 0]))
    assert lp.command_ok(lp.Command.RUN, b"\x00\x05") and lp.command_ok(lp.Command.PING, b"")
    assert not lp.command_ok(lp.Command.ACK, b"")
    with pytest.raises(ValueError, match=r"^READ of 64 words: must be 1\.\.63$"):
        lp.read_payload(0, 64)
