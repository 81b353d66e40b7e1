"""Streaming recognition on golden and Verilator: identical results, events, lattice; audio edge cases; CLI."""

import json

import numpy as np
import pytest
import soundfile as sf

from edgeasr.firmware.compiler import compile_student
from edgeasr.host import cli
from edgeasr.host.audio import AudioFormatError, read_audio
from edgeasr.host.device import open_device
from edgeasr.host.nep_rnnt import NepRnnt
from edgeasr.host.recognizer import transcribe
from edgeasr.models.export import save_image
from edgeasr.verif.random_program import regress_config

CONFIG = regress_config(8)
SEED = 7


def speechlike(seconds: float = 0.6, seed: int = SEED) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16000)) / 16000
    tone = np.sin(2 * np.pi * (200 + 300 * t) * t) * (0.3 + 0.2 * np.sin(2 * np.pi * 3 * t))
    return (tone + 0.02 * rng.normal(size=t.size)).astype(np.float32)


def run(student, backend: str, audio: np.ndarray, chunk_s: float = 0.1):
    image = compile_student(student, CONFIG)
    with open_device(backend, CONFIG) as dev:
        return transcribe(NepRnnt(dev, image), audio, chunk_s=chunk_s)


def test_golden_and_verilator_give_identical_results(small_student):
    audio = speechlike()
    g, v = run(small_student, "golden", audio), run(small_student, "verilator", audio)
    assert g.text == v.text and g.nbest == v.nbest and g.events == v.events
    assert g.lattice.to_dict() == v.lattice.to_dict()
    assert (g.device["macs"], g.device["skipped"]) == (v.device["macs"], v.device["skipped"])
    assert g.events[-1].type == "final" and g.events[-1].time_s == pytest.approx(0.6)
    assert g.device["encoder_steps"] == 9          # 0.6 s -> 58 mel frames -> 19 feature frames -> 9 steps


def test_feature_stride_comes_from_the_image(small_student):
    import dataclasses
    stride2 = dataclasses.replace(small_student, config=dataclasses.replace(small_student.config, feature_stride=2))
    r = run(stride2, "golden", speechlike())
    assert r.device["encoder_steps"] == 14         # 58 mel frames -> 28 feature frames at stride 2 -> 14 steps
    assert [step.time_s for _, step in r.trace[:2]] == [0.04, 0.08]


def test_chunk_size_does_not_change_the_result(small_student):
    audio = speechlike(seed=SEED + 1)
    a, b = run(small_student, "golden", audio, 0.01), run(small_student, "golden", audio, 0.37)
    assert (a.text, a.nbest) == (b.text, b.nbest)


def test_silence_and_short_audio_give_a_final_event(small_student):
    r = run(small_student, "golden", np.zeros(800, np.float32))
    assert r.events[-1].type == "final" and r.device["encoder_steps"] == 0


def test_audio_is_resampled_and_mixed_down(tmp_path):
    mono = speechlike(0.5)
    path = tmp_path / "stereo.wav"
    from scipy.signal import resample_poly
    x = resample_poly(mono, 441, 160)
    sf.write(path, np.stack([x, x], 1), 44100, subtype="PCM_24")
    back = read_audio(str(path))
    assert abs(len(back) - len(mono)) <= 1
    n = min(len(back), len(mono))
    assert np.abs(back[100:n - 100] - mono[100:n - 100]).max() < 0.02


@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT"])
def test_every_wav_sample_format_reads(tmp_path, subtype):
    path = tmp_path / f"{subtype}.wav"
    sf.write(path, speechlike(0.1), 16000, subtype=subtype)
    assert read_audio(str(path)).shape == (1600,)


def test_bad_audio_gives_clear_errors(tmp_path):
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, np.float32), 16000)
    with pytest.raises(AudioFormatError, match=r"empty\.wav: the file holds no samples$"):
        read_audio(str(empty))
    nan = tmp_path / "nan.wav"
    sf.write(nan, np.full(100, np.nan, np.float32), 16000, subtype="FLOAT")
    with pytest.raises(AudioFormatError, match=r"nan\.wav: sample 0 is nan; expected finite samples$"):
        read_audio(str(nan))
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt ")
    with pytest.raises(AudioFormatError, match=r"junk\.wav: cannot read audio"):
        read_audio(str(junk))
    good = tmp_path / "good.wav"
    sf.write(good, speechlike(0.2), 16000)
    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes(good.read_bytes()[:2000])
    assert read_audio(str(truncated)).size < 3200          # what is there is read; no crash
    with pytest.raises(AudioFormatError, match=r"good\.wav: 0\.2 s of audio; at most 0 s accepted$"):
        read_audio(str(good), max_seconds=0.1)


