"""A whole utterance through the NEP SoC in Verilator behind a pty (hardware in the loop), against golden.

The utterance is the shortest of the tiny corpus slice's test split (a held-out sentence in a
flite voice, 1.05 s; its chunk is synthesized here, so CI needs no data/), decoded by the small
student of conftest.py compiled for the 4-lane core test_serial_link already builds. Three ways:
`edgeasr transcribe --device serial:/dev/pts/N` on a clean link; the recognizer API through a
FaultInjector damaging 1% of the bytes each way; and the simulator killed mid-utterance.

"Equal" means: text, n-best, events, lattice, MACs, skipped weights and encoder steps equal the
golden backend's, and so does every word read back from the device (a `RecordingDevice` keeps
them), in the same order at the same addresses, except the CYCLES and STALLS counters, which the
golden model only estimates (`backends/golden.py`).
"""

import json
import re
import threading
import time

import numpy as np
import pytest
import serial
import soundfile as sf

from edgeasr.firmware.compiler import compile_student
from edgeasr.firmware.errors import DeviceError
from edgeasr.firmware.memory_map import Csr, Region, address
from edgeasr.host import cli, device as device_module
from edgeasr.host.audio import read_audio
from edgeasr.host.backends.fault_injector import FaultInjector
from edgeasr.host.backends.serial import LinkTiming, SerialDevice
from edgeasr.host.backends.soc_sim import soc_simulator
from edgeasr.host.beam_search import BeamSearchConfig
from edgeasr.host.device import Device, open_device
from edgeasr.host.nep_rnnt import NepRnnt
from edgeasr.host.recognizer import RecognizerConfig, transcribe
from edgeasr.models.corpus.build import CHUNK, CorpusConfig, _plan, _work
from edgeasr.verif.random_program import regress_config

CONFIG = regress_config(4)          # test_serial_link's SoC; it holds the small student's image
BEAM = 4                            # the search on both sides: beam 4, no LM (`transcribe --lm none`)
SEED = 11
UTTERANCE = 15                      # test-000015 "call sarah", 17 encoder steps, ~150 device runs
KILL_AT_RUN = 30                    # the kill comes a little after this run started
ESTIMATED = {address(Region.CSR, c) for c in (Csr.CYCLES_LO, Csr.CYCLES_HI, Csr.STALLS_LO, Csr.STALLS_HI)}


class RecordingDevice(Device):
    """A Device passing every primitive to `inner` and keeping every word read, in order.

    `reads` holds (addresses, values) per bulk read; `runs` counts STARTs and `on_run(runs)`, if
    given, is called just before each is passed on.
    """

    def __init__(self, inner: Device, on_run=None):
        super().__init__()
        self.inner, self.name = inner, inner.name
        self.reads: list[tuple[np.ndarray, np.ndarray]] = []
        self.runs = 0
        self.on_run = on_run

    def _write_pairs(self, pairs):
        self.inner._write_pairs(pairs)

    def _read_words(self, addrs):
        values = self.inner._read_words(addrs)
        self.reads.append((addrs.copy(), np.asarray(values, np.uint32).copy()))
        return values

    def _start(self, max_cycles):
        self.runs += 1
        if self.on_run is not None:
            self.on_run(self.runs)
        return self.inner._start(max_cycles)

    def reset(self):
        self.inner.reset()

    def close(self):
        self.inner.close()

    def words_read(self) -> tuple[np.ndarray, np.ndarray]:
        """(addresses, values) of every read, concatenated."""
        if not self.reads:
            return np.zeros(0, np.uint32), np.zeros(0, np.uint32)
        return tuple(np.concatenate(x) for x in zip(*self.reads))


@pytest.fixture(scope="module")
def utterance(tmp_path_factory):
    """(wav path, text): test utterance UTTERANCE of CorpusConfig.tiny(0), as 16-bit PCM."""
    config = CorpusConfig.tiny(0)
    items = _plan(config)["test"]
    assert len(items) <= CHUNK, len(items)          # one chunk: the samples equal the corpus's
    _, _, records, samples = _work(("test", 0, items, config.seed, 3))     # split index 3 is "test"
    record = records[UTTERANCE]
    assert record["voice"]["engine"] == "flite", record
    path = tmp_path_factory.mktemp("hil") / f"{record['id']}.wav"
    sf.write(path, samples[record["offset"]:record["offset"] + record["n_samples"]], 16000, subtype="PCM_16")
    return str(path), record["text"]


@pytest.fixture(scope="module")
def image(small_student):
    return compile_student(small_student, CONFIG)


def recognize(dev: Device, image, wav: str, on_run=None):
    """The utterance on `dev` as `edgeasr transcribe` decodes it: (Result, RecordingDevice)."""
    recorder = RecordingDevice(dev, on_run)
    config = RecognizerConfig(BeamSearchConfig(beam=BEAM), nbest=BEAM)
    return transcribe(NepRnnt(recorder, image), read_audio(wav), config), recorder


@pytest.fixture(scope="module")
def golden(utterance, image):
    with open_device("golden", CONFIG) as dev:
        return recognize(dev, image, utterance[0])


