"""The `edgeasr` entry point: commands, messages, and the demo on the simulated core."""

from edgeasr.host import cli


def test_unknown_command_says_what_exists(capsys):
    if cli._models_cli() is not None:
        return                                   # the models' CLI owns unknown names then
    assert cli.main(["frobnicate"]) == 2
    err = capsys.readouterr().err
    assert "unknown command 'frobnicate'" in err and "demo, regress, bench" in err


def test_bench_asr_is_not_there_yet(capsys):
    assert cli.main(["bench", "asr"]) == 2
    assert "not part of this checkout yet" in capsys.readouterr().err


def test_regress_golden_ends_with_the_count_line(capsys):
    assert cli.main(["regress", "--golden", "--count", "12", "--seed", "4"]) == 0
    assert capsys.readouterr().out.rstrip().splitlines()[-1] == "12 passed, 0 failed"


def test_demo_is_bit_identical(capsys):
    assert cli.main(["demo"]) == 0
    assert "bit-identical: yes" in capsys.readouterr().out