def test_transcribe_cli_json_and_lattice(small_student, tmp_path, capsys):
    model = tmp_path / "student.npz"
    save_image(small_student, str(model))
    wav = tmp_path / "utt.wav"
    sf.write(wav, speechlike(), 16000)
    lattice = tmp_path / "lattice.json"
    assert cli.main(["transcribe", str(wav), "--device", "golden", "--model", str(model), "--lanes", "8",
                     "--lattice", str(lattice), "--plot", str(tmp_path / "lattice.png"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(out) >= {"text", "nbest", "events", "device"}
    assert {"cycles", "macs", "skipped"} <= set(out["device"])
    assert out["events"][-1]["type"] == "final" and all("time_s" in e for e in out["events"])
    assert set(json.loads(lattice.read_text())) == {"arcs", "nbest"}
    assert (tmp_path / "lattice.png").read_bytes()[:4] == b"\x89PNG"
    assert cli.main(["transcribe", str(tmp_path / "missing.wav"), "--device", "golden"]) == 1
    assert "missing.wav: cannot read audio" in capsys.readouterr().err


def test_endpointed_events_are_ordered_and_final_is_last(small_student):
    from edgeasr.host.endpointer import EndpointConfig, EndpointRule
    from edgeasr.host.recognizer import RecognizerConfig
    image = compile_student(small_student, CONFIG)
    audio = np.concatenate([speechlike(0.6), np.zeros(16000 * 3, np.float32)])
    # Rules on utterance length only, so they fire whatever the (random) model decodes.
    final = EndpointConfig(EndpointRule(False, 0.0, 1.2), EndpointRule(False, 0.0, 1.2), EndpointRule(False, 0.0, 1.2))
    config = RecognizerConfig(endpoint=final, speculative=final.earlier(0.24))
    with open_device("golden", CONFIG) as dev:
        r = transcribe(NepRnnt(dev, image), audio, config)
    types = [e.type for e in r.events]
    assert types.count("speculative_final") == 1 and types[-1] == "final" and types.count("final") == 1
    spec = next(e for e in r.events if e.type == "speculative_final")
    assert r.events[-1].time_s - spec.time_s == pytest.approx(0.2, abs=0.11)
    assert r.device["encoder_steps"] == 20 and r.speculative_lattice is not None
    assert ("reset" in types) == (spec.text != r.text)


def test_stream_from_stdin_equals_transcribe(small_student, tmp_path, capsys, monkeypatch):
    import io
    import sys
    model = tmp_path / "student.npz"
    save_image(small_student, str(model))
    pcm = (speechlike() * 32767).astype("<i2")
    wav = tmp_path / "utt.wav"
    sf.write(wav, pcm, 16000, subtype="PCM_16")
    common = ["--device", "golden", "--model", str(model), "--lanes", "8", "--json"]
    assert cli.main(["transcribe", str(wav)] + common) == 0
    whole = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(pcm.tobytes()[:-1])))   # odd byte dropped
    assert cli.main(["stream", "--chunk-ms", "30"] + common) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    streamed = json.loads(lines[-1])
    assert streamed["text"] == whole["text"] and streamed["nbest"] == whole["nbest"]
    assert json.loads(lines[-2])["type"] == "final"


def test_next_utterance_keeps_the_stream_clock(small_student):
    from edgeasr.host.endpointer import EndpointConfig, EndpointRule
    from edgeasr.host.recognizer import Recognizer, RecognizerConfig
    image = compile_student(small_student, CONFIG)
    length = EndpointRule(False, 0.0, 0.6)
    config = RecognizerConfig(endpoint=EndpointConfig(length, length, length), speculative=None)
    finals = []
    with open_device("golden", CONFIG) as dev:
        rec = Recognizer(NepRnnt(dev, image), config)
        audio = speechlike(2.0)
        for i in range(0, len(audio), 1600):
            rec.accept_waveform(audio[i:i + 1600])
            while rec.ended:
                finals.append(rec.finish())
                rec.next_utterance()
                rec.accept_waveform(np.zeros(0, np.float32))
    assert len(finals) >= 2
    times = [r.events[-1].time_s for r in finals]
    assert times == sorted(times) and times[1] > times[0]
    assert all(r.device["encoder_steps"] == 10 for r in finals)
