"""The `serial` backend: a NEP SoC (`rtl.soc.NEPSoC`) on a dev board, or behind a pty, driven over pyserial.

`open_device("serial:/dev/ttyUSB0[@BAUD]")` opens the port, resynchronises the link (PING) and
returns a `SerialDevice`. Each Device primitive becomes frames of `firmware.link_protocol`:

- writes: runs of consecutive addresses, cut into WRITE frames of up to `frame_words` words
  (at most MAX_WORDS; non-consecutive or repeated addresses start a new frame; order is kept);
- reads: the same runs as READ frames, answered by DATA;
- start: one RUN frame with the PC_START last written (the device writes PC_START and CTRL.START
  itself and answers ACK + STATUS once the core is idle);
- reset: the link has no reset command, see `reset`.

Reliability. Every frame is sent, then its answer (same SEQ, expected command and length) awaited.
A NAK for our SEQ is retransmitted at once; so is a frame whose answer arrived spoiled (the parser
threw bytes away, or bytes came and the line then went quiet: one was lost); a frame with no answer
at all (a lost byte made the device drop the request after its idle resync) is retransmitted at its
timeout. Except after a NAK, the host first lets the line settle (no byte for the waiting margin,
below) and flushes the input: the bridge ignores the line while it answers, so a copy sent under an
answer still coming would be lost as well (a late answer to our SEQ that comes meanwhile is taken).
Retransmissions keep the SAME SEQ, so a RUN whose ACK was lost is answered from the device's memory
instead of running twice (WRITE and READ are idempotent anyway). Frames with another SEQ (late
answers to earlier copies) and garbage are skipped by the parser.
After a failed attempt the frame size halves (down to MIN_FRAME_WORDS) and it doubles back after
GROW_AFTER clean frames; a failed WRITE/READ frame longer than the new size is given up and its
words resent in shorter frames, so a noisy line moves short frames that mostly get through.
A transaction that ended in an error makes the next one start with a PING resync. What happened
is counted in `link_stats()` (retransmissions, recovered frames, NAKs, damaged answers,
timeouts, dropped bytes).

Waiting. Each attempt waits a margin plus twice the frame's round-trip wire time (at the nominal
baud rate, or the slower rate measured on this link); the margin grows by `backoff` per timeout
up to max_timeout_s. It starts at first_timeout_s and then follows the answers: four times the
mean deviation of their times from the wire-time estimate (TCP's retransmission timer, RFC 6298,
measured only on first attempts other than RUN), kept between min_timeout_s and first_timeout_s.
An answer spoiled by a lost byte is noticed after the same margin of silence. So a link with
steady answers (a simulator's pty, a low-latency adapter) retransmits a lost frame after ~10 ms
instead of 50 (measured on the loaded 2-core machine: the 1%-fault utterance of
test_hil_utterance in 60-81 s instead of 100-145 s), while a jittery one (a USB adapter's latency
timer, a loaded host) keeps a wider margin.

Giving up (the dead-device bound). Over all attempts a transaction has a deadline: dead_after_s
after the later of its first attempt and the last valid frame from the device. The read loop
returns every poll_s and a write blocks at most write_timeout_s, so DeviceError comes at most
dead_after_s + max(poll_s, write_timeout_s) after the device's last answer or the request it left
unanswered: 1.5 + 0.25 = 1.75 s with `LinkTiming()`, within the 2 s we promise for a device that
dies (`LinkTiming.dead_bound_s`; measured here: 1.47 s for a frozen simulator). A device that keeps
NAKing (a line too noisy to pass any frame) fails after max_attempts. A RUN answers only when the
core is idle, and the bridge ignores the line meanwhile, so a silent RUN cannot be told from a long
one: its deadline adds `max_cycles / run_clock_hz`. A device that disappears (a simulator killed, a
USB adapter unplugged) hangs the port up, which is reported at once, RUN or not (measured: 2 ms
after the simulator was killed mid-RUN); only a board that stays connected but wedged mid-RUN waits
out the RUN's bound.

Undetected errors: CRC-16 catches every error of up to 3 bits and every burst of up to 16 bits in
a frame; a duplicated or shifted byte turns the check into a random 1 in 65536 match.
"""

from __future__ import annotations

import errno as errno_codes
import os
import time
from dataclasses import asdict, dataclass

import numpy as np

from ...firmware import link_protocol as lp
from ...firmware import loader
from ...firmware.errors import DeviceError
from ...firmware.memory_map import CoreConfig, Csr, Ctrl, Region, address
from ..device import Device

