"""Contact rescoring: the window probability is the transducer's sum over alignments, the batched
joint is the device's joint, and a slot after a carrier becomes a contact exactly when its
probability plus the bonus beats the decoded words'."""

import itertools

import numpy as np
import pytest

from edgeasr.host.beam_search import BLANK, LOGIT_SCALE, log_softmax
from edgeasr.host.contact_rescoring import ContactRescorer, internal_lm_log_probs, window_log_probs
from edgeasr.host.nep_rnnt import PredState
from edgeasr.host.recognizer import _symbols
from edgeasr.host.reference_rnnt import ReferenceRnnt

SYMBOLS = _symbols()


def tokens_of(text):
    return [SYMBOLS.index(ch) + 1 for ch in text]


@pytest.fixture(scope="module")
def reference(small_student):
    return ReferenceRnnt(small_student)


def test_joint_many_is_the_joint_bit_for_bit(reference):
    rng = np.random.default_rng(1)
    enc = rng.integers(-128, 128, (40, reference.enc_hidden))
    pred = rng.integers(-128, 128, (40, reference.pred_hidden))
    np.testing.assert_array_equal(reference.joint_many(enc, pred),
                                  np.stack([reference.joint(x, y) for x, y in zip(enc, pred)]))


def brute_force(decoder, enc, seq, state):
    """log-sum-exp over every path of len(enc) blanks and len(seq) emissions that ends with a blank."""
    states = [state]
    for k in seq:
        states.append(decoder.pred_step(k, states[-1]))
    T, U, total = len(enc), len(seq), -np.inf
    for emits in itertools.combinations(range(T + U - 1), U):
        t = u = 0
        lp = 0.0
        for i in range(T + U):
            row = log_softmax(decoder.joint(enc[t], states[u].h))
            if i in emits:
                lp += row[seq[u]]
                u += 1
            else:
                lp += row[BLANK]
                t += 1
        total = np.logaddexp(total, lp)
    return total


def test_window_log_probs_is_the_sum_over_alignments(reference):
    rng = np.random.default_rng(2)
    enc = rng.integers(-128, 128, (3, reference.enc_hidden))
    state = reference.pred_step(BLANK, reference.initial_pred_state())
    seqs = [(3,), (3, 5), (), (7, 3, 5)]          # shared prefixes, an empty one, different lengths
    got = window_log_probs(reference, enc, seqs, state)
    np.testing.assert_allclose(got, [brute_force(reference, enc, s, state) for s in seqs], rtol=0, atol=1e-9)


def test_internal_lm_is_the_zero_encoder_joint_over_non_blank_tokens(reference):
    state = reference.pred_step(BLANK, reference.initial_pred_state())
    seqs = [(3, 5), (3,), (9, 1, 4)]
    want = []
    for seq in seqs:
        s, total = state, 0.0
        for k in seq:
            logits = reference.joint(np.zeros(reference.enc_hidden, np.int64), s.h)[1:]
            total += log_softmax(logits)[k - 1]
            s = reference.pred_step(k, s)
        want.append(total)
    np.testing.assert_allclose(internal_lm_log_probs(reference, seqs, state), want, rtol=0, atol=1e-9)


class SpellingDecoder:
    """Context-free: frame t's logits are enc[t] (int16 at 2**-8), whatever was emitted before."""

    def initial_pred_state(self):
        return PredState(np.zeros(1), np.zeros(1))

    def pred_step(self, token, state):
        return state

    def joint(self, enc_t, pred_h):
        return np.asarray(enc_t)


def spelled(text, extra=None):
    """One frame per character, each favouring its character over blank; extra[i] = (char, nat)
    adds a second candidate at frame i."""
    V = len(SYMBOLS) + 1
    enc = np.zeros((len(text) + 1, V), np.int64)
    nat = int(round(1 / LOGIT_SCALE))
    for i, k in enumerate(tokens_of(text)):
        enc[i, k] = 5 * nat
        enc[i, BLANK] = 4 * nat
    enc[len(text), BLANK] = 5 * nat
    for i, (ch, value) in (extra or {}).items():
        enc[i, tokens_of(ch)[0]] = int(value * nat)
    return enc, tokens_of(text), list(range(len(text)))


