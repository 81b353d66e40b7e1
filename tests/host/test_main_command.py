"""The README's main command: the bundled example through the committed model on the Verilator NEP."""

import json
import os

from edgeasr.host import cli
from edgeasr.host.lm_cli import default_lm_path
from edgeasr.host.transcribe_cli import default_eoq_path, default_model

EXAMPLE = os.path.join(os.path.dirname(cli.__file__), "examples", "turn_on_the_kitchen_lights.wav")


def test_committed_artifacts_are_the_defaults():
    model = default_model()
    assert model is not None and model.endswith(os.path.join("models", "artifacts", "student_q4s.npz")), model
    assert os.path.exists(default_eoq_path())
    assert os.path.exists(default_lm_path())


def test_main_command_prints_events_and_nbest(capsys):
    assert cli.main(["transcribe", EXAMPLE, "--device", "verilator"]) == 0
    out = capsys.readouterr().out
    assert "final" in out and "n-best:" in out and "device (verilator):" in out
    assert cli.main(["transcribe", EXAMPLE, "--device", "verilator", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["events"][-1]["type"] == "final" and result["nbest"][0]["text"] == result["text"]
    assert result["device"]["cycles"] > 0 and result["device"]["skipped"] > 0
    assert any(e["type"] == "speculative_final" for e in result["events"])
