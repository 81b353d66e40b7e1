"""Modified beam search on a small numpy decoder: beam 1 is greedy, merging is log-sum-exp, n-best is sane."""

import math

import numpy as np
import pytest

from edgeasr.host.beam_search import (BLANK, BeamSearch, BeamSearchConfig, Hypothesis, greedy_search,
                                      modified_beam_search)
from edgeasr.host.nep_rnnt import PredState

SEED = 5
V, H, P = 7, 6, 5


class TinyDecoder:
    """A deterministic decoder: pred state = tanh mix of the token history, logits int16-like."""

    def __init__(self, seed: int = SEED):
        rng = np.random.default_rng(seed)
        self.embed = rng.normal(size=(V, P))
        self.w_enc = rng.normal(size=(V, H)) * 200
        self.w_pred = rng.normal(size=(V, P)) * 200
        self.pred_calls = 0

    def initial_pred_state(self):
        return PredState(np.zeros(P), np.zeros(P))

    def pred_step(self, token, state):
        self.pred_calls += 1
        h = np.tanh(0.5 * state.h + self.embed[token])
        return PredState(h, h)

    def joint(self, enc_t, pred_h):
        return np.floor(self.w_enc @ enc_t + self.w_pred @ pred_h).astype(np.int64)


def encoder_out(seed: int = SEED, steps: int = 12) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(steps, H))


def test_beam_one_is_greedy_with_one_symbol_per_step():
    dec, enc = TinyDecoder(), encoder_out()
    best = modified_beam_search(dec, enc, BeamSearchConfig(beam=1))[0]
    assert list(best.tokens) == greedy_search(TinyDecoder(), enc, max_symbols=1)


def test_nbest_is_sorted_unique_and_at_most_beam():
    dec = TinyDecoder()
    hyps = modified_beam_search(dec, encoder_out(), BeamSearchConfig(beam=4))
    assert 1 <= len(hyps) <= 4
    assert [h.log_prob for h in hyps] == sorted((h.log_prob for h in hyps), reverse=True)
    assert len({h.tokens for h in hyps}) == len(hyps)
    for h in hyps:
        assert len(h.timestamps) == len(h.tokens) == len(h.token_scores)
        assert list(h.timestamps) == sorted(h.timestamps)
        assert h.log_prob < 0 and BLANK not in h.tokens
    assert dec.pred_calls <= 1 + 4 * len(encoder_out())       # only survivors run the prediction step


def test_merge_adds_probabilities_and_keeps_the_better_path():
    a = Hypothesis((3, 4), math.log(0.2), (0, 2), (-1.0, -2.0))
    b = Hypothesis((3, 4), math.log(0.3), (1, 2), (-0.5, -1.5))
    a.merge(b)
    assert a.log_prob == pytest.approx(math.log(0.5), abs=1e-12)
    assert a.timestamps == (1, 2) and a.token_scores == (-0.5, -1.5)


def test_streaming_equals_whole_utterance():
    enc = encoder_out()
    search = BeamSearch(TinyDecoder(), BeamSearchConfig(beam=3))
    for e in enc:
        search.step(e)
    whole = modified_beam_search(TinyDecoder(), enc, BeamSearchConfig(beam=3))
    assert [(h.tokens, h.log_prob) for h in search.nbest()] == [(h.tokens, h.log_prob) for h in whole]


def test_config_errors():
    with pytest.raises(ValueError, match=r"^beam must be at least 1, got 0$"):
        BeamSearchConfig(beam=0)


class ScriptedDecoder:
    """Logits by encoder step only (enc_t is the step's one-hot row): each step strongly favours one
    character of `script`, or, at a '|' pair, two characters with `margin` nats for the first."""

    def __init__(self, steps: list[tuple[str, ...]], margin: float = 0.3):
        from edgeasr.models.corpus.grammar import ALPHABET
        self.logits = np.zeros((len(steps), len(ALPHABET) + 1))
        for t, chars in enumerate(steps):
            self.logits[t, BLANK] = 0.0
            for i, ch in enumerate(chars):
                self.logits[t, ALPHABET.index(ch) + 1] = 8.0 - i * margin
        self.logits = np.round(self.logits * 256).astype(np.int64)   # the joint's 2**-8 scale
        self.enc_hidden = len(steps)

    def initial_pred_state(self):
        return PredState(np.zeros(1), np.zeros(1))

    def pred_step(self, token, state):
        return state

    def joint(self, enc_t, pred_h):
        return self.logits[int(np.argmax(enc_t))]


def _scripted(word_steps):
    return ScriptedDecoder(word_steps), np.eye(len(word_steps))


