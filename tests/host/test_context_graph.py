"""Context biasing: the graph's deltas (boost, withdrawal, completion) and its effect on the search."""

import numpy as np
import pytest

from edgeasr.host.beam_search import BeamSearchConfig, modified_beam_search
from edgeasr.host.context_graph import ContextGraph

SYMBOLS = " 'abcdefghijklmnopqrstuvwxyz"


def walk(graph, tokens):
    state, total = 0, 0.0
    for t in tokens:
        d, state = graph.step(state, t)
        total += d
    return total, state


def test_partial_match_is_boosted_then_withdrawn():
    g = ContextGraph([[3, 4, 5]], boost=2.0)
    assert walk(g, [3, 4]) == (4.0, 2)
    assert walk(g, [3, 4, 9]) == (0.0, 0)              # abandoned: bonus withdrawn
    assert g.finalize(walk(g, [3, 4])[1]) == -4.0


def test_completed_phrase_keeps_its_bonus():
    g = ContextGraph([[3, 4, 5]], boost=2.0)
    assert walk(g, [3, 4, 5, 9, 9]) == (6.0, 0)


def test_failure_arc_keeps_the_longest_suffix_match():
    g = ContextGraph([[1, 2, 1, 3]], boost=1.0)          # after 1 2 1 2 the suffix "1 2" still matches
    total, state = walk(g, [1, 2, 1, 2])
    assert total == 2.0 and g.depth[state] == 2
    assert walk(g, [1, 2, 1, 2, 1, 3])[0] == 4.0


def test_from_text_rejects_foreign_characters():
    with pytest.raises(ValueError, match=r"^context phrase 'zoë' has characters outside the model's alphabet: \['ë'\]$"):
        ContextGraph.from_text(["Zoë"], SYMBOLS, 1.0)
    with pytest.raises(ValueError, match=r"^context boost must be positive, got 0$"):
        ContextGraph([[1]], 0)


class BiasableDecoder:
    """Logits favour token 2 slightly over token 5 at every step (blank and the rest far below)."""

    def initial_pred_state(self):
        from edgeasr.host.nep_rnnt import PredState
        return PredState(np.zeros(1), np.zeros(1))

    def pred_step(self, token, state):
        from edgeasr.host.nep_rnnt import PredState
        return PredState(state.h + 1, state.c)

    def joint(self, enc_t, pred_h):
        logits = np.full(8, -2000)
        logits[2], logits[5] = 256, 200
        return logits


def test_biasing_flips_the_best_hypothesis():
    enc = np.zeros((3, 1))
    plain = modified_beam_search(BiasableDecoder(), enc, BeamSearchConfig(beam=4))[0]
    assert plain.tokens == (2, 2, 2)
    biased = modified_beam_search(BiasableDecoder(), enc, BeamSearchConfig(beam=4), ContextGraph([[5, 5, 5]], 1.0))[0]
    assert biased.tokens == (5, 5, 5)


def test_text_phrases_match_at_word_starts_only():
    g = ContextGraph.from_text(["anne"], SYMBOLS, 1.0)
    tok = {ch: SYMBOLS.index(ch) + 1 for ch in SYMBOLS}

    def run(text):
        state, total = g.start_state, 0.0
        for ch in text:
            d, state = g.step(state, tok[ch])
            total += d
        return total + g.finalize(state)

    assert run("anne") == 4.0
    assert run("call anne") == 4.0
    assert run("joanne") == 0.0
    assert run("ann") == 0.0


def test_carrier_prefixes_gate_the_boost():
    g = ContextGraph.from_text(["anne", "bob"], SYMBOLS, 1.0, prefixes=["call", "message from"])
    tok = {ch: SYMBOLS.index(ch) + 1 for ch in SYMBOLS}

    def run(text):
        state, total, deltas = g.start_state, 0.0, []
        for ch in text:
            d, state = g.step(state, tok[ch])
            deltas.append(d)
            total += d
        return total + g.finalize(state), deltas

    assert run("call anne")[0] == 4.0
    assert run("please call bob")[0] == 3.0
    assert run("read my message from anne")[0] == 4.0
    assert run("anne")[0] == 0.0                        # no carrier: no boost
    assert run("play anne")[0] == 0.0
    assert run("call ann")[0] == 0.0                    # partial match withdrawn at the end
    total, deltas = run("call anne")
    assert deltas[:5] == [0.0] * 5                      # the carrier itself earns nothing
    with pytest.raises(ValueError, match=r"^context prefix 'zoë' has characters outside"):
        ContextGraph.from_text(["anne"], SYMBOLS, 1.0, prefixes=["zoë"])
