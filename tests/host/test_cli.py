"""The `edgeasr` entry point: commands, messages, and the demo on the simulated core."""

import json
import os

import pytest

from edgeasr.host import cli


def test_unknown_command_says_what_exists(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["frobnicate"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'frobnicate'" in err and "'demo', 'regress', 'bench'" in err and "'train'" in err


def test_bench_asr_has_its_own_options(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["bench", "asr", "--help"])
    assert exit_info.value.code == 0
    assert "--golden-check" in capsys.readouterr().out


def test_regress_golden_ends_with_the_count_line(capsys):
    assert cli.main(["regress", "--golden", "--count", "12", "--seed", "4"]) == 0
    assert capsys.readouterr().out.rstrip().splitlines()[-1] == "12 passed, 0 failed"


def test_demo_is_bit_identical(capsys):
    assert cli.main(["demo"]) == 0
    assert "bit-identical: yes" in capsys.readouterr().out


def test_an_absent_board_is_one_line_and_exit_1(small_student, tmp_path, capsys):
    from edgeasr.models.export import save_image
    model = tmp_path / "student.npz"
    save_image(small_student, str(model))
    wav = os.path.join(os.path.dirname(cli.__file__), "examples", "call_godfrey.wav")
    assert cli.main(["transcribe", wav, "--model", str(model), "--device", "serial:/dev/nep-absent"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("edgeasr transcribe: serial /dev/nep-absent: cannot open the port") and "\n" not in err


def test_context_rescore_needs_a_context(capsys):
    wav = os.path.join(os.path.dirname(cli.__file__), "examples", "call_godfrey.wav")
    assert cli.main(["transcribe", wav, "--context-rescore", "2"]) == 1
    assert "--context-rescore needs --context" in capsys.readouterr().err


def test_context_rescore_puts_a_listed_contact_after_the_carrier(tmp_path, capsys):
    """At a prior no acoustic evidence outweighs, the slot after "call" becomes one of the contacts,
    the final event carries it (after a reset, as it differs from the speculative text) and the JSON
    names the change."""
    wav = os.path.join(os.path.dirname(cli.__file__), "examples", "call_godfrey.wav")
    contacts = tmp_path / "contacts.txt"
    contacts.write_text("godfrey\nmary\njethro\n")
    assert cli.main(["transcribe", wav, "--device", "golden", "--context", str(contacts),
                     "--context-rescore", "100", "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    words = out["text"].split()
    assert words[0] == "call" and words[1] in ("godfrey", "mary", "jethro"), out["text"]
    final = [e for e in out["events"] if e["type"] == "final"]
    assert final[-1]["text"] == out["text"]
    for change in out["contacts"]:
        assert words[change["start"]] == change["contact"] and change["contact_log_prob"] + 100 > change["decoded_log_prob"]


def test_context_class_mode_fills_the_lms_name_class(tmp_path, capsys):
    """With an LM built with the contact class, --context lists its names (the default mode then);
    the committed, plain LM refuses class mode in one line."""
    wav = os.path.join(os.path.dirname(cli.__file__), "examples", "call_godfrey.wav")
    contacts = tmp_path / "contacts.txt"
    contacts.write_text("godfrey\nmary\njethro\n")
    lm = tmp_path / "class.npz"
    assert cli.main(["lm", "build", "-o", str(lm), "--order", "6", "--sentences", "3000", "--class-fraction", "0.5"]) == 0
    capsys.readouterr()
    assert cli.main(["transcribe", wav, "--device", "golden", "--context", str(contacts), "--lm", str(lm), "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["text"].startswith("call "), out["text"]
    assert cli.main(["transcribe", wav, "--device", "golden", "--context", str(contacts), "--context-mode", "class"]) == 1
    assert "needs a fused LM trained with the contact class" in capsys.readouterr().err
