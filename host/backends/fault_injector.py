"""Link faults between the host and a serial port: bit flips, dropped and duplicated bytes.

`FaultInjector(port, flip=..., drop=..., duplicate=..., seed=...)` wraps an open pyserial port
(or anything with its read/write API) and is itself such a port, so `SerialDevice(injector)`
talks through it. Every byte written (host -> device) and every byte read (device -> host) meets
at most one fault, drawn from a seeded generator: with probability `flip` one random bit of it is
inverted, with `drop` it vanishes, with `duplicate` it is sent twice. `at_rate(port, rate, seed)`
splits one byte-fault rate evenly between the three. The counts of what was injected, per
direction, are in `injected` (a `FaultCounts` each for "write" and "read"). A byte stream meets
the same faults for a seed however it is chunked into reads and writes (on a live link the streams
themselves depend on timing, through retransmissions).

Edges: a read may return fewer bytes than the port delivered (drops) or more than asked
(duplicates); `in_waiting` reports the wrapped port's count before faults.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class FaultCounts:
    bytes: int = 0          # bytes that passed through (before faults)
    flipped: int = 0
    dropped: int = 0
    duplicated: int = 0

    @property
    def faults(self) -> int:
        return self.flipped + self.dropped + self.duplicated


class FaultInjector:
    """A pyserial-like port that damages bytes in both directions at the given per-byte rates."""

    def __init__(self, port, *, flip: float = 0.0, drop: float = 0.0, duplicate: float = 0.0, seed: int = 0):
        if min(flip, drop, duplicate) < 0 or flip + drop + duplicate > 1:
            raise ValueError(f"fault rates must be >= 0 and sum to at most 1, got flip {flip}, drop {drop}, "
                             f"duplicate {duplicate}")
        self.wrapped = port
        self.rates = (flip, drop, duplicate)
        self.seed = seed
        # Per direction, one generator picks each byte's fault and one the bit to flip, both drawn
        # for every byte: a byte stream meets the same faults however the port chunks it.
        streams = np.random.SeedSequence(seed).spawn(4)
        self._rngs = {"write": [np.random.default_rng(s) for s in streams[:2]],
                      "read": [np.random.default_rng(s) for s in streams[2:]]}
        self.injected = {"write": FaultCounts(), "read": FaultCounts()}

    @classmethod
    def at_rate(cls, port, rate: float, seed: int = 0) -> "FaultInjector":
        """Faults on `rate` of the bytes in each direction: a third each flipped, dropped, duplicated."""
        return cls(port, flip=rate / 3, drop=rate / 3, duplicate=rate / 3, seed=seed)

    def _damage(self, data: bytes, direction: str) -> bytes:
        counts = self.injected[direction]
        n = len(data)
        counts.bytes += n
        if n == 0:
            return data
        flip, drop, duplicate = self.rates
        pick, bit = self._rngs[direction]
        r = pick.random(n)
        bits = (bit.random(n) * 8).astype(np.int64)
        if not (r < flip + drop + duplicate).any():
            return data
        out = bytearray()
        for byte, x, bit in zip(data, r.tolist(), bits.tolist()):
            if x < flip:
                out.append(byte ^ (1 << bit))
                counts.flipped += 1
            elif x < flip + drop:
                counts.dropped += 1
            elif x < flip + drop + duplicate:
                out += bytes([byte, byte])
                counts.duplicated += 1
            else:
                out.append(byte)
        return bytes(out)

    # --- the pyserial API the serial backend uses ----------------------------------------------------

    def write(self, data: bytes) -> int:
        """Write `data` with faults; returns len(data) as if all of it went out (as a UART would)."""
        self.wrapped.write(self._damage(bytes(data), "write"))
        return len(data)

    def read(self, size: int = 1) -> bytes:
        return self._damage(self.wrapped.read(size), "read")

    @property
    def in_waiting(self) -> int:
        return self.wrapped.in_waiting

    @property
    def timeout(self):
        return self.wrapped.timeout

    @timeout.setter
    def timeout(self, value):
        self.wrapped.timeout = value

    @property
    def port(self) -> str:
        return getattr(self.wrapped, "port", None) or repr(self.wrapped)

    @property
    def is_open(self) -> bool:
        return self.wrapped.is_open

    def flush(self) -> None:
        self.wrapped.flush()

    def reset_input_buffer(self) -> None:
        self.wrapped.reset_input_buffer()

    def reset_output_buffer(self) -> None:
        self.wrapped.reset_output_buffer()

    def close(self) -> None:
        self.wrapped.close()

    def summary(self) -> str:
        parts = []
        for direction, c in self.injected.items():
            parts.append(f"{direction}: {c.faults} faults in {c.bytes} bytes ({c.flipped} flipped, {c.dropped} "
                         f"dropped, {c.duplicated} duplicated)")
        return "; ".join(parts)
