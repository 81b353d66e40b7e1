"""The framed host link of the NEP SoC (UART or any byte stream): one definition for RTL and host.

A frame is

    SYNC | LEN | SEQ | CMD | PAYLOAD (LEN bytes) | CRC_HI | CRC_LO

with CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection) over LEN..PAYLOAD. Multi-byte
fields are big-endian. The host sends commands; the device answers each well-formed command with
exactly one frame carrying the same SEQ:

    WRITE  addr:3 words:4*n   -> ACK           writes n consecutive bus words from `addr`
    READ   addr:3 n:1         -> DATA words:4*n
    RUN    pc_start:2         -> ACK status:4  writes PC_START and CTRL.START, answers when idle
    PING                      -> ACK           (also how the host resynchronises)

A frame with a bad CRC, a bad length or an unknown command is never acted on: the device
answers NAK with the reason when it could read SEQ, and otherwise stays silent; either way the
host retransmits. The device remembers the SEQ of the last command it executed: a repeated RUN
(its ACK was lost) is answered with the current status without running again; WRITE and READ
are idempotent and simply execute again. After IDLE_RESET_BYTES byte-times of silence in the
middle of a frame, the receiver drops it and hunts for SYNC again.
"""

import enum

SYNC = 0xA5
MAX_WORDS = 63                      # bus words per WRITE or READ (LEN is one byte)
MAX_PAYLOAD = 3 + 4 * MAX_WORDS
HEADER_BYTES = 4                    # SYNC, LEN, SEQ, CMD
CRC_BYTES = 2
IDLE_RESET_BYTES = 16


class Command(enum.IntEnum):
    WRITE = 0x01
    READ = 0x02
    RUN = 0x03
    PING = 0x04
    ACK = 0x81
    DATA = 0x82
    NAK = 0x8F


class Nak(enum.IntEnum):
    """NAK payload byte: why a frame was refused."""
    CRC = 1
    LENGTH = 2
    COMMAND = 3


def crc16(data: bytes, crc: int = 0xFFFF) -> int:
    """CRC-16/CCITT-FALSE, bitwise as the RTL computes it."""
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def frame(seq: int, command: Command, payload: bytes = b"") -> bytes:
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    body = bytes([len(payload), seq & 0xFF, int(command)]) + payload
    crc = crc16(body)
    return bytes([SYNC]) + body + bytes([crc >> 8, crc & 0xFF])


def command_ok(command: int, payload: bytes) -> bool:
    """Whether a command frame with this payload is well-formed (the RTL applies the same rule)."""
    n = len(payload)
    if command == Command.WRITE:
        return n >= 7 and (n - 3) % 4 == 0 and (n - 3) // 4 <= MAX_WORDS
    if command == Command.READ:
        return n == 4 and 1 <= payload[3] <= MAX_WORDS
    if command == Command.RUN:
        return n == 2
    if command == Command.PING:
        return n == 0
    return False


def write_payload(addr: int, words) -> bytes:
    return addr.to_bytes(3, "big") + b"".join((w & 0xFFFFFFFF).to_bytes(4, "big") for w in words)


def read_payload(addr: int, count: int) -> bytes:
    if not 1 <= count <= MAX_WORDS:
        raise ValueError(f"READ of {count} words: must be 1..{MAX_WORDS}")
    return addr.to_bytes(3, "big") + bytes([count])


class FrameParser:
    """Host-side receiver: feed bytes, collect whole frames (seq, command, payload) with good CRC.

    Garbage before SYNC and frames with a bad CRC are skipped (counted in `dropped`), so the
    parser resynchronises on its own after noise on the line.
    """

    def __init__(self):
        self.buffer = bytearray()
        self.dropped = 0

    def feed(self, data: bytes) -> list[tuple[int, int, bytes]]:
        self.buffer += data
        frames = []
        while True:
            start = self.buffer.find(SYNC)
            if start < 0:
                self.dropped += len(self.buffer) > 0
                self.buffer.clear()
                return frames
            if start:
                self.dropped += 1
                del self.buffer[:start]
            if len(self.buffer) < HEADER_BYTES:
                return frames
            length = self.buffer[1]
            total = HEADER_BYTES + length + CRC_BYTES
            if length > MAX_PAYLOAD:
                self.dropped += 1
                del self.buffer[:1]
                continue
            if len(self.buffer) < total:
                return frames
            body = bytes(self.buffer[1:HEADER_BYTES + length])
            crc = self.buffer[total - 2] << 8 | self.buffer[total - 1]
            if crc16(body) != crc:
                self.dropped += 1
                del self.buffer[:1]
                continue
            frames.append((body[1], body[2], body[3:]))
            del self.buffer[:total]
