"""Second-pass contact rescoring: the words after a carrier phrase, re-scored as each contact name.

Shallow fusion (`context_graph`) can only boost names the beam already considers; a small acoustic
model that has never heard "godfrey" puts it far outside the beam, and what comes out is a
near-miss ("call gatry"). This pass works on the final best hypothesis and the utterance's encoder
outputs (kept by the recognizer). For every slot, a word (or two words, for names the search split)
right after a carrier word ("call", "message ... from": `bench_bias.RESCORE_CARRIERS`), it computes
the RNN-T probability of the slot's characters and of each contact's characters over the same
encoder window, summed over all alignments (the transducer forward algorithm, blank-terminated):
    window  from the encoder step that emitted the space before the slot to the step before the
            next word's first character (to the end of the utterance for a final slot);
    start   the prediction network's state after the hypothesis' tokens before the slot;
    tokens  the contact's characters, then the space that follows the slot (if one does).
Both are then corrected for the prediction network's internal language model (ILM), which has
learnt the training names and makes every other spelling improbable: with `ilm_weight` = lambda, a
sequence scores log P(y | x) - lambda * log P_ilm(y), where P_ilm is the joint's distribution over
non-blank tokens with the encoder input zeroed (the zero-encoder ILM estimate of Meng et al.,
"Internal language model estimation for domain-adaptive end-to-end speech recognition", 2021).
Measured on the committed model (rare names spoken by the training voices, 50 carrier slots): the
true name ranked first among 100 contacts in 0 slots without the correction, 14 at lambda 0.7.
The best contact replaces the slot when its score plus `bonus` (the prior of a listed contact,
natural log) beats the decoded words'.
With a `vocabulary` (the words the model was trained on), a decoded word outside it also opens a
slot, after a carrier or not: the character model spelled something it never learnt, so the word
is wrong whatever replaces it, and a misheard name is the likeliest cause ("when did gatry call":
"did" is too common to be a rescoring carrier). Measured on the committed model (150 rare-name
utterances of the training voices, 100 contacts, ILM 1.0): name-WER 67.3% with carrier slots only,
65.3% with these too; the WER of 291 dev utterances without names fell 45.96% -> 45.87%.
Prediction and joint networks run on the decoder (the NEP, or the reference model in `joint_many`
batches); the prediction states of contacts that share a prefix are computed once. Candidates are the `max_candidates` contacts closest in spelling
to the decoded slot (difflib ratio) so that the cost stays bounded on a slow backend.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

import numpy as np

from .beam_search import BLANK, log_softmax


@dataclass(frozen=True)
class SlotChange:
    """One replaced slot: words `start`..`end` (exclusive) of the hypothesis, the decoded text, the
    contact, and both scores over the slot's window (log-probabilities, less `ilm_weight` times
    their internal-LM log-probabilities)."""
    start: int
    end: int
    decoded: str
    contact: str
    decoded_log_prob: float
    contact_log_prob: float


@dataclass
class ContactRescorer:
    contacts: list[str]
    carriers: list[str]
    symbols: str                      # token k is symbols[k - 1]
    bonus: float = 2.0                # natural-log prior of a listed contact over the decoded words
    ilm_weight: float = 0.0           # lambda of the internal-LM correction
    max_candidates: int = 100
    max_slot_words: int = 2
    # Words the model was trained on (`models.corpus.grammar.vocabulary`); empty: carrier slots only.
    vocabulary: frozenset[str] = frozenset()
    _tokens: dict[str, tuple[int, ...]] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self):
        self.contacts = [" ".join(c.lower().split()) for c in self.contacts if c.strip()]
        self.carriers = {c.lower().split()[-1] for c in self.carriers if c.strip()}    # "message from": "from"
        self.vocabulary = frozenset(self.vocabulary)
        self.space = self.symbols.index(" ") + 1
        for c in self.contacts:
            bad = sorted({ch for ch in c if ch not in self.symbols})
            if bad:
                raise ValueError(f"contact {c!r} has characters outside the model's alphabet: {bad}")
            self._tokens[c] = tuple(self.symbols.index(ch) + 1 for ch in c)

    def rescore(self, decoder, tokens, timestamps, enc: np.ndarray) -> tuple[list[int], list[SlotChange]]:
        """(new tokens, changes) for a hypothesis' tokens and their encoder steps over `enc` (T, H)."""
        tokens, timestamps = list(tokens), list(timestamps)
        words = _words(tokens, self.space)
        text = lambda a, b: "".join(self.symbols[k - 1] for k in tokens[a:b])
        changes, i = [], 1
        before = {}                         # prediction state after tokens[:a], per slot start a
        while i < len(words):
            word = text(*words[i])
            slot = text(*words[i - 1]) in self.carriers or (self.vocabulary and word not in self.vocabulary)
            if not slot or word in self.carriers | set(self._tokens):
                i += 1
                continue
            best = None
            for n in range(1, self.max_slot_words + 1):
                if i + n > len(words):
                    break
                change = self._slot(decoder, tokens, timestamps, enc, words, i, i + n, text, before)
                if change and (best is None or change.contact_log_prob - change.decoded_log_prob >
                               best.contact_log_prob - best.decoded_log_prob):
                    best = change
            if best is None:
                i += 1
                continue
            changes.append(best)
            i = best.end + 1
        out = tokens
        for c in reversed(changes):       # right to left: word positions stay valid
            a, b = words[c.start][0], words[c.end - 1][1]
            out = out[:a] + list(self._tokens[c.contact]) + out[b:]
        return out, changes

    def _slot(self, decoder, tokens, timestamps, enc, words, first, end, text, before) -> SlotChange | None:
        a, b = words[first][0], words[end - 1][1]
        decoded = text(a, b)
        if decoded in self._tokens:
            return None
        t0 = timestamps[a - 1]
        if b < len(tokens):                              # tokens[b] is the space after the slot
            tail = (self.space,)
            t1 = max(timestamps[b], timestamps[b + 1] - 1) if b + 1 < len(tokens) else len(enc) - 1
        else:
            tail, t1 = (), len(enc) - 1
        if a not in before:
            state = decoder.pred_step(BLANK, decoder.initial_pred_state())
            for k in tokens[:a]:
                state = decoder.pred_step(k, state)
            before[a] = state
        state = before[a]
        candidates = sorted(self.contacts, key=lambda c: -difflib.SequenceMatcher(None, decoded, c).ratio())
        candidates = candidates[:self.max_candidates]
        if not candidates:
            return None
        sequences = [tuple(tokens[a:b]) + tail] + [self._tokens[c] + tail for c in candidates]
        prefixes = prefix_states(decoder, sequences, state)
        scores = window_log_probs(decoder, enc[t0:t1 + 1], sequences, state, prefixes)
        if self.ilm_weight:
            scores = scores - self.ilm_weight * internal_lm_log_probs(decoder, sequences, state, prefixes)
        best = int(np.argmax(scores[1:]))
        if scores[1 + best] + self.bonus <= scores[0]:
            return None
        return SlotChange(first, end, decoded, candidates[best], round(float(scores[0]), 4),
                          round(float(scores[1 + best]), 4))