DEFAULT_BAUD = 115200
MIN_FRAME_WORDS = 8             # best words per frame at 1% damaged bytes (~40% of frames fail)
GROW_AFTER = 32                 # clean frames in a row before the frame size doubles again
_PC_START_ADDR = address(Region.CSR, Csr.PC_START)
_OVERHEAD = lp.HEADER_BYTES + lp.CRC_BYTES
_ANSWER = object()              # sentinel kinds returned by _await
_NAK = object()
_DAMAGED = object()


class _Shrink(Exception):
    """A WRITE/READ frame failed while longer than the frame size: its caller resends it in pieces."""

    def __init__(self, since: float):
        self.since = since


@dataclass(frozen=True)
class LinkTiming:
    """How long the host waits; see the module docstring for the dead-device arithmetic."""
    first_timeout_s: float = 0.05     # wait beyond 2x the frame's round-trip wire time, until answers are timed
    min_timeout_s: float = 0.01       # ... and at least this once they are (see "Waiting")
    backoff: float = 1.5              # the wait grows by this per timeout of a frame ...
    max_timeout_s: float = 0.3        # ... up to this
    dead_after_s: float = 1.5         # no valid frame from the device this long: DeviceError
    max_attempts: int = 100           # per frame, even if the device keeps answering NAK
    poll_s: float = 0.01              # granularity of the read loop
    write_timeout_s: float = 0.25     # a write to a port whose buffer stays full fails after this
    run_clock_hz: float = 100_000.0   # slowest device clock assumed when bounding a RUN

    @property
    def dead_bound_s(self) -> float:
        """Longest time from the device's last answer to DeviceError (outside a RUN)."""
        return self.dead_after_s + max(self.poll_s, self.write_timeout_s)


@dataclass
class LinkStats:
    """What the link did since the port was opened."""
    frames: int = 0              # command frames answered
    retransmissions: int = 0     # frames sent again with the same SEQ
    recovered: int = 0           # frames answered after a failed attempt
    naks: int = 0                # NAKs received for our frames
    timeouts: int = 0            # attempts with no answer at all in time
    damaged: int = 0             # attempts whose answer arrived spoiled (retransmitted without waiting)
    resplit: int = 0             # failed frames given up and resent as shorter frames (WRITE/READ)
    stale: int = 0               # valid frames with another SEQ (answers to earlier copies), skipped
    unexpected: int = 0          # frames with our SEQ but the wrong command or length, skipped
    resyncs: int = 0             # PING resynchronisations (open, reset, after an error)
    bytes_out: int = 0
    bytes_in: int = 0
    dropped_bytes: int = 0       # bytes read that were not part of a valid frame (garbage, damage)

    def summary(self) -> str:
        return (f"{self.frames} frames, {self.retransmissions} retransmitted, {self.recovered} recovered, "
                f"{self.naks} NAKs, {self.damaged} damaged answers, {self.timeouts} timeouts, "
                f"{self.dropped_bytes} bytes dropped, "
                f"{self.bytes_out} B out, {self.bytes_in} B in")


def parse_spec(spec: str) -> tuple[str, int]:
    """"PATH[@BAUD]" (what follows "serial:") -> (path, baud)."""
    path, at, baud = spec.rpartition("@")
    if at and baud.isdigit():
        return path, int(baud)
    return spec, DEFAULT_BAUD


