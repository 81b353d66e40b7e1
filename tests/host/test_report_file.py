"""Benchmark JSON paths are checked before the run and written whole."""

import json
import os

import pytest

from edgeasr.host.bench_bias import main as bench_bias_main
from edgeasr.host.report_file import prepare_output, write_json


def test_missing_folders_are_created_and_the_file_is_written_whole(tmp_path):
    path = tmp_path / "reports" / "deep" / "bench.json"
    write_json(str(path), {"wer": 0.25})
    assert json.loads(path.read_text()) == {"wer": 0.25}
    assert not os.path.exists(f"{path}.tmp")


def test_a_directory_or_unwritable_path_fails_before_any_work(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a directory"):
        prepare_output(str(tmp_path))
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OSError):
        prepare_output(str(blocker / "sub" / "bench.json"))      # a file where a folder must go


def test_bench_refuses_a_bad_json_path_at_once(tmp_path, capsys):
    # nothing is decoded: the check comes before the model and corpus are even looked up
    assert bench_bias_main(["--json", str(tmp_path), "--model", "/nonexistent.npz"]) == 2
    assert "is a directory" in capsys.readouterr().err
