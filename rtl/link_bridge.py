"""Link bridge: turns frames of `firmware.link_protocol` arriving on a byte stream into NEP bus traffic.

Receive: hunt for SYNC, take LEN, SEQ, CMD and the payload into a buffer while updating the CRC,
then check CRC, command and length. Only a frame that passes all three is executed; a damaged
one is answered with NAK (or dropped when even its header made no sense), never acted on.
Execute: WRITE streams the buffered words onto the bus, READ reads bus words, RUN starts the core
and waits for it (the core always stops). The answer is assembled in a response buffer, then
sent with its CRC. If the line goes quiet in the middle of a frame, the receiver starts over.
"""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..firmware.link_protocol import MAX_PAYLOAD, MAX_WORDS, SYNC, Command, Nak, crc16
from ..firmware.memory_map import REGION_SHIFT, Csr, Ctrl, Region
from . import block_ram
from .bus import BusSignature

BUFFER_DEPTH = 1 << (MAX_PAYLOAD + 8).bit_length()


def _crc_taps() -> list[list[int]]:
    """For each bit of the next CRC, the bits of Cat(crc, byte) it is the XOR of.

    The CRC step is linear over GF(2), so it is found by feeding `link_protocol.crc16` each
    single input bit alone.
    """
    taps = [[] for _ in range(16)]
    for i in range(24):
        crc, byte = (1 << i, 0) if i < 16 else (0, 1 << (i - 16))
        out = crc16(bytes([byte]), crc)
        for bit in range(16):
            if out >> bit & 1:
                taps[bit].append(i)
    return taps


_CRC_TAPS = _crc_taps()


def crc16_update(crc: Value, byte: Value) -> Value:
    """CRC-16/CCITT-FALSE of one more byte (`link_protocol.crc16`), as a 16-bit XOR network."""
    inputs = Cat(crc, byte)
    return Cat(*[Cat(*[inputs[i] for i in taps]).xor() for taps in _CRC_TAPS])


def csr(offset: int) -> int:
    return (int(Region.CSR) << REGION_SHIFT) | int(offset)


