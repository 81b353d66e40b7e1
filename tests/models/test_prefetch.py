import os
import signal
import time

import numpy as np
import pytest
import torch

from edgeasr.models.data import epoch_batches
from edgeasr.models.prefetch import prefetched


def test_prefetched_batches_equal_direct_ones():
    rng = np.random.default_rng(0)
    waves = [rng.standard_normal(int(n)).astype(np.float32) * 0.1 for n in rng.integers(8000, 20000, 12)]
    texts = ["call anne", "stop", "turn on the light"] * 4

    def make():
        return epoch_batches(waves, texts, 4, seed=3, epoch=1, stream=0, strength=1.0)

    direct, fetched = list(make()), list(prefetched(make, depth=2))
    assert len(direct) == len(fetched) == 3
    for a, b in zip(direct, fetched):
        assert a.index == b.index
        assert torch.equal(a.feats, b.feats) and torch.equal(a.targets, b.targets)
        assert torch.equal(a.frames, b.frames) and torch.equal(a.labels, b.labels)


def test_worker_error_is_raised_with_its_traceback():
    def make():
        yield 1
        raise ValueError("corrupt utterance 7")

    it = prefetched(make)
    assert next(it) == 1
    with pytest.raises(RuntimeError, match="corrupt utterance 7"):
        next(it)


def test_worker_killed_is_an_error_not_a_hang():
    def make():
        yield 1
        time.sleep(0.5)              # let the queue's feeder thread send item 1 first
        os.kill(os.getpid(), signal.SIGKILL)
        yield 2

    it = prefetched(make)
    assert next(it) == 1
    with pytest.raises(RuntimeError, match="died with exit code -9"):
        next(it)


def test_leaving_early_stops_the_worker():
    pids = []

    def make():
        for i in range(10_000):
            yield os.getpid(), i

    for pid, i in prefetched(make, depth=2):
        pids.append(pid)
        if i == 3:
            break
    assert pids[0] != os.getpid()
    with pytest.raises(ProcessLookupError):
        for _ in range(50):          # terminated and joined by the generator's cleanup
            os.kill(pids[0], 0)
            time.sleep(0.1)
