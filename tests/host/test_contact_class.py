"""The contact class: its trie spells each listed name with probability 1/N, and the beam search
fills the LM's name class from it (a listed name wins where the LM expects one, nothing changes
where it does not, and the LM score is the sum over the parses)."""

import math

import numpy as np
import pytest

from edgeasr.host.beam_search import BeamSearch, BeamSearchConfig, _logsumexp, modified_beam_search
from edgeasr.host.char_lm import CLASS, CharNgramLM
from edgeasr.host.contact_class import ROOT, ContactClass
from edgeasr.models.corpus.grammar import ALPHABET

from .test_beam_search import _scripted


def _spell(cc: ContactClass, name: str) -> float:
    """log P(name | class) along the trie (boost included)."""
    node, total = ROOT, 0.0
    for i, ch in enumerate(name):
        t = ALPHABET.index(ch)
        total += cc.entry_log_probs[t] if i == 0 else cc.next_log_probs[node, t]
        node = cc.child[node, t]
    return total + cc.end_log_prob[node]


def test_every_listed_name_has_its_share_and_nothing_else_any():
    cc = ContactClass.from_text(["Ann", "anne", "bob", "bob"], ALPHABET, boost=0.5)
    assert cc.size == 3                                                 # duplicates count once
    for name in ("ann", "anne", "bob"):
        assert _spell(cc, name) == pytest.approx(0.5 + math.log(1 / 3), abs=1e-12)
    assert cc.entry_log_probs[ALPHABET.index("a")] == pytest.approx(0.5 + math.log(2 / 3))
    assert cc.child[ROOT, ALPHABET.index("z")] == -1 and cc.entry_log_probs[ALPHABET.index("z")] == -np.inf
    node = cc.child[cc.child[ROOT, ALPHABET.index("b")], ALPHABET.index("o")]
    assert cc.end_log_prob[node] == -np.inf                             # "bo" is no name


def test_bad_contact_lists_are_refused():
    with pytest.raises(ValueError, match="outside the model's alphabet"):
        ContactClass.from_text(["zoë"], ALPHABET)
    with pytest.raises(ValueError, match="at least one name"):
        ContactClass.from_text(["  "], ALPHABET)
    with pytest.raises(ValueError, match="boost must be finite"):
        ContactClass.from_text(["ann"], ALPHABET, boost=float("inf"))
    with pytest.raises(ValueError, match="ILM weight"):
        ContactClass.from_text(["ann"], ALPHABET, ilm_weight=-1)


@pytest.fixture(scope="module")
def class_lm():
    """Names after "call" are half the class, half spelled out (as `edgeasr lm build` writes them)."""
    return CharNgramLM.train([f"call {CLASS}", "call mom", "call tom", f"call {CLASS} now", "stop", "turn on the tv",
                              "call mom now"] * 4, order=6)


def _text(h):
    return "".join(ALPHABET[k - 1] for k in h.tokens)


def test_a_listed_name_beats_a_near_miss_only_with_the_list(class_lm):
    """The acoustics prefer "zova" a little; the LM has never seen either spelling."""
    steps = [("c",), ("a",), ("l",), ("l",), (" ",), ("z",), ("o",), ("v", "y"), ("a",)]
    dec, enc = _scripted(steps)
    config = BeamSearchConfig(beam=4, lm_weight=0.5)
    plain = modified_beam_search(dec, enc, config, lm=class_lm, symbols=ALPHABET)[0]
    listed = modified_beam_search(dec, enc, config, lm=class_lm, symbols=ALPHABET,
                                  contacts=ContactClass.from_text(["zoya", "anne"], ALPHABET))[0]
    assert _text(plain) == "call zova"
    assert _text(listed) == "call zoya"


def test_the_list_changes_nothing_where_the_lm_expects_no_name(class_lm):
    steps = [("t",), ("u",), ("r",), ("n",), (" ",), ("o",), ("n",), (" ",), ("t",), ("h",), ("e",), (" ",),
             ("t",), ("v", "o")]
    dec, enc = _scripted(steps)
    config = BeamSearchConfig(beam=4, lm_weight=0.5)
    plain = modified_beam_search(dec, enc, config, lm=class_lm, symbols=ALPHABET)
    listed = modified_beam_search(dec, enc, config, lm=class_lm, symbols=ALPHABET,
                                  contacts=ContactClass.from_text(["tom", "to"], ALPHABET))
    assert _text(listed[0]) == _text(plain[0]) == "turn on the tv"


def test_the_lm_score_sums_the_spelled_out_and_the_class_parse(class_lm):
    """ "call tom" + end, with "tom" listed: P_lm = P(spelled out) + P("call ") P(class | "call ") 1/2
    P(end | "call $"), and the search's score is the acoustics plus exactly that (weight 1)."""
    steps = [(ch,) for ch in "call tom"]
    dec, enc = _scripted(steps)
    cc = ContactClass.from_text(["tom", "ann"], ALPHABET)
    search = BeamSearch(dec, BeamSearchConfig(beam=8, lm_weight=1.0), lm=class_lm, symbols=ALPHABET, contacts=cc)
    for e in enc:
        search.step(e)
    best = next(h for h in search.nbest() if _text(h) == "call tom")
    spelled = class_lm.sentence_log_prob("call tom")
    as_class = class_lm.sentence_log_prob(f"call {CLASS}") + math.log(1 / 2)
    assert best.log_prob == pytest.approx(sum(best.token_scores) + _logsumexp([spelled, as_class]), abs=1e-9)
    inside = [node for _, node, _ in best.lm_paths if node != -1]       # spelled out, and at the end of "tom"
    assert len(best.lm_paths) == 2 and len(inside) == 1 and cc.end_log_prob[inside[0]] == 0.0


def test_a_name_needs_a_class_lm():
    plain_lm = CharNgramLM.train(["call mom"], order=3)
    dec, _ = _scripted([("c",)])
    with pytest.raises(ValueError, match="trained with the name class"):
        BeamSearch(dec, BeamSearchConfig(lm_weight=0.5), lm=plain_lm, symbols=ALPHABET,
                   contacts=ContactClass.from_text(["tom"], ALPHABET))