def test_lm_fusion_breaks_an_acoustic_near_tie_toward_the_grammar():
    from edgeasr.host.char_lm import CharNgramLM
    from edgeasr.models.corpus.grammar import ALPHABET
    lm = CharNgramLM.train(["call anne", "call anna", "call mom"] * 5, order=4)
    steps = [("c",), ("a",), ("l",), ("l",), (" ",), ("o", "a"), ("n",), ("n",), ("e",)]
    dec, enc = _scripted(steps)
    text = lambda h: "".join(ALPHABET[k - 1] for k in h.tokens)
    plain = modified_beam_search(dec, enc, BeamSearchConfig(beam=4))[0]
    fused = modified_beam_search(dec, enc, BeamSearchConfig(beam=4, lm_weight=0.5), lm=lm, symbols=ALPHABET)[0]
    assert text(plain) == "call onne"
    assert text(fused) == "call anne"
    assert fused.token_scores[5] < plain.token_scores[5]       # token scores stay acoustic


def test_lm_weight_zero_changes_nothing():
    from edgeasr.host.char_lm import CharNgramLM
    from edgeasr.models.corpus.grammar import ALPHABET
    lm = CharNgramLM.train(["call anne"], order=3)
    dec, enc = _scripted([("c",), ("a", "o"), ("l",), ("l",)])
    a = modified_beam_search(dec, enc, BeamSearchConfig(beam=3))
    b = modified_beam_search(dec, enc, BeamSearchConfig(beam=3, lm_weight=0.0), lm=lm, symbols=ALPHABET)
    assert [(h.tokens, h.log_prob) for h in a] == [(h.tokens, h.log_prob) for h in b]


def test_fusion_scores_the_end_of_the_request():
    """Two hypotheses equal acoustically: the one the LM lets end ("stop") beats a cut-off word."""
    from edgeasr.host.char_lm import EOS, CharNgramLM
    from edgeasr.models.corpus.grammar import ALPHABET
    lm = CharNgramLM.train(["stop", "stop it"], order=4)
    dec, enc = _scripted([("s",), ("t",), ("o",), ("p",)])
    search = BeamSearch(dec, BeamSearchConfig(beam=2, lm_weight=1.0), lm=lm, symbols=ALPHABET)
    for e in enc:
        search.step(e)
    best = search.best()
    raw = max(h.log_prob for h in search.hyps if h.tokens == best.tokens)
    assert best.log_prob == pytest.approx(raw + float(lm.log_probs(best.lm_context)[EOS]))


def test_lm_fusion_needs_the_models_symbols_and_sane_weights():
    from edgeasr.host.char_lm import CharNgramLM
    lm = CharNgramLM.train(["stop"], order=2)
    dec, _ = _scripted([("s",)])
    with pytest.raises(ValueError, match="are not the LM's"):
        BeamSearch(dec, BeamSearchConfig(lm_weight=0.5), lm=lm, symbols="abc")
    with pytest.raises(ValueError, match="lm_weight must be a finite number >= 0"):
        BeamSearchConfig(lm_weight=-1.0)
    with pytest.raises(ValueError, match="length_bonus must be finite"):
        BeamSearchConfig(length_bonus=float("nan"))


def test_one_fused_step_scores_acoustics_lm_bonus_and_internal_lm():
    """The token's score after one step: log P(c | enc) + w_lm log P_lm(c) + bonus - w_ilm log P_ilm(c),
    with the internal LM from the joint on a zero encoder input."""
    from edgeasr.host.beam_search import log_softmax
    from edgeasr.host.char_lm import CharNgramLM
    from edgeasr.models.corpus.grammar import ALPHABET
    lm = CharNgramLM.train(["call anne", "stop"], order=3)
    dec, enc = _scripted([("c", "s"), ("a",)])
    config = BeamSearchConfig(beam=4, lm_weight=0.5, length_bonus=0.3, ilm_weight=0.2)
    search = BeamSearch(dec, config, lm=lm, symbols=ALPHABET)
    search.step(enc[0])
    c = ALPHABET.index("c") + 1
    hyp = next(h for h in search.hyps if h.tokens == (c,))
    acoustic = log_softmax(dec.joint(enc[0], None))[c]
    internal = log_softmax(dec.joint(np.zeros(dec.enc_hidden), None)[1:])[c - 1]
    expected = acoustic + 0.5 * lm.log_probs(lm.initial_context())[c - 1] + 0.3 - 0.2 * internal
    assert hyp.log_prob == pytest.approx(expected, abs=1e-12)
    with pytest.raises(ValueError, match="ilm_weight must be a finite number >= 0"):
        BeamSearchConfig(ilm_weight=-0.1)