def test_a_slot_after_a_carrier_becomes_the_contact_exactly_above_the_bonus():
    text = "call jon"                                 # one slot option: the last word
    enc, tokens, stamps = spelled(text, {text.index("n"): ("h", 4.5)})
    decoder = SpellingDecoder()
    scores = window_log_probs(decoder, enc[text.index(" "):], [tuple(tokens_of("jon")), tuple(tokens_of("john"))],
                              decoder.initial_pred_state())
    margin = scores[0] - scores[1]
    assert margin > 0                                  # the decoded spelling is more probable
    keep = ContactRescorer(["john", "mary"], ["call"], SYMBOLS, bonus=margin - 0.01)
    out, changes = keep.rescore(decoder, tokens, stamps, enc)
    assert (out, changes) == (tokens, [])
    take = ContactRescorer(["john", "mary"], ["call"], SYMBOLS, bonus=margin + 0.01)
    out, changes = take.rescore(decoder, tokens, stamps, enc)
    assert "".join(SYMBOLS[k - 1] for k in out) == "call john"
    assert [(c.start, c.end, c.decoded, c.contact) for c in changes] == [(1, 2, "jon", "john")]
    assert changes[0].contact_log_prob == pytest.approx(scores[1], abs=1e-4)


def test_words_without_a_carrier_and_listed_names_stay():
    decoder = SpellingDecoder()
    for text in ("play jon now", "call mary now"):
        enc, tokens, stamps = spelled(text)
        out, changes = ContactRescorer(["john", "mary"], ["call"], SYMBOLS, bonus=50.0).rescore(
            decoder, tokens, stamps, enc)
        assert (out, changes) == (tokens, []), text


def test_contacts_outside_the_alphabet_are_an_error():
    with pytest.raises(ValueError, match="outside the model's alphabet"):
        ContactRescorer(["zoë"], ["call"], SYMBOLS)


def test_pred_step_many_is_pred_step_bit_for_bit(reference):
    rng = np.random.default_rng(3)
    states = [reference.pred_step(int(k), reference.initial_pred_state()) for k in rng.integers(0, reference.vocab, 6)]
    tokens = [int(k) for k in rng.integers(0, reference.vocab, 6)]
    for got, (k, s) in zip(reference.pred_step_many(tokens, states), zip(tokens, states)):
        want = reference.pred_step(k, s)
        np.testing.assert_array_equal(got.h, want.h)
        np.testing.assert_array_equal(got.c, want.c)


def test_joint_grid_is_the_joint_of_every_pair(reference):
    rng = np.random.default_rng(4)
    enc = rng.integers(-128, 128, (5, reference.enc_hidden))
    pred = rng.integers(-128, 128, (7, reference.pred_hidden))
    grid = reference.joint_grid(enc, pred)
    assert grid.shape == (5, 7, reference.vocab)
    for t in range(5):
        for k in range(7):
            np.testing.assert_array_equal(grid[t, k], reference.joint(enc[t], pred[k]))


def test_an_empty_contact_list_changes_nothing():
    enc, tokens, stamps = spelled("call jon")
    assert ContactRescorer([], ["call"], SYMBOLS, bonus=50.0).rescore(SpellingDecoder(), tokens, stamps, enc) == (tokens, [])


def test_a_word_outside_the_vocabulary_is_a_slot_without_a_carrier():
    """'when did jon': no carrier before "jon", but the model was never trained on it."""
    text = "when did jon"
    enc, tokens, stamps = spelled(text, {text.index("n", 5): ("h", 4.5)})
    decoder = SpellingDecoder()
    known = {"when", "did", "call", "john"}
    carriers_only = ContactRescorer(["john"], ["call"], SYMBOLS, bonus=50.0)
    assert carriers_only.rescore(decoder, tokens, stamps, enc) == (tokens, [])
    out, changes = ContactRescorer(["john"], ["call"], SYMBOLS, bonus=50.0, vocabulary=known).rescore(
        decoder, tokens, stamps, enc)
    assert "".join(SYMBOLS[k - 1] for k in out) == "when did john"
    assert [(c.start, c.end, c.decoded) for c in changes] == [(2, 3, "jon")]


def test_known_words_without_a_carrier_stay_with_a_vocabulary():
    decoder = SpellingDecoder()
    enc, tokens, stamps = spelled("when did you call")
    rescorer = ContactRescorer(["john"], ["call"], SYMBOLS, bonus=50.0, vocabulary={"when", "did", "you", "call"})
    assert rescorer.rescore(decoder, tokens, stamps, enc) == (tokens, [])
