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
score also gets the graph's biasing delta (`host.context_graph`).
With a `ContactClass` (`host.contact_class`) and an LM trained with the name class, the LM's class
is filled from the request's contacts: a hypothesis carries the LM's parses of its characters
(`lm_paths`: outside the class with an LM context, or inside a name at a trie node), its LM score is
the log-sum-exp over them, so "call " + a listed name scores the class's probability after "call "
times the name's share of the list, and a spelling that leaves every name drops those parses.
The prediction network runs once per surviving extension (at most `beam` runs per encoder step),
never for pruned candidates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np

from .char_lm import ALPHABET as LM_ALPHABET, BOS, CLASS, CLASS_INDEX, EOS, CharNgramLM
from .contact_class import ROOT, ContactClass
from .context_graph import ContextGraph

BLANK = 0
LOGIT_SCALE = 2.0 ** -8          # joint output format (firmware.compiler.LOGIT_FRAC_BITS)
OUTSIDE = -1                     # an LM parse outside the contact class
MAX_LM_PATHS = 4                 # LM parses kept per hypothesis (the likeliest) ...
LM_PATH_BEAM = 12.0              # ... within this many nats of the best


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
    # The fused LM's parses: (context, contact-class node or OUTSIDE, log-prob relative to the best).
    # Outside the class the context is the LM's last order - 1 characters; inside, the context
    # after the class symbol, for when the name ends.
    lm_paths: tuple[tuple[str, int, float], ...] = ()
    name_slot: float = 0.0                  # P(the current word is a contact's name), with a ContactClass
    ilm: np.ndarray | None = None           # internal-LM log-probs of the next non-blank token (ilm_weight)

    @property
    def key(self) -> tuple[int, ...]:
        return self.tokens

    @property
    def lm_context(self) -> str:
        """The LM context of the likeliest parse."""
        return self.lm_paths[0][0] if self.lm_paths else ""

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
    contacts: ContactClass | None = None      # the LM class's names (needs an LM trained with the class)

    def __post_init__(self):
        if self.lm is not None and self.symbols != LM_ALPHABET:
            raise ValueError(f"LM fusion: the model's symbols {self.symbols!r} are not the LM's {LM_ALPHABET!r}")
        if self.contacts is not None and (self.lm is None or not self.lm.has_class):
            raise ValueError("class-based contacts need a fused LM trained with the name class (edgeasr lm build)")
        start = self.decoder.pred_step(BLANK, self.decoder.initial_pred_state())
        ctx = self.context.start_state if self.context is not None else 0
        paths = ((self.lm.initial_context(), OUTSIDE, 0.0),) if self.lm is not None else ()
        self.hyps: list[Hypothesis] = [Hypothesis((), 0.0, state=start, context_state=ctx, lm_paths=paths,
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
            slot = self._name_slot(h) if self.contacts is not None else 0.0
            bonus = bonus + self._lm_scores(h, len(lp), slot)
            for k in np.argsort(-(lp + bonus), kind="stable")[: self.config.beam + 1]:
                scored.append((h.log_prob + float(lp[k] + bonus[k]), int(k), h, float(lp[k]), moves[k], slot))
        scored.sort(key=lambda s: -s[0])
        for total, k, h, lp_k, ctx, slot in scored:
            if k == BLANK:
                new = replace(h, log_prob=total)
            else:
                paths = self._advance_lm(h.lm_paths, k) if self.lm is not None else ()
                if self.contacts is not None and self.symbols[k - 1] == " ":
                    slot = 0.0                                          # a space ends the word
                new = Hypothesis(h.tokens + (k,), total, h.timestamps + (self.t,), h.token_scores + (lp_k,),
                                 state=h, context_state=ctx, lm_paths=paths,
                                 name_slot=slot)  # state: the parent, stepped below
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

    def _lm_scores(self, h: Hypothesis, vocab: int, name_slot: float = 0.0) -> np.ndarray:
        """Per token: the LM fusion's score delta (0 for blank, and everywhere without an LM);
        `name_slot`: `_name_slot(h)`, with a ContactClass."""
        scores = np.zeros(vocab)
        if self.lm is not None:
            lm, inside = self._lm_log_probs(h.lm_paths, vocab - 1)
            scores[1:] = self.config.lm_weight * lm + self.config.length_bonus
            if h.ilm is not None:
                scores[1:] -= self.config.ilm_weight * h.ilm
                if inside is not None:       # a listed name's characters, where the LM expects a name
                    scores[1:] -= self.contacts.ilm_weight * name_slot * inside * self._name_ilm(h)
        return scores

    def _name_ilm(self, h: Hypothesis) -> np.ndarray:
        """The internal LM's log-probabilities renormalized over the characters that continue a
        listed name from the likeliest parse in the class (or start one, at a word start):
        log P_ilm(c | c continues a name); 0 where none does (they get no share anyway)."""
        inside = [(lp, node) for _, node, lp in h.lm_paths if node != OUTSIDE]
        node = max(inside)[1] if inside else ROOT
        allowed = self.contacts.child[node] >= 0
        if not allowed.any():
            return np.zeros_like(h.ilm)
        return np.where(allowed, h.ilm - _logsumexp(h.ilm[allowed]), 0.0)

    def _class_may_start(self, context: str) -> bool:
        """With a ContactClass, at a word start (where a name may begin)."""
        return self.contacts is not None and context[-1:] in (" ", BOS)

    def _name_slot(self, h: Hypothesis) -> float:
        """The LM's probability that the word being spelled (or starting now) is a contact's name:
        P(class | the context before the word), from the parse outside the class."""
        context = next(c for c, node, _ in h.lm_paths if node == OUTSIDE)
        return float(np.exp(self.lm.log_probs(context)[CLASS_INDEX])) if self._class_may_start(context) else h.name_slot

    def _lm_log_probs(self, paths, n: int) -> tuple[np.ndarray, np.ndarray | None]:
        """(log P_lm(next character | the hypothesis' characters) for the n characters, summed over
        the parses; the share of that probability which starts or continues a listed name, or None
        with one parse and no class: then the n-gram's distribution itself)."""
        if len(paths) == 1 and paths[0][1] == OUTSIDE and not self._class_may_start(paths[0][0]):
            return self.lm.log_probs(paths[0][0])[:n], None
        parts, names = [], [np.full(n, -np.inf)]
        for context, node, lp in paths:
            if node == OUTSIDE:
                dist = self.lm.log_probs(context)
                parts.append(lp + dist[:n])
                if self._class_may_start(context):
                    names.append(lp + dist[CLASS_INDEX] + self.contacts.entry_log_probs[:n])
            else:
                names.append(lp + self.contacts.next_log_probs[node, :n])
                if self.contacts.end_log_prob[node] > -np.inf:
                    parts.append(lp + self.contacts.end_log_prob[node] + self.lm.log_probs(context)[:n])
        name = np.logaddexp.reduce(np.stack(names), axis=0)
        total = np.logaddexp(np.logaddexp.reduce(np.stack(parts), axis=0), name)
        return total - _logsumexp([lp for _, _, lp in paths]), np.exp(name - total)

    def _advance_lm(self, paths, k: int) -> tuple[tuple[str, int, float], ...]:
        """The parses after emitting token k: merged when equal, the likeliest `MAX_LM_PATHS` within
        `LM_PATH_BEAM` nats kept (and the likeliest parse outside the class, always: it never dies,
        so neither does the hypothesis), log-probs relative to the best."""
        i, ch = k - 1, self.symbols[k - 1]
        out: dict[tuple[str, int], float] = {}

        def add(key, value):
            out[key] = np.logaddexp(out[key], value) if key in out else value
        for context, node, lp in paths:
            if node == OUTSIDE:
                dist = self.lm.log_probs(context)
                add((self.lm.extend(context, ch), OUTSIDE), lp + dist[i])
                if self._class_may_start(context) and self.contacts.child[ROOT, i] >= 0:
                    add((self.lm.extend(context, CLASS), int(self.contacts.child[ROOT, i])),
                        lp + dist[CLASS_INDEX] + self.contacts.entry_log_probs[i])
            else:
                if self.contacts.child[node, i] >= 0:
                    add((context, int(self.contacts.child[node, i])), lp + self.contacts.next_log_probs[node, i])
                if self.contacts.end_log_prob[node] > -np.inf:
                    add((self.lm.extend(context, ch), OUTSIDE),
                        lp + self.contacts.end_log_prob[node] + self.lm.log_probs(context)[i])
        ranked = sorted(out.items(), key=lambda kv: -kv[1])
        best = ranked[0][1]
        kept = [kv for kv in ranked[:MAX_LM_PATHS] if kv[1] >= best - LM_PATH_BEAM]
        if all(n != OUTSIDE for (_, n), _ in kept):      # every parse holds one outside (induction)
            kept = kept[:MAX_LM_PATHS - 1] + [next(kv for kv in ranked if kv[0][1] == OUTSIDE)]
        return tuple((c, n, float(v - best)) for (c, n), v in kept)

    def _lm_end_log_prob(self, paths) -> float:
        """log P_lm(end of request | the hypothesis' characters), summed over the parses."""
        ends = []
        for context, node, lp in paths:
            if node == OUTSIDE:
                ends.append(lp + self.lm.log_probs(context)[EOS])
            elif self.contacts.end_log_prob[node] > -np.inf:
                ends.append(lp + self.contacts.end_log_prob[node] + self.lm.log_probs(context)[EOS])
        return _logsumexp(ends) - _logsumexp([lp for _, _, lp in paths])

    def nbest(self, n: int | None = None) -> list[Hypothesis]:
        """Hypotheses, best first (log-probability plus the biasing bonus of completed phrases: an
        open partial match's bonus is withdrawn here, as at the end of the utterance; with an LM,
        plus its weighted end-of-request log-probability)."""
        hyps = self.hyps
        if self.context is not None:
            hyps = [replace(h, log_prob=h.log_prob + self.context.finalize(h.context_state)) for h in hyps]
        if self.lm is not None:
            w = self.config.lm_weight
            hyps = [replace(h, log_prob=h.log_prob + w * self._lm_end_log_prob(h.lm_paths)) for h in hyps]
        return sorted(hyps, key=lambda h: -h.log_prob)[: n or len(hyps)]

    def best(self) -> Hypothesis:
        return self.nbest(1)[0]


def _logsumexp(values) -> float:
    values = np.asarray(values, np.float64)
    if not len(values) or not np.isfinite(values.max()):
        return -np.inf
    return float(values.max() + np.log(np.exp(values - values.max()).sum()))


def modified_beam_search(decoder: Decoder, enc: np.ndarray, config: BeamSearchConfig = BeamSearchConfig(),
                         context: ContextGraph | None = None, lm: CharNgramLM | None = None,
                         symbols: str = "", contacts: ContactClass | None = None) -> list[Hypothesis]:
    """The n-best (config.beam) of a whole utterance's encoder outputs (T, H), best first."""
    assert enc.ndim == 2, enc.shape
    search = BeamSearch(decoder, config, context, lm, symbols, contacts)
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