class LinkBridge(wiring.Component):
    def __init__(self, idle_reset_cycles: int, bus_read_latency: int = 1, bus_delay: int = 0):
        """`bus_read_latency`: cycles from this bridge's `r_en` to `r_data` (at least 1);
        `bus_delay`: cycles a write (CTRL.START included) takes to reach the core, when registers
        sit between the two; the bridge waits that long before it looks at `core_busy`."""
        assert bus_read_latency >= 1 and bus_delay >= 0, (bus_read_latency, bus_delay)
        self.idle_reset_cycles = idle_reset_cycles
        self.bus_read_latency = bus_read_latency
        self.bus_delay = bus_delay
        super().__init__({
            "rx_data": In(8), "rx_valid": In(1),
            "tx_data": Out(8), "tx_valid": Out(1), "tx_ready": In(1),
            "bus": In(BusSignature()),        # the bridge is the bus master
            "core_busy": In(1),
            "frames_ok": Out(16), "frames_bad": Out(16),
        })

    def elaborate(self, platform):
        m = Module()
        bus = self.bus

        m.submodules.rx_buffer = rx_mem = Memory(shape=8, depth=BUFFER_DEPTH, init=[], attrs=block_ram.ATTRS)
        m.submodules.tx_buffer = tx_mem = Memory(shape=8, depth=BUFFER_DEPTH, init=[], attrs=block_ram.ATTRS)
        rx_wr, rx_rd = rx_mem.write_port(), block_ram.ReadPort(m, rx_mem, "rx_buffer")
        tx_wr, tx_rd = tx_mem.write_port(), block_ram.ReadPort(m, tx_mem, "tx_buffer")

        length, seq, cmd = Signal(8), Signal(8), Signal(8)
        index = Signal(range(BUFFER_DEPTH + 1))
        crc, crc_rx = Signal(16, init=0xFFFF), Signal(16)
        head = Signal(32)                       # first four payload bytes, big-endian
        last_seq, last_valid = Signal(8), Signal()
        idle = Signal(range(self.idle_reset_cycles + 1))

        addr = Signal(24)
        words = Signal(range(MAX_WORDS + 1))
        word = Signal(32)
        w_word = Signal(32)             # a WRITE's bus word: the receive buffer's bytes shift straight in
        byte_i = Signal(2)
        resp_len = Signal(range(BUFFER_DEPTH + 1))
        tx_ptr = Signal(range(BUFFER_DEPTH + 1))
        tx_crc = Signal(16)
        # Last payload index and last response index, registered from `length` and `resp_len`
        # (both set cycles before they are needed) so that no adder sits before a comparison.
        payload_last, resp_last = Signal(8), Signal.like(resp_len)
        m.d.sync += [payload_last.eq(length - 1), resp_last.eq(resp_len + 3)]

        m.d.comb += [rx_wr.addr.eq(index), rx_wr.data.eq(self.rx_data)]

        # Response bytes are posted: `put` registers the write, which reaches the buffer (placed
        # wherever the block RAM is) a cycle later. SEND reads the buffer only after the last `put`
        # state and SEND itself, so every byte is in place by then.
        m.d.sync += tx_wr.en.eq(0)

        def put(position, value):
            """Write `value` at `position` of the response buffer (lands at the end of next cycle)."""
            m.d.sync += [tx_wr.addr.eq(position), tx_wr.data.eq(value), tx_wr.en.eq(1)]

        def quiet_timeout():
            """In a receiving state: give the frame up after too long a silence."""
            with m.If(~self.rx_valid):
                m.d.sync += idle.eq(idle + 1)
                with m.If(idle == self.idle_reset_cycles):
                    m.d.sync += self.frames_bad.eq(self.frames_bad + 1)
                    m.next = "HUNT"

        def answer(command, payload_len):
            """Start a response: header bytes go in at HEADER, the body follows."""
            m.d.sync += [cmd.eq(command), resp_len.eq(payload_len), index.eq(0)]
            m.next = "HEADER"

        waits = []

        def wait_states(prefix, cycles, then):
            """The first of `cycles` idle states that lead to state `then` (`then` itself for 0)."""
            names = [f"{prefix}_WAIT{i}" for i in range(cycles)] + [then]
            waits.extend(zip(names[:-1], names[1:]))
            return names[0]

        with m.FSM():
            # --- receive ----------------------------------------------------------------------
            with m.State("HUNT"):
                with m.If(self.rx_valid & (self.rx_data == SYNC)):
                    m.d.sync += [crc.eq(0xFFFF), idle.eq(0)]
                    m.next = "LEN"
            for state, nxt, target in (("LEN", "SEQ", length), ("SEQ", "CMD", seq), ("CMD", None, cmd)):
                with m.State(state):
                    quiet_timeout()
                    with m.If(self.rx_valid):
                        m.d.sync += [target.eq(self.rx_data), crc.eq(crc16_update(crc, self.rx_data)),
                                     idle.eq(0), index.eq(0)]
                        if nxt:
                            m.next = nxt
                        else:
                            m.next = "CMD_NEXT"
            with m.State("CMD_NEXT"):
                with m.If(length == 0):
                    m.next = "CRC_HI"
                with m.Else():
                    m.next = "PAYLOAD"
            with m.State("PAYLOAD"):
                quiet_timeout()
                with m.If(self.rx_valid):
                    m.d.comb += rx_wr.en.eq(1)
                    m.d.sync += [crc.eq(crc16_update(crc, self.rx_data)), index.eq(index + 1), idle.eq(0)]
                    with m.If(index < 4):
                        m.d.sync += head.eq(Cat(self.rx_data, head[:24]))
                    with m.If(index == payload_last):
                        m.next = "CRC_HI"
            with m.State("CRC_HI"):
                quiet_timeout()
                with m.If(self.rx_valid):
                    m.d.sync += [crc_rx[8:].eq(self.rx_data), idle.eq(0)]
                    m.next = "CRC_LO"
            with m.State("CRC_LO"):
                quiet_timeout()
                with m.If(self.rx_valid):
                    m.d.sync += crc_rx[:8].eq(self.rx_data)
                    m.next = "VERDICT"

            # The frame's checks are registered (VERDICT), then acted on (CHECK): no compare sits in
            # front of the state and the registers CHECK loads.
            crc_bad, known, length_ok = Signal(), Signal(), Signal()
            with m.State("VERDICT"):
                m.d.sync += [
                    crc_bad.eq(crc != crc_rx),
                    known.eq(Cat(*[cmd == c for c in (Command.WRITE, Command.READ, Command.RUN,
                                                      Command.PING)]).any()),
                    length_ok.eq(Mux(cmd == Command.WRITE,
                                     (length >= 7) & ((length - 3)[:2] == 0),
                                     Mux(cmd == Command.READ,
                                         (length == 4) & (head[:8] != 0) & (head[:8] <= MAX_WORDS),
                                         Mux(cmd == Command.RUN, length == 2, length == 0)))),
                ]
                m.next = "CHECK"

            with m.State("CHECK"):
                with m.If(crc_bad):
                    m.d.sync += [self.frames_bad.eq(self.frames_bad + 1), head.eq(Nak.CRC)]
                    answer(Command.NAK, 1)
                with m.Elif(~known):
                    m.d.sync += [self.frames_bad.eq(self.frames_bad + 1), head.eq(Nak.COMMAND)]
                    answer(Command.NAK, 1)
                with m.Elif(~length_ok):
                    m.d.sync += [self.frames_bad.eq(self.frames_bad + 1), head.eq(Nak.LENGTH)]
                    answer(Command.NAK, 1)
                with m.Else():
                    m.d.sync += self.frames_ok.eq(self.frames_ok + 1)
                    with m.Switch(cmd):
                        with m.Case(Command.WRITE):
                            m.d.sync += [addr.eq(head[8:]), words.eq((length - 3) >> 2), index.eq(3),
                                         byte_i.eq(0)]
                            m.next = "WRITE_FETCH"
                        with m.Case(Command.READ):
                            m.d.sync += [addr.eq(head[8:]), words.eq(head[:8])]
                            m.d.sync += [cmd.eq(Command.DATA), resp_len.eq(head[:8] << 2), index.eq(0)]
                            m.next = "HEADER"
                        with m.Case(Command.RUN):
                            with m.If(last_valid & (last_seq == seq)):
                                m.next = "RUN_STATUS"       # a retransmitted RUN: answer, don't rerun
                            with m.Else():
                                m.next = "RUN_PC"
                        with m.Default():
                            answer(Command.ACK, 0)
                    m.d.sync += [last_seq.eq(seq), last_valid.eq(1)]

            # --- execute ----------------------------------------------------------------------
            with m.State("WRITE_FETCH"):
                # Read payload bytes 4 at a time (read data arrives a cycle later).
                m.d.comb += rx_rd.addr.eq(index)
                m.d.sync += index.eq(index + 1)
                m.next = "WRITE_BYTE"
            with m.State("WRITE_BYTE"):
                m.d.sync += [w_word.eq(Cat(rx_rd.data, w_word[:24])), byte_i.eq(byte_i + 1)]
                m.d.comb += rx_rd.addr.eq(index)
                with m.If(byte_i == 3):
                    m.next = "WRITE_BUS"
                with m.Else():
                    m.d.sync += index.eq(index + 1)
            with m.State("WRITE_BUS"):
                m.d.comb += [bus.addr.eq(addr), bus.w_data.eq(w_word), bus.w_en.eq(1)]
                m.d.sync += [addr.eq(addr + 1), words.eq(words - 1)]
                with m.If(words == 1):
                    answer(Command.ACK, 0)
                with m.Else():
                    m.next = "WRITE_FETCH"

            with m.State("RUN_PC"):
                m.d.comb += [bus.addr.eq(csr(Csr.PC_START)), bus.w_data.eq(head[:16]), bus.w_en.eq(1)]
                m.next = "RUN_START"
            with m.State("RUN_START"):
                m.d.comb += [bus.addr.eq(csr(Csr.CTRL)), bus.w_data.eq(Ctrl.START), bus.w_en.eq(1)]
                m.next = wait_states("RUN_START", self.bus_delay, "RUN_WAIT")
            with m.State("RUN_WAIT"):
                with m.If(~self.core_busy):
                    m.next = "RUN_STATUS"
            with m.State("RUN_STATUS"):
                m.d.comb += [bus.addr.eq(csr(Csr.STATUS)), bus.r_en.eq(1)]
                m.next = wait_states("RUN_STATUS", self.bus_read_latency - 1, "RUN_CAPTURE")
            with m.State("RUN_CAPTURE"):
                m.d.sync += head.eq(bus.r_data)
                answer(Command.ACK, 4)

            # --- respond: header, body, then send with CRC -----------------------------------
            with m.State("HEADER"):
                m.d.sync += index.eq(index + 1)
                with m.Switch(index):
                    with m.Case(0):
                        put(0, SYNC)
                    with m.Case(1):
                        put(1, resp_len)
                    with m.Case(2):
                        put(2, seq)
                    with m.Case(3):
                        put(3, cmd)
                        m.d.sync += byte_i.eq(0)
                        with m.If(cmd == Command.DATA):
                            m.next = "READ_BUS"
                        with m.Elif(resp_len == 0):
                            m.next = "SEND"
                        with m.Else():
                            m.next = "BODY"
            with m.State("BODY"):
                # ACK/NAK bodies come from `head`: 4 status bytes (big-endian) or 1 NAK reason.
                put(index, Mux(resp_len == 1, head[:8], head.word_select(~byte_i, 8)))
                m.d.sync += [index.eq(index + 1), byte_i.eq(byte_i + 1)]
                with m.If(index == resp_last):
                    m.next = "SEND"
            with m.State("READ_BUS"):
                m.d.comb += [bus.addr.eq(addr), bus.r_en.eq(1)]
                m.d.sync += [addr.eq(addr + 1), words.eq(words - 1)]
                m.next = wait_states("READ_BUS", self.bus_read_latency - 1, "READ_CAPTURE")
            with m.State("READ_CAPTURE"):
                m.d.sync += [word.eq(bus.r_data), byte_i.eq(0)]
                m.next = "READ_BYTES"
            with m.State("READ_BYTES"):
                put(index, word.word_select(~byte_i, 8))
                m.d.sync += [index.eq(index + 1), byte_i.eq(byte_i + 1)]
                with m.If(byte_i == 3):
                    with m.If(words == 0):
                        m.next = "SEND"
                    with m.Else():
                        m.next = "READ_BUS"

            with m.State("SEND"):
                m.d.sync += [tx_ptr.eq(0), tx_crc.eq(0xFFFF)]
                m.next = "SEND_FETCH"
            tx_byte = Signal(8)
            with m.State("SEND_FETCH"):
                m.d.comb += tx_rd.addr.eq(tx_ptr)
                m.next = "SEND_LATCH"
            with m.State("SEND_LATCH"):
                # The buffer's byte is registered before the CRC and the UART see it (a block RAM's
                # output is slow and the buffer may be placed far away).
                m.d.sync += tx_byte.eq(tx_rd.data)
                m.next = "SEND_BYTE"
            with m.State("SEND_BYTE"):
                m.d.comb += [self.tx_data.eq(tx_byte), self.tx_valid.eq(1)]
                with m.If(self.tx_ready):
                    with m.If(tx_ptr != 0):
                        m.d.sync += tx_crc.eq(crc16_update(tx_crc, tx_byte))
                    m.d.sync += tx_ptr.eq(tx_ptr + 1)
                    with m.If(tx_ptr == resp_last):
                        m.next = "SEND_CRC_HI"
                    with m.Else():
                        m.next = "SEND_FETCH"
            with m.State("SEND_CRC_HI"):
                m.d.comb += [self.tx_data.eq(tx_crc[8:]), self.tx_valid.eq(1)]
                with m.If(self.tx_ready):
                    m.next = "SEND_CRC_LO"
            with m.State("SEND_CRC_LO"):
                m.d.comb += [self.tx_data.eq(tx_crc[:8]), self.tx_valid.eq(1)]
                with m.If(self.tx_ready):
                    m.next = "HUNT"

            for name, then in waits:
                with m.State(name):
                    m.next = then
        return m
