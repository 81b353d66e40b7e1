"""`edgeasr lm build`: a deterministic file, a summary, clear refusals; transcribe's --lm options."""

import json
import os

from edgeasr.host import cli
from edgeasr.host.char_lm import CharNgramLM

EXAMPLE = os.path.join(os.path.dirname(cli.__file__), "examples", "call_godfrey.wav")


def test_build_from_the_grammar_is_deterministic(tmp_path, capsys):
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    for path in (a, b):
        assert cli.main(["lm", "build", "-o", str(path), "--order", "5", "--sentences", "300", "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["order"] == 5 and out["texts"] == 300 and out["bytes"] == os.path.getsize(b)
    assert 1.0 < out["perplexity_per_char"]["heldout"] < out["perplexity_per_char"]["rare_names"]
    assert a.read_bytes() == b.read_bytes()
    assert CharNgramLM.load(str(a)).order == 5


def test_build_from_a_text_file_normalizes_and_refuses_digits(tmp_path, capsys):
    text = tmp_path / "requests.txt"
    text.write_text("Call Anne, please\n\nturn-on the lights\n")
    assert cli.main(["lm", "build", "-o", str(tmp_path / "lm.npz"), "--text", str(text), "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip())["texts"] == 2
    text.write_text("call anne\nset a timer for 5 minutes\n")
    assert cli.main(["lm", "build", "-o", str(tmp_path / "lm.npz"), "--text", str(text)]) == 1
    assert f"{text}:2: digits must be spelled out" in capsys.readouterr().err
    assert cli.main(["lm", "build", "-o", str(tmp_path / "lm.npz"), "--order", "0"]) == 2


def test_transcribe_refuses_a_bad_lm_file_in_one_line(tmp_path, capsys):
    bad = tmp_path / "lm.npz"
    bad.write_bytes(b"not a zip")
    assert cli.main(["transcribe", EXAMPLE, "--device", "golden", "--lm", str(bad)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"edgeasr transcribe: {bad}: not a character LM file") and "\n" not in err


def test_transcribe_without_the_lm(capsys):
    assert cli.main(["transcribe", EXAMPLE, "--device", "golden", "--lm", "none", "--beam", "4", "--json"]) == 0
    plain = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert cli.main(["transcribe", EXAMPLE, "--device", "golden", "--json"]) == 0
    fused = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert plain["text"] and fused["text"]
    assert fused["device"]["cycles"] > plain["device"]["cycles"]      # beam 8 runs more prediction steps
