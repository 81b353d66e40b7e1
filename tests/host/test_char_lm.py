"""The character n-gram LM: distributions sum to one, Kneser-Ney by hand on a tiny text, files
round-trip and bad files are refused by name."""

import math

import numpy as np
import pytest

from edgeasr.host.char_lm import BOS, EOS, SIZE, CharLmError, CharNgramLM
from edgeasr.models.corpus import grammar

TEXTS = ["call anne", "call anna", "turn on the lights", "turn off the lights", "stop"]


@pytest.fixture(scope="module")
def lm():
    return CharNgramLM.train(TEXTS, order=4)


@pytest.mark.parametrize("context", [BOS * 3, "cal", "ll ", "zzz", "ts ", "e l"])
def test_every_distribution_sums_to_one_and_has_no_zero(lm, context):
    """(An LM trained without the contact class gives the class probability 0.)"""
    p = np.exp(lm.log_probs(context))
    assert p.shape == (SIZE,)
    assert abs(p.sum() - 1.0) < 1e-12
    assert p[:EOS + 1].min() > 0


def test_bigram_kneser_ney_by_hand():
    """Order 2 on "ab", "ab", "b": P(b | a) = (2 - D) / 2 + D * 1/2 * P_cont(b), with the continuation
    unigram of b: it follows "a" and "^" (2 of the 4 distinct bigram types)."""
    lm = CharNgramLM.train(["ab", "ab", "b"], order=2)
    d1, d0 = lm.discounts[1], lm.discounts[0]
    b = grammar.ALPHABET.index("b")
    # continuation counts: a <- {^}, b <- {a, ^}, EOS <- {b}: 4 types over SIZE - 1 symbols (the
    # characters and EOS: no contact class in this text)
    p_cont_b = (2 - d0) / 4 + d0 * 3 / 4 / (SIZE - 1)
    expected = (2 - d1) / 2 + d1 * 1 / 2 * p_cont_b
    assert math.isclose(math.exp(lm.log_probs("a")[b]), expected, rel_tol=1e-12)
    assert lm.log_probs("b")[EOS] > lm.log_probs("b")[b]


def test_a_longer_context_sharpens_the_prediction(lm):
    """After "call ann" the grammar's names continue with a vowel; after "n" alone much is possible."""
    a = grammar.ALPHABET.index("a")
    assert lm.log_probs("ann")[a] > lm.log_probs(BOS * 2 + "n")[a]


def test_extend_keeps_order_minus_one_characters(lm):
    ctx = lm.initial_context()
    for ch in "call":
        ctx = lm.extend(ctx, ch)
    assert ctx == "all"
    assert CharNgramLM.train(["a"], order=1).extend("", "a") == ""


def test_grammar_lm_beats_uniform_on_held_out_requests():
    rng = np.random.default_rng(3)
    lm = CharNgramLM.train(grammar.sentences(2000, rng, "train"), order=6)
    held_out = grammar.sentences(100, rng, "heldout")
    assert lm.perplexity(held_out) < 3.0 < SIZE


def test_training_refuses_characters_outside_the_alphabet():
    with pytest.raises(ValueError, match=r"^text 1 has characters outside the alphabet: \['7'\]$"):
        CharNgramLM.train(["call anne", "call 7"], order=3)
    with pytest.raises(ValueError, match="no text"):
        CharNgramLM.train([], order=3)


def test_file_round_trip_is_exact(lm, tmp_path):
    path = str(tmp_path / "lm.npz")
    lm.save(path)
    back = CharNgramLM.load(path)
    assert back.order == lm.order and back.discounts == lm.discounts
    for ctx in (BOS * 3, "cal", "zzz", "he "):
        np.testing.assert_array_equal(back.log_probs(ctx), lm.log_probs(ctx))


def test_same_text_writes_the_same_bytes(tmp_path):
    a, b = str(tmp_path / "a.npz"), str(tmp_path / "b.npz")
    CharNgramLM.train(TEXTS, order=4).save(a)
    CharNgramLM.train(TEXTS, order=4).save(b)
    assert open(a, "rb").read() == open(b, "rb").read()


def test_bad_files_are_refused_by_name(lm, tmp_path):
    good = str(tmp_path / "lm.npz")
    lm.save(good)
    data = open(good, "rb").read()
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(CharLmError, match=f"^{truncated}: not a character LM file"):
        CharNgramLM.load(str(truncated))
    with pytest.raises(CharLmError, match="not a character LM file"):
        CharNgramLM.load(str(tmp_path / "missing.npz"))
    with np.load(good) as z:
        fields = dict(z)
    for change, message in [({"alphabet": np.array("abc")}, "alphabet"),
                            ({"version": np.array(99)}, "format version 99"),
                            ({"counts": -fields["counts"]}, "inconsistent count tables"),
                            ({"rows": fields["rows"] + 10**6}, "inconsistent count tables"),
                            ({"order": np.array(6)}, "not 5 characters long")]:
        bad = tmp_path / "bad.npz"
        np.savez(bad, **{**fields, **change})
        with pytest.raises(CharLmError, match=message):
            CharNgramLM.load(str(bad))


def test_the_name_class_is_a_word_of_its_own():
    from edgeasr.host.char_lm import CLASS, CLASS_INDEX
    lm = CharNgramLM.train([f"call {CLASS}", f"what's {CLASS}'s number", "call mom"], order=4)
    assert lm.has_class and not CharNgramLM.train(TEXTS, order=4).has_class
    assert lm.log_probs("ll ")[CLASS_INDEX] > math.log(0.3)              # half the calls name the class
    assert lm.sentence_log_prob(f"call {CLASS}") < 0
    with pytest.raises(ValueError, match="word of its own"):
        CharNgramLM.train([f"call x{CLASS}"], order=3)


def test_only_an_lm_with_the_class_is_written_as_version_2(lm, tmp_path):
    from edgeasr.host.char_lm import CLASS, CLASS_INDEX
    plain, with_class = str(tmp_path / "plain.npz"), str(tmp_path / "class.npz")
    lm.save(plain)
    CharNgramLM.train([f"call {CLASS}", "call mom"], order=4).save(with_class)
    with np.load(plain) as a, np.load(with_class) as b:
        assert int(a["version"]) == 1 and int(b["version"]) == 2
    assert CharNgramLM.load(with_class).has_class
    assert not CharNgramLM.load(plain).has_class and lm.log_probs("ll ")[CLASS_INDEX] == -np.inf