def _words(tokens: list[int], space: int) -> list[tuple[int, int]]:
    """(start, end) token ranges of the maximal runs of non-space tokens."""
    out, start = [], None
    for i, k in enumerate(tokens + [space]):
        if k != space and start is None:
            start = i
        elif k == space and start is not None:
            out.append((start, i))
            start = None
    return out


def prefix_states(decoder, sequences: list[tuple[int, ...]], state) -> tuple[dict, list]:
    """(index of every token prefix of the sequences, prediction states in that order) from `state`:
    one prediction step per distinct prefix, a batch per depth on a decoder with `pred_step_many`."""
    index = {(): 0}
    states = [state]
    for depth in range(1, max((len(seq) for seq in sequences), default=0) + 1):
        new = sorted({seq[:depth] for seq in sequences if len(seq) >= depth} - index.keys())
        parents = [states[index[p[:-1]]] for p in new]
        if hasattr(decoder, "pred_step_many"):
            stepped = decoder.pred_step_many([p[-1] for p in new], parents)
        else:
            stepped = [decoder.pred_step(p[-1], s) for p, s in zip(new, parents)]
        for p, s in zip(new, stepped):
            index[p] = len(states)
            states.append(s)
    return index, states


def internal_lm_log_probs(decoder, sequences: list[tuple[int, ...]], state, prefixes=None) -> np.ndarray:
    """log P_ilm(sequence) for each sequence: per token, the log-softmax over the non-blank tokens of
    the joint with a zero encoder input, after the sequence's prefix."""
    index, states = prefixes or prefix_states(decoder, sequences, state)
    pred = np.stack([st.h for st in states])
    lp = log_softmax(joint_many(decoder, np.zeros((len(states), decoder.enc_hidden), np.int64), pred)[:, 1:])
    return np.array([sum(lp[index[seq[:u]], seq[u] - 1] for u in range(len(seq))) for seq in sequences])


