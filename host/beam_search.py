"""RNN-T decoding on the host, with the prediction and joint networks run by a `Decoder` (the NEP).

`modified_beam_search` is icefall's algorithm: at each encoder step every hypothesis may emit at
most one symbol; the `beam` best (hypothesis, token) extensions survive, and hypotheses that reach
the same token sequence are merged by log-sum-exp of their probabilities (`Hypothesis.merge`).
`BeamSearch` runs it one encoder output at a time (streaming); the function wraps it for a whole
utterance. Scores are natural-log probabilities from a log-softmax over the joint's int16 logits
(real value = logit * 2**-8), computed in float64 on the host.

With a `CharNgramLM` (`host.char_lm`), shallow fusion: every emitted character also scores
`lm_weight` times its LM log-probability plus `length_bonus` (which offsets the LM's pull toward
short outputs), and `nbest()` adds `lm_weight` times the LM's end-of-request log-probability, so a
hypothesis that stops mid-word ranks lower. With `ilm_weight`, each character also loses that weight
times its internal-LM log-probability (the joint with a zero encoder input, over the non-blank
tokens: what the prediction network alone predicts; Meng et al., "Internal language model
estimation for domain-adaptive end-to-end speech recognition", 2021), so the two language models
are not counted twice. That costs one joint run per prediction step on the device; the rest of
the fusion runs on the host.

A `Decoder` is anything with `initial_pred_state()`, `pred_step(token, state)` and
`joint(enc_t, pred_h)` (e.g. `host.nep_rnnt.NepRnnt`). With a `ContextGraph`, every extension's
score also gets the graph's biasing delta (`host.context_graph`). The prediction network runs once per
surviving extension (at most `beam` runs per encoder step), never for pruned candidates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np

from .char_lm import ALPHABET as LM_ALPHABET, EOS, CharNgramLM
from .context_graph import ContextGraph

BLANK = 0
LOGIT_SCALE = 2.0 ** -8          # joint output format (firmware.compiler.LOGIT_FRAC_BITS)


class Decoder(Protocol):
    enc_hidden: int                         # the joint's encoder input size (used by ilm_weight)

    def initial_pred_state(self): ...
    def pred_step(self, token: int, state): ...
    def joint(self, enc_t: np.ndarray, pred_h: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class BeamSearchConfig:
    beam: int = 4                 # hypotheses kept after each encoder step
    temperature: float = 1.0      # logits are divided by it before the log-softmax
    lm_weight: float = 0.0        # shallow fusion: weight of the LM's log-probabilities (needs an LM)
    length_bonus: float = 0.0     # added per emitted character while an LM is fused
    ilm_weight: float = 0.0       # internal-LM subtraction while an LM is fused

    def __post_init__(self):
        if self.beam < 1:
            raise ValueError(f"beam must be at least 1, got {self.beam}")
        if not self.temperature > 0:
            raise ValueError(f"temperature must be positive, got {self.temperature}")
        if not (math.isfinite(self.lm_weight) and self.lm_weight >= 0):
            raise ValueError(f"lm_weight must be a finite number >= 0, got {self.lm_weight}")
        if not math.isfinite(self.length_bonus):
            raise ValueError(f"length_bonus must be finite, got {self.length_bonus}")
        if not (math.isfinite(self.ilm_weight) and self.ilm_weight >= 0):
            raise ValueError(f"ilm_weight must be a finite number >= 0, got {self.ilm_weight}")


@dataclass
class Hypothesis:
    tokens: tuple[int, ...]                 # emitted token ids, blank excluded
    log_prob: float                         # natural log of the hypothesis' probability
    timestamps: tuple[int, ...] = ()        # encoder step at which each token was emitted
    token_scores: tuple[float, ...] = ()    # log-prob of each emitted token (its acoustic evidence)
    state: object = None                    # decoder (prediction network) state after `tokens`
    context_state: int = 0                  # ContextGraph state (0 = root, or no biasing)
    lm_context: str = ""                    # the fused LM's context (its last order - 1 characters)
    ilm: np.ndarray | None = None           # internal-LM log-probs of the next non-blank token (ilm_weight)

    @property
    def key(self) -> tuple[int, ...]:
        return self.tokens

    def merge(self, other: "Hypothesis") -> None:
        """Fold `other` (same tokens) into self: probabilities add (log-sum-exp); the timestamps and
        token scores of the more probable path are kept."""
        assert other.tokens == self.tokens, (self.tokens, other.tokens)
        hi, lo = max(self.log_prob, other.log_prob), min(self.log_prob, other.log_prob)
        if other.log_prob > self.log_prob:
            self.timestamps, self.token_scores = other.timestamps, other.token_scores
        self.log_prob = hi + math.log1p(math.exp(lo - hi))


def log_softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Natural-log probabilities over the last axis of int16 logits at `LOGIT_SCALE`."""
    x = np.asarray(logits, np.float64) * (LOGIT_SCALE / temperature)
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