def assert_reads_equal(gold: RecordingDevice, board: RecordingDevice, what: str):
    """Every word read equal golden's, CYCLES/STALLS aside; returns (words compared, words read)."""
    g_addr, g_val = gold.words_read()
    b_addr, b_val = board.words_read()
    assert len(g_addr) == len(b_addr), f"{what}: {len(b_addr)} words read, golden read {len(g_addr)}"
    assert np.array_equal(g_addr, b_addr), f"{what}: read addresses differ from read {np.argmax(g_addr != b_addr)}"
    exact = ~np.isin(g_addr, list(ESTIMATED))
    bad = np.nonzero(exact & (g_val != b_val))[0]
    assert bad.size == 0, (f"{what}: {bad.size} of {exact.sum()} words read differ; first: word {bad[0]} at "
                           f"{g_addr[bad[0]]:#08x}, golden {g_val[bad[0]]:#x}, device {b_val[bad[0]]:#x}")
    return int(exact.sum()), len(g_addr)


def assert_result_equal(gold, board: dict, lattice: dict, what: str):
    """`board` is a Result.to_dict() or `edgeasr transcribe --json` output; `lattice` its lattice as JSON."""
    assert board["text"] == gold.text, what
    assert board["nbest"] == gold.nbest, what
    assert board["events"] == json.loads(json.dumps(gold.to_dict()["events"])), what
    assert lattice == json.loads(json.dumps(gold.lattice.to_dict())), what
    for key in ("macs", "skipped", "encoder_steps", "audio_s"):
        assert board["device"][key] == gold.device[key], (what, key)


def test_utterance_over_the_pty_equals_golden(utterance, image, golden, tmp_path, monkeypatch, capsys):
    wav, text = utterance
    gold, gold_reads = golden
    image_file = tmp_path / "student.nepi"
    image_file.write_bytes(image.to_bytes())
    lattice = tmp_path / "lattice.json"
    opened = []

    def recording_open_device(spec, config=None):
        opened.append(RecordingDevice(open_device(spec, config)))
        return opened[-1]

    monkeypatch.setattr(device_module, "open_device", recording_open_device)
    with soc_simulator(CONFIG) as (_, path):
        start = time.perf_counter()
        assert cli.main(["transcribe", wav, "--device", f"serial:{path}", "--image", str(image_file),
                         "--beam", str(BEAM), "--lm", "none", "--lattice", str(lattice), "--json"]) == 0
        wall = time.perf_counter() - start
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    (board,) = opened
    assert out["device"]["backend"] == f"serial:{path}"
    assert_result_equal(gold, out, json.loads(lattice.read_text()), f"{text!r} over {path}")
    exact, total = assert_reads_equal(gold_reads, board, f"{text!r} over {path}")
    stats = board.inner.link_stats()
    print(f"\n{text!r} ({out['device']['audio_s']} s) over {path}: {out['text']!r}; {board.runs} runs, "
          f"{exact} of {total} words read equal golden's (the rest CYCLES/STALLS); {wall:.1f} s; {stats.summary()}")


def test_utterance_at_one_percent_damaged_bytes_is_bit_exact(utterance, image, golden):
    wav, text = utterance
    gold, gold_reads = golden
    with soc_simulator(CONFIG) as (_, path):
        injector = FaultInjector.at_rate(serial.Serial(path, 115200, timeout=LinkTiming().poll_s), 0.01, seed=SEED)
        start = time.perf_counter()
        with SerialDevice(injector, CONFIG) as dev:
            result, board = recognize(dev, image, wav)
            stats = dev.link_stats()
        wall = time.perf_counter() - start
    what = f"{text!r} at 1% damaged bytes (seed {SEED})"
    assert_result_equal(gold, result.to_dict(), result.lattice.to_dict(), what)
    assert result.to_dict()["speculative_lattice"] == gold.to_dict()["speculative_lattice"], what
    assert result.trace == gold.trace, what
    assert_reads_equal(gold_reads, board, what)
    print(f"\n{what}: {wall:.1f} s\n  injected: {injector.summary()}\n  recovered: {stats.summary()}")
    for direction in ("write", "read"):
        counts = injector.injected[direction]
        assert counts.flipped > 0 and counts.dropped > 0 and counts.duplicated > 0, (direction, counts)
    assert stats.retransmissions > 0 and stats.recovered > 0, stats


def test_simulator_killed_mid_utterance_is_a_clear_error_within_2s(utterance, image, golden):
    wav, _ = utterance
    with soc_simulator(CONFIG) as (process, path):
        killed, runs = {}, []

        def kill():
            killed["at"] = time.monotonic()
            process.kill()

        timer = threading.Timer(0.02, kill)

        def on_run(n):
            runs.append(n)
            if n == KILL_AT_RUN:
                timer.start()

        try:
            with open_device(f"serial:{path}", CONFIG) as dev, pytest.raises(DeviceError) as info:
                recognize(dev, image, wav, on_run)
            assert "at" in killed, f"DeviceError before the kill: {info.value}"
            seconds = time.monotonic() - killed["at"]
        finally:
            timer.cancel()
    print(f"\nkilled mid-utterance after run {runs[-1]} of {golden[1].runs}: DeviceError "
          f"{seconds * 1000:.0f} ms after the kill: {info.value}")
    assert runs[-1] < golden[1].runs
    assert seconds < 2.0
    assert re.match(rf"^serial {re.escape(path)}: (the device hung up( while waiting for the answer to [A-Z]+ "
                    rf"\(seq \d+\))?: .+|cannot send [A-Z]+ \(seq \d+\): .+; the device hung up or stopped "
                    rf"reading)$", str(info.value)), str(info.value)
