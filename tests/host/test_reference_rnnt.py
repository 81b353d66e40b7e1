"""The host-side integer reference decodes exactly as the NEP (golden backend) does."""

import numpy as np

from edgeasr.firmware.compiler import compile_student
from edgeasr.host.device import open_device
from edgeasr.host.nep_rnnt import NepRnnt
from edgeasr.host.recognizer import transcribe
from edgeasr.host.reference_rnnt import ReferenceRnnt

from .test_recognizer import CONFIG, speechlike


def test_reference_equals_the_golden_device(small_student):
    audio = np.concatenate([speechlike(0.9, seed=11), np.zeros(4000, np.float32)])
    with open_device("golden", CONFIG) as dev:
        nep = NepRnnt(dev, compile_student(small_student, CONFIG))
        on_device = transcribe(nep, audio)
        enc_device = [nep.encoder_step(a, b) for a, b in [(np.full(nep.features, 5), np.full(nep.features, -7))] * 3]
    ref = ReferenceRnnt(small_student)
    on_host = transcribe(ref, audio)
    a, b = on_device.to_dict(), on_host.to_dict()
    assert a.pop("device")["cycles"] > 0 and b.pop("device")["cycles"] == 0
    assert a == b and on_device.trace == on_host.trace
    enc_host = [ref.encoder_step(np.full(ref.features, 5), np.full(ref.features, -7)) for _ in range(3)]
    assert all(np.array_equal(x, y) for x, y in zip(enc_device, enc_host))


def test_open_decoder_gives_the_reference_or_a_device(small_student):
    from edgeasr.host.reference_rnnt import open_decoder
    with open_decoder("reference", small_student) as ref:
        assert isinstance(ref, ReferenceRnnt)
    with open_decoder("golden", small_student, lanes=8) as nep:
        assert isinstance(nep, NepRnnt) and nep.vocab == ref.vocab