@dataclass
class BeamSearch:
    """Streaming modified beam search: `step(enc_t)` per encoder output, `nbest()` at any time."""
    decoder: Decoder
    config: BeamSearchConfig = field(default_factory=BeamSearchConfig)
    context: ContextGraph | None = None       # shallow-fusion biasing toward its phrases
    lm: CharNgramLM | None = None             # shallow-fusion language model (config.lm_weight)
    symbols: str = ""                         # token k's character is symbols[k - 1] (needed with an LM)

    def __post_init__(self):
        if self.lm is not None and self.symbols != LM_ALPHABET:
            raise ValueError(f"LM fusion: the model's symbols {self.symbols!r} are not the LM's {LM_ALPHABET!r}")
        start = self.decoder.pred_step(BLANK, self.decoder.initial_pred_state())
        ctx = self.context.start_state if self.context is not None else 0
        lm_ctx = self.lm.initial_context() if self.lm is not None else ""
        self.hyps: list[Hypothesis] = [Hypothesis((), 0.0, state=start, context_state=ctx, lm_context=lm_ctx,
                                                  ilm=self._internal_lm(start))]
        self.t = 0

    def _internal_lm(self, state) -> np.ndarray | None:
        if self.lm is None or not self.config.ilm_weight:
            return None
        logits = self.decoder.joint(np.zeros(self.decoder.enc_hidden, np.int64), state.h)
        return log_softmax(np.asarray(logits)[1:], self.config.temperature)

    def step(self, enc_t: np.ndarray) -> None:
        candidates: dict[tuple[int, ...], Hypothesis] = {}
        scored = []
        for h in self.hyps:
            lp = log_softmax(self.decoder.joint(enc_t, h.state.h), self.config.temperature)
            bonus, moves = self._context_moves(h.context_state, len(lp))
            bonus = bonus + self._lm_scores(h, len(lp))
            for k in np.argsort(-(lp + bonus), kind="stable")[: self.config.beam + 1]:
                scored.append((h.log_prob + float(lp[k] + bonus[k]), int(k), h, float(lp[k]), moves[k]))
        scored.sort(key=lambda s: -s[0])
        for total, k, h, lp_k, ctx in scored:
            if k == BLANK:
                new = replace(h, log_prob=total)
            else:
                lm_ctx = self.lm.extend(h.lm_context, self.symbols[k - 1]) if self.lm is not None else ""
                new = Hypothesis(h.tokens + (k,), total, h.timestamps + (self.t,), h.token_scores + (lp_k,),
                                 state=h, context_state=ctx, lm_context=lm_ctx)  # state: the parent, stepped below
            if new.key in candidates:
                candidates[new.key].merge(new)
            else:
                candidates[new.key] = new
        survivors = sorted(candidates.values(), key=lambda h: -h.log_prob)[: self.config.beam]
        for h in survivors:
            if isinstance(h.state, Hypothesis):
                h.state = self.decoder.pred_step(h.tokens[-1], h.state.state)
                h.ilm = self._internal_lm(h.state)
        self.hyps = survivors
        self.t += 1

    def _context_moves(self, state: int, vocab: int) -> tuple[np.ndarray, list[int]]:
        """Per token: the biasing score delta and the next context state (blank keeps the state)."""
        bonus = np.zeros(vocab)
        if self.context is None:
            return bonus, [0] * vocab
        moves = [state] * vocab
        for k in range(vocab):
            if k != BLANK:
                bonus[k], moves[k] = self.context.step(state, k)
        return bonus, moves

    def _lm_scores(self, h: Hypothesis, vocab: int) -> np.ndarray:
        """Per token: the LM fusion's score delta (0 for blank, and everywhere without an LM)."""
        scores = np.zeros(vocab)
        if self.lm is not None:
            scores[1:] = self.config.lm_weight * self.lm.log_probs(h.lm_context)[:vocab - 1] + self.config.length_bonus
            if h.ilm is not None:
                scores[1:] -= self.config.ilm_weight * h.ilm
        return scores

    def nbest(self, n: int | None = None) -> list[Hypothesis]:
        """Hypotheses, best first (log-probability plus the biasing bonus of completed phrases: an
        open partial match's bonus is withdrawn here, as at the end of the utterance; with an LM,
        plus its weighted end-of-request log-probability)."""
        hyps = self.hyps
        if self.context is not None:
            hyps = [replace(h, log_prob=h.log_prob + self.context.finalize(h.context_state)) for h in hyps]
        if self.lm is not None:
            w = self.config.lm_weight
            hyps = [replace(h, log_prob=h.log_prob + w * float(self.lm.log_probs(h.lm_context)[EOS])) for h in hyps]
        return sorted(hyps, key=lambda h: -h.log_prob)[: n or len(hyps)]

    def best(self) -> Hypothesis:
        return self.nbest(1)[0]


def modified_beam_search(decoder: Decoder, enc: np.ndarray, config: BeamSearchConfig = BeamSearchConfig(),
                         context: ContextGraph | None = None, lm: CharNgramLM | None = None,
                         symbols: str = "") -> list[Hypothesis]:
    """The n-best (config.beam) of a whole utterance's encoder outputs (T, H), best first."""
    assert enc.ndim == 2, enc.shape
    search = BeamSearch(decoder, config, context, lm, symbols)
    for enc_t in enc:
        search.step(enc_t)
    return search.nbest()


def greedy_search(decoder: Decoder, enc: np.ndarray, max_symbols: int = 4) -> list[int]:
    """Greedy decoding (argmax, lowest index on ties), as `models.golden_rnnt.GoldenRnnt.greedy_search`."""
    assert enc.ndim == 2, enc.shape
    state = decoder.pred_step(BLANK, decoder.initial_pred_state())
    hyp = []
    for enc_t in enc:
        for _ in range(max_symbols):
            k = int(np.argmax(decoder.joint(enc_t, state.h)))
            if k == BLANK:
                break
            hyp.append(k)
            state = decoder.pred_step(k, state)
    return hyp