class SerialDevice(Device):
    """A NEP SoC on `port`: a path (opened with pyserial at `baudrate`) or an open pyserial-like object.

    A port object needs read(n), write(b), reset_input_buffer(), in_waiting, close() and a `port`
    attribute naming it (pyserial's Serial and `fault_injector.FaultInjector` have them); its read
    timeout should be short (LinkTiming.poll_s): it bounds how late a deadline is noticed.
    `config`, if given, is checked against what the board reports. Raises DeviceError if the port
    cannot be opened or the device does not answer a PING within dead_after_s.
    """

    def __init__(self, port, config: CoreConfig | None = None, *, baudrate: int = DEFAULT_BAUD,
                 timing: LinkTiming = LinkTiming()):
        super().__init__()
        self.timing = timing
        self._byte_s = 10.0 / baudrate            # nominal time per byte on the wire
        self._byte_s_seen = 0.0                    # measured: round trip / bytes moved, averaged
        self._deviation_s = timing.first_timeout_s / 4     # mean |answer time - estimate|, averaged
        if isinstance(port, str):
            self.path = port
            self.name = f"serial {port}"
            self._port = _open_port(port, baudrate, timing)
        else:
            self.path = getattr(port, "port", None) or repr(port)
            self.name = f"serial {self.path}"
            self._port = port
        self._parser = lp.FrameParser()
        self._stats = LinkStats()
        self._accepted_bytes = 0
        self._seq = 0
        self._frame_words = lp.MAX_WORDS
        self._clean = 0
        self._pc_start: int | None = None
        self._last_alive = 0.0                     # when the last valid frame came
        self._last_rx = 0.0                        # when the last byte came
        self._closed = False
        self._needs_resync = False
        self.last_status: int | None = None      # STATUS word of the last RUN's answer
        try:
            self.resync()
            if config is not None and self.config() != config:
                raise DeviceError(f"{self.name}: the board reports {self.config()}, expected {config}")
        except BaseException:
            self.close()
            raise

    # --- the Device primitives ---------------------------------------------------------------------

    def _write_pairs(self, pairs: np.ndarray) -> None:
        is_pc = np.nonzero(pairs[:, 0] == _PC_START_ADDR)[0]

        def write(start, count, since):
            words = pairs[start:start + count, 1].astype(">u4").tobytes()
            self._transact(lp.Command.WRITE, int(pairs[start, 0]).to_bytes(3, "big") + words, lp.Command.ACK, 0,
                           words=count, since=since)

        self._in_frames(pairs[:, 0], write)
        if is_pc.size:
            self._pc_start = int(pairs[is_pc[-1], 1]) & 0xFFFF

    def _read_words(self, addrs: np.ndarray) -> np.ndarray:
        out = np.empty(len(addrs), dtype=np.uint32)

        def read(start, count, since):
            data = self._transact(lp.Command.READ, lp.read_payload(int(addrs[start]), count), lp.Command.DATA,
                                  4 * count, words=count, since=since)
            out[start:start + count] = np.frombuffer(data, dtype=">u4")

        self._in_frames(addrs, read)
        return out

    def _start(self, max_cycles: int) -> bool:
        """RUN from the last PC_START written (read back if none was); the answer comes when the core is idle.

        Always True: the device runs every program to its end (the core always stops) and cannot
        be stopped over the link, so `max_cycles` only bounds how long the host waits for the
        answer (max_cycles / run_clock_hz on top of the dead-device deadline) and a run longer
        than it is not a DeviceTimeout here but, past that bound, a DeviceError.
        """
        if self._pc_start is None:
            self._pc_start = self.read(_PC_START_ADDR) & 0xFFFF
        status = self._transact(lp.Command.RUN, self._pc_start.to_bytes(2, "big"), lp.Command.ACK, 4,
                                run_bound_s=max_cycles / self.timing.run_clock_hz)
        self.last_status = int.from_bytes(status, "big")
        return True

    def reset(self) -> None:
        """Resynchronise the link (flush, PING) and clear the counters.

        The link protocol has no reset command, so unlike the golden and Verilator backends STATUS
        keeps the last run's HALTED or ERROR (not IDLE); memories keep their contents on every
        backend. A board is fully reset by its reset button or by loading its bitstream again. The
        core cannot be left BUSY by this backend: the device answers a RUN only once it is idle.
        """
        self.resync()
        self.write(*loader.csr_write(Csr.CTRL, Ctrl.CLEAR_COUNTERS))

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            try:
                self._port.close()
            except Exception:          # closing a port whose device is gone must not mask the real error
                pass

    # --- the link ------------------------------------------------------------------------------------

    def resync(self) -> None:
        """Flush the input and PING until the device answers (DeviceError after dead_after_s)."""
        self._stats.resyncs += 1
        self._flush_input()
        self._needs_resync = False
        self._transact(lp.Command.PING, b"", lp.Command.ACK, 0, resync=True)

    def link_stats(self) -> LinkStats:
        """A snapshot of the link's counters."""
        stats = LinkStats(**asdict(self._stats))
        stats.dropped_bytes = self._stats.bytes_in - self._accepted_bytes - len(self._parser.buffer)
        return stats

    @property
    def frame_words(self) -> int:
        """Words per WRITE/READ frame now (MAX_WORDS on a clean line; smaller after errors)."""
        return self._frame_words

    def _in_frames(self, addrs: np.ndarray, send) -> None:
        """Call send(start, count, since) for runs of consecutive addresses of at most `frame_words`.

        A frame that fails while longer than the (then halved) frame size is given up and its
        words are sent again in shorter frames with new SEQs (WRITE and READ are idempotent);
        `since` carries the time of its first attempt, so the dead-device deadline still counts
        from there.
        """
        breaks = np.nonzero(np.diff(addrs.astype(np.int64)) != 1)[0] + 1
        bounds = [0, *breaks.tolist(), len(addrs)]
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            since = None
            while lo < hi:
                count = min(hi - lo, self._frame_words)
                try:
                    send(lo, count, since)
                except _Shrink as shrink:
                    since = shrink.since
                    continue
                since = None
                lo += count

    def _transact(self, command: lp.Command, payload: bytes, expect: lp.Command, answer_len: int, *,
                  run_bound_s: float = 0.0, resync: bool = False, words: int = 0,
                  since: float | None = None) -> bytes:
        """Send one command frame until its answer arrives; return the answer's payload."""
        if self._closed:
            raise DeviceError(f"{self.name}: the device is closed")
        if self._needs_resync and not resync:
            self.resync()
        self._needs_resync = True                 # cleared on success below
        t = self.timing
        self._seq = (self._seq + 1) & 0xFF
        seq = self._seq
        frame = lp.frame(seq, command, payload)
        round_trip_bytes = len(frame) + _OVERHEAD + answer_len
        start = time.monotonic() if since is None else since
        attempt = timeouts = 0
        while True:
            attempt += 1
            if attempt > 1:
                self._stats.retransmissions += 1
            sent = time.monotonic()
            self._send(frame, command, seq)
            wire_s = round_trip_bytes * max(self._byte_s, self._byte_s_seen)
            margin_s = self.margin_s
            wait_s = min(margin_s * t.backoff ** timeouts, t.max_timeout_s) + 2 * wire_s
            deadline = max(start, self._last_alive) + t.dead_after_s + run_bound_s
            kind, answer = self._await(seq, expect, answer_len, min(sent + wait_s, deadline), command,
                                       quiet_s=margin_s + 30 * self._byte_s)
            if kind is _ANSWER:
                if attempt == 1 and command != lp.Command.RUN:
                    self._time_answer(time.monotonic() - sent, round_trip_bytes)
                return self._answered(answer, attempt == 1)
            if kind is _NAK:
                self._stats.naks += 1
            elif kind is _DAMAGED:
                self._stats.damaged += 1
            else:
                self._stats.timeouts += 1
                timeouts += 1
            self._adapt(False)
            now = time.monotonic()
            deadline = max(start, self._last_alive) + t.dead_after_s + run_bound_s
            if now >= deadline:
                silent = now - max(start, self._last_alive)
                raise DeviceError(f"{self.name}: the device stopped answering: no valid frame for {silent:.2f} s "
                                  f"while waiting for the answer to {command.name} (seq {seq}, {attempt} "
                                  f"attempts){'; is the board running the NEP SoC?' if resync else ''}")
            if attempt >= t.max_attempts:
                raise DeviceError(f"{self.name}: {command.name} (seq {seq}) failed {attempt} times "
                                  f"({self._stats.naks} NAKs so far): the line is too noisy to pass a frame")
            if kind is not _NAK:
                late = self._settle(seq, expect, answer_len, command, margin_s + 30 * self._byte_s, deadline)
                if late is not None:
                    return self._answered(late, False)
                self._flush_input()
            if words > self._frame_words:
                self._stats.resplit += 1
                self._needs_resync = False        # nothing is wrong with the link but the frame size
                raise _Shrink(start)

    def _answered(self, payload: bytes, first_attempt: bool) -> bytes:
        self._stats.frames += 1
        self._stats.recovered += not first_attempt
        self._adapt(first_attempt)
        self._needs_resync = False
        return payload

    @property
    def margin_s(self) -> float:
        """The wait for an answer beyond twice its wire time, before any backoff (see "Waiting")."""
        t = self.timing
        return min(t.first_timeout_s, max(t.min_timeout_s, 4 * self._deviation_s))

    def _time_answer(self, elapsed_s: float, round_trip_bytes: int) -> None:
        """Fold a first attempt's answer time into the byte time and the deviation behind `margin_s`."""
        if self._byte_s_seen:
            miss = abs(elapsed_s - round_trip_bytes * self._byte_s_seen)
            self._deviation_s = 0.75 * self._deviation_s + 0.25 * miss
        seen = elapsed_s / round_trip_bytes
        self._byte_s_seen = seen if not self._byte_s_seen else 0.9 * self._byte_s_seen + 0.1 * seen

    def _adapt(self, clean: bool) -> None:
        if clean:
            self._clean += 1
            if self._clean >= GROW_AFTER and self._frame_words < lp.MAX_WORDS:
                self._frame_words = min(lp.MAX_WORDS, 2 * self._frame_words)
                self._clean = 0
        else:
            self._clean = 0
            self._frame_words = max(MIN_FRAME_WORDS, self._frame_words // 2)

    def _send(self, frame: bytes, command: lp.Command, seq: int) -> None:
        try:
            self._port.write(frame)
        except Exception as e:                    # pyserial's SerialException/SerialTimeoutException, OSError
            raise DeviceError(f"{self.name}: cannot send {command.name} (seq {seq}): {_why(e)}; the device "
                              f"hung up or stopped reading") from e
        self._stats.bytes_out += len(frame)

    def _receive(self, seq: int, command: lp.Command) -> tuple[int, list]:
        """Read what the port has (waiting up to poll_s): (bytes read, whole frames they completed)."""
        try:
            data = self._port.read(max(1, self._port.in_waiting))
        except Exception as e:
            raise DeviceError(f"{self.name}: the device hung up while waiting for the answer to "
                              f"{command.name} (seq {seq}): {_why(e)}") from e
        if not data:
            return 0, []
        self._last_rx = time.monotonic()
        self._stats.bytes_in += len(data)
        frames = self._parser.feed(data)
        if frames:
            self._last_alive = self._last_rx
        for f_seq, _, f_payload in frames:
            self._accepted_bytes += _OVERHEAD + len(f_payload)
            self._stats.stale += f_seq != seq
        return len(data), frames

    def _await(self, seq: int, expect: lp.Command, answer_len: int, until: float, command: lp.Command, *,
               quiet_s: float):
        """Read until our answer: (_ANSWER, payload), (_NAK, None), (_DAMAGED, None) or (None, None) at `until`.

        _DAMAGED means an answer came but was spoiled: the parser threw bytes away and holds no
        partial frame, or bytes came and then the line stayed quiet for `quiet_s` (one was lost).
        Either way the frame is retransmitted without waiting for the timeout (once the device
        has finished talking, see `_settle`).
        """
        parser = self._parser
        pending = len(parser.buffer)        # read, in no frame yet
        last_data = None
        while True:
            count, frames = self._receive(seq, command)
            now = time.monotonic()
            if count:
                last_data = now
                pending += count
                for f_seq, f_cmd, f_payload in frames:
                    pending -= _OVERHEAD + len(f_payload)
                    if f_seq != seq:
                        continue
                    if f_cmd == lp.Command.NAK:
                        return _NAK, None
                    if f_cmd == expect and len(f_payload) == answer_len:
                        return _ANSWER, f_payload
                    self._stats.unexpected += 1
                if pending > len(parser.buffer) and not parser.buffer:
                    return _DAMAGED, None
            if pending > 0 and last_data is not None and now - last_data >= quiet_s:
                return _DAMAGED, None
            if now >= until:
                return None, None

    def _settle(self, seq: int, expect: lp.Command, answer_len: int, command: lp.Command, quiet_s: float,
                until: float) -> bytes | None:
        """Before a retransmission, read until the line has been quiet for `quiet_s` (or until `until`).

        The bridge does not listen while it executes a frame and sends the answer, so a copy sent
        while an answer is still coming (the host saw its first bytes spoiled) would be lost too and
        cost a timeout. Returns our answer if it arrives meanwhile (an earlier copy's, late), else
        None; every other frame is skipped.
        """
        while time.monotonic() - self._last_rx < quiet_s and time.monotonic() < until:
            for f_seq, f_cmd, f_payload in self._receive(seq, command)[1]:
                if f_seq == seq and f_cmd == expect and len(f_payload) == answer_len:
                    return f_payload
        return None

    def _flush_input(self) -> None:
        """Drop what is buffered (garbage, partial frames) so the next answer parses from a clean start."""
        try:
            self._port.reset_input_buffer()
        except Exception as e:
            raise DeviceError(f"{self.name}: the device hung up: {_why(e)}") from e
        self._parser.buffer.clear()


def _why(e: BaseException) -> str:
    return str(e) or type(e).__name__


def _open_port(path: str, baudrate: int, timing: LinkTiming):
    import serial
    try:
        return serial.Serial(path, baudrate, timeout=timing.poll_s, write_timeout=timing.write_timeout_s)
    except serial.SerialException as e:
        code = e.args[0] if e.args and isinstance(e.args[0], int) else None
        reason = os.strerror(code) if code else _why(e)
        hint = " (no such port: is the board plugged in, or the simulator running?)" \
            if code == errno_codes.ENOENT else ""
        raise DeviceError(f"serial {path}: cannot open the port: {reason}{hint}") from None
