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