def window_log_probs(decoder, enc: np.ndarray, sequences: list[tuple[int, ...]], state, prefixes=None) -> np.ndarray:
    """log P(sequence | enc) for each token sequence, under the transducer from prediction state
    `state`, summed over the alignments that end with a blank at the last encoder step. Every token
    prefix is one prediction step, shared by the sequences that start with it (`prefix_states`); the
    joint runs once per (step, prefix) and the forward recursion runs for all sequences at once."""
    index, states = prefixes or prefix_states(decoder, sequences, state)
    T, K, S = len(enc), len(states), len(sequences)
    U = max(len(s) for s in sequences)
    pred = np.stack([st.h for st in states])
    lp = log_softmax(joint_grid(decoder, np.asarray(enc), pred))                      # (T, K, V)
    node = np.zeros((S, U + 1), np.int64)               # prefix state of each (sequence, position)
    token = np.zeros((S, U), np.int64)
    valid = np.zeros((S, U + 1), bool)
    for i, seq in enumerate(sequences):
        node[i, :len(seq) + 1] = [index[seq[:u]] for u in range(len(seq) + 1)]
        token[i, :len(seq)] = seq
        valid[i, :len(seq) + 1] = True
    blank = np.where(valid[None], lp[:, node, BLANK], -np.inf)                         # (T, S, U+1)
    emit = np.where(valid[None, :, 1:], lp[:, node[:, :-1], token], -np.inf)   # (T, S, U)
    alpha = np.full((S, U + 1), -np.inf)
    for t in range(T):
        row = np.full((S, U + 1), -np.inf)
        row[:, 0] = 0.0 if t == 0 else alpha[:, 0] + blank[t - 1, :, 0]
        for u in range(1, U + 1):
            down = alpha[:, u] + blank[t - 1, :, u] if t else np.full(S, -np.inf)
            row[:, u] = np.logaddexp(down, row[:, u - 1] + emit[t, :, u - 1])
        alpha = row
    lengths = np.array([len(s) for s in sequences])
    return alpha[np.arange(S), lengths] + blank[T - 1, np.arange(S), lengths]


def joint_grid(decoder, enc: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """(T, K, V) joint logits of every enc row with every pred row: the decoder's own grid if it has one."""
    if hasattr(decoder, "joint_grid"):
        return decoder.joint_grid(enc, pred)
    T, K = len(enc), len(pred)
    return joint_many(decoder, np.repeat(enc, K, axis=0), np.tile(pred, (T, 1))).reshape(T, K, -1)


def joint_many(decoder, enc: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """(N, V) joint logits of the pairs (enc[i], pred[i]): the decoder's batched joint if it has one."""
    if hasattr(decoder, "joint_many"):
        return decoder.joint_many(enc, pred)
    return np.stack([decoder.joint(x, y) for x, y in zip(enc, pred)])
