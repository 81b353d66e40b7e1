"""A user's evaluation set: the three layouts, the audio and text conventions, and the errors."""

import json

import numpy as np
import pytest
import soundfile as sf

from edgeasr.host.bench_asr import main as bench_asr_main
from edgeasr.host.bench_asr import run_bench_asr
from edgeasr.host.eval_set import EvalSetError, estimate_speech, load_eval_set
from edgeasr.models.export import save_image


def burst(rng, lead_s=0.3, speech_s=0.5, trail_s=0.4, rate=16000):
    """Faint noise, a loud tone-and-noise burst, faint noise: speech from lead_s to lead_s + speech_s."""
    n = lambda s: int(s * rate)
    t = np.arange(n(speech_s)) / rate
    speech = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.normal(size=t.size)
    return np.concatenate([0.001 * rng.normal(size=n(lead_s)), speech, 0.001 * rng.normal(size=n(trail_s))])


def test_estimate_speech_finds_the_burst():
    start, end = estimate_speech(burst(np.random.default_rng(0)).astype(np.float32))
    assert abs(start - 0.3) <= 0.02 and abs(end - 0.8) <= 0.02


def test_estimate_speech_of_silence_is_the_whole_file():
    assert estimate_speech(np.zeros(16000, np.float32)) == (0.0, 1.0)
    assert estimate_speech(np.zeros(100, np.float32)) == (0.0, 100 / 16000)


def test_jsonl_given_boundaries_and_any_wav_format(tmp_path):
    rng = np.random.default_rng(1)
    stereo_8k = np.stack([burst(rng, rate=8000)] * 2, axis=1)
    sf.write(tmp_path / "a.wav", stereo_8k, 8000, subtype="PCM_24")
    sf.write(tmp_path / "b.flac", burst(rng), 16000)
    with open(tmp_path / "set.jsonl", "w") as f:
        f.write(json.dumps({"audio": "a.wav", "text": "Call Anne, please.", "speech_end_s": 0.9}) + "\n")
        f.write(json.dumps({"audio": "b.flac", "text": "don't stop", "id": "x7"}) + "\n")
    a, b = load_eval_set(str(tmp_path / "set.jsonl"))
    assert (a.id, a.text, len(a.audio)) == ("a", "call anne please", 19200)     # 1.2 s at 16 kHz
    assert a.speech_end_s == 0.9 and abs(a.speech_start_s - 0.3) <= 0.02 and a.boundaries_estimated
    assert (b.id, b.text) == ("x7", "don't stop") and abs(b.speech_end_s - 0.8) <= 0.02


def test_tsv_and_directory_layouts(tmp_path):
    rng = np.random.default_rng(2)
    for name in ("one", "two"):
        sf.write(tmp_path / f"{name}.wav", burst(rng), 16000)
        (tmp_path / f"{name}.txt").write_text(f"play {name}\n")
    (tmp_path / "set.tsv").write_text("# audio\ttext\n\none.wav\tplay one\ntwo.wav\tPlay two\n")
    from_tsv = load_eval_set(str(tmp_path / "set.tsv"))
    from_dir = load_eval_set(str(tmp_path))
    assert [u.text for u in from_tsv] == [u.text for u in from_dir] == ["play one", "play two"]
    assert all(np.array_equal(x.audio, y.audio) for x, y in zip(from_tsv, from_dir))


@pytest.mark.parametrize("manifest, message", [
    ("set.tsv:missing.wav\tcall anne", r"set.tsv:1: .*missing.wav: cannot read audio"),
    ("set.tsv:a.wav\tset a timer for 5 minutes", r"set.tsv:1: .*has digits"),
    ("set.tsv:a.wav\t?!", r"set.tsv:1: empty transcript"),
    ("set.tsv:a.wav call anne", r"set.tsv:1: expected `audio<TAB>text`, got 1 field"),
    ("set.tsv:junk.wav\tcall anne", r"set.tsv:1: .*junk.wav: cannot read audio"),
    ("set.tsv:", r"set.tsv: no utterances"),
    ('set.jsonl:{"audio": "a.wav"', r"set.jsonl:1: not JSON"),
    ('set.jsonl:{"audio": "a.wav", "text": 3}', r'set.jsonl:1: expected an object with string "audio" and "text"'),
    ('set.jsonl:{"audio": "a.wav", "text": "hi", "speech_end_s": -1}', r"set.jsonl:1: speech_end_s must be"),
    ('set.jsonl:{"audio": "a.wav", "text": "hi", "speech_end_s": 9.0}', r"set.jsonl:1: speech from .* does not fit"),
    ("set.tsv:a.wav\thi\na.wav\tho", r"set.tsv:2: id 'a' appears twice"),
])
def test_bad_sets_name_file_and_line(tmp_path, manifest, message):
    sf.write(tmp_path / "a.wav", burst(np.random.default_rng(3)), 16000)
    (tmp_path / "junk.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt ")
    name, body = manifest.split(":", 1)
    (tmp_path / name).write_text(body + "\n")
    with pytest.raises(EvalSetError, match=message):
        load_eval_set(str(tmp_path / name))


def test_directory_errors(tmp_path):
    with pytest.raises(EvalSetError, match="no such manifest"):
        load_eval_set(str(tmp_path / "nowhere"))
    with pytest.raises(EvalSetError, match="no .wav/.flac files"):
        load_eval_set(str(tmp_path))
    sf.write(tmp_path / "a.wav", np.zeros(1600), 16000)
    with pytest.raises(EvalSetError, match="no transcript a.txt"):
        load_eval_set(str(tmp_path))


def test_bench_asr_on_a_manifest(small_student, tmp_path):
    rng = np.random.default_rng(4)
    sf.write(tmp_path / "a.wav", burst(rng), 16000)
    sf.write(tmp_path / "b.wav", burst(rng), 16000)
    (tmp_path / "set.tsv").write_text("a.wav\tcall anne\nb.wav\tstop\n")
    model = tmp_path / "student.npz"
    save_image(small_student, str(model))
    out = run_bench_asr(str(model), None, device="golden", lanes=8, pad_silence_s=0.5, progress=False,
                        manifest=str(tmp_path / "set.tsv"))
    assert out["manifest"] == str(tmp_path / "set.tsv") and "corpus" not in out
    assert out["utterances"] == 2 and out["speech_end_estimated"] == 2 and 0 <= out["wer"]
    assert out["audio_bytes_per_utterance"] == 2 * 19200


def test_bench_asr_cli_refuses_a_bad_manifest_before_decoding(small_student, tmp_path, capsys):
    model = tmp_path / "student.npz"
    save_image(small_student, str(model))
    (tmp_path / "set.tsv").write_text("missing.wav\tcall anne\n")
    assert bench_asr_main(["--model", str(model), "--manifest", str(tmp_path / "set.tsv")]) == 2
    assert "set.tsv:1:" in capsys.readouterr().err
    assert bench_asr_main(["--model", str(model), "--manifest", "x.tsv", "--corpus", "c"]) == 2
