"""The link fault injector on an in-memory port: seeded, counted, both directions, pass-through at rate 0."""

import numpy as np
import pytest

from edgeasr.host.backends.fault_injector import FaultInjector


class LoopPort:
    """Bytes written come back on read (a loopback cable)."""

    port = "loop"
    timeout = 0.01

    def __init__(self):
        self.buffer = bytearray()

    def write(self, data):
        self.buffer += data
        return len(data)

    def read(self, size=1):
        data, self.buffer[:size] = bytes(self.buffer[:size]), b""
        return data

    @property
    def in_waiting(self):
        return len(self.buffer)

    def reset_input_buffer(self):
        self.buffer.clear()

    def close(self):
        pass


def _through(injector, data):
    injector.write(data)
    return injector.read(injector.in_waiting)


def test_rate_zero_passes_everything():
    injector = FaultInjector(LoopPort(), seed=1)
    data = bytes(range(256)) * 4
    assert _through(injector, data) == data
    assert injector.injected["write"].bytes == injector.injected["read"].bytes == len(data)
    assert injector.injected["write"].faults == injector.injected["read"].faults == 0


def test_faults_are_seeded_and_counted_per_direction():
    data = np.random.default_rng(0).bytes(20_000)
    outs = []
    for _ in range(2):
        injector = FaultInjector.at_rate(LoopPort(), 0.03, seed=7)
        outs.append(_through(injector, data))
        for direction in ("write", "read"):
            c = injector.injected[direction]
            assert c.flipped > 0 and c.dropped > 0 and c.duplicated > 0, (direction, c)
            assert 0.02 < c.faults / c.bytes < 0.04, (direction, c)
        w, r = injector.injected["write"], injector.injected["read"]
        assert r.bytes == len(data) - w.dropped + w.duplicated
        assert len(outs[-1]) == r.bytes - r.dropped + r.duplicated
    assert outs[0] == outs[1] != data
    assert FaultInjector.at_rate(LoopPort(), 0.03, seed=8).write(data) == len(data)


def test_faults_do_not_depend_on_chunking():
    data = np.random.default_rng(1).bytes(3000)
    whole = FaultInjector.at_rate(LoopPort(), 0.05, seed=2)
    whole.write(data)
    pieces = FaultInjector.at_rate(LoopPort(), 0.05, seed=2)
    for i in range(0, len(data), 7):
        pieces.write(data[i:i + 7])
    assert whole.wrapped.buffer == pieces.wrapped.buffer
    assert whole.injected["write"] == pieces.injected["write"]


def test_only_the_chosen_faults():
    injector = FaultInjector(LoopPort(), flip=0.05, seed=3)
    data = bytes(5000)
    out = _through(injector, data)
    assert len(out) == len(data)
    assert all(bin(b).count("1") <= 2 for b in out)          # at most one flip per direction per byte
    assert injector.injected["write"].dropped == injector.injected["write"].duplicated == 0


def test_rates_are_checked():
    with pytest.raises(ValueError, match=r"^fault rates must be >= 0 and sum to at most 1, got flip 0\.6, "
                                         r"drop 0\.5, duplicate 0\.0$"):
        FaultInjector(LoopPort(), flip=0.6, drop=0.5)
