"""The models CLI hooks parse the documented commands."""

import argparse

from edgeasr.models import cli


def test_parser_hooks():
    p = argparse.ArgumentParser()
    cli.add_parser(p.add_subparsers(dest="command"))
    a = p.parse_args(["train", "--tiny", "--seed", "3", "--q4-epochs", "1"])
    assert (a.models_command, a.tiny, a.seed, a.q4_epochs) == ("train", True, 3, 1)
    a = p.parse_args(["corpus", "--json"])
    assert a.models_command == "corpus" and a.json
