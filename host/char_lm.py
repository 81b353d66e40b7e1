"""A character n-gram language model for shallow fusion in the RNN-T beam search.

Why characters: the RNN-T emits characters, so the LM scores every candidate token the search
ranks, with no lexicon and no word-boundary bookkeeping, and a word it has never seen (a contact
name) is merely improbable, not impossible. A long context (order 8 by default: the 7 previous
characters) covers a word and a half, enough to carry the grammar of voice-assistant requests.

Estimation: interpolated Kneser-Ney (Chen & Goodman 1998) with one discount per order,
D = n1 / (n1 + 2 n2) from that order's counts of counts: the highest order uses raw counts, lower
orders continuation counts (the number of distinct characters seen before the n-gram), and the
lowest interpolates with the uniform distribution, so no character (nor the end of the request)
ever has probability zero. A request is padded on the left with `BOS` and ends with `EOS`.

Class-based: the text may hold `CLASS` ("$") as a word of its own where a contact name was (`edgeasr
lm build` replaces half of the names so; the other half stay spelled out), so the LM also predicts
"a contact's name comes next" (`log_probs(ctx)[CLASS_INDEX]`). The search expands that class into
the names of the request's contact list (`host.contact_class`); the LM itself never emits it.

The file (`save`/`load`, a `.npz`) holds the highest order's raw counts only; the lower orders'
continuation counts are derived from them on load, so the two cannot disagree. An LM without the
class is written as format version 1, byte for byte what this module wrote before the class.
"""

from __future__ import annotations

import os
import zipfile
from collections import defaultdict

import numpy as np

from ..models.corpus.grammar import ALPHABET

BOS = "^"                          # left padding: the context of a request's first characters
CLASS = "$"                        # a contact's name, in the text and in contexts
EOS = len(ALPHABET)                # index of the end of the request in a distribution
CLASS_INDEX = len(ALPHABET) + 1    # index of CLASS in a distribution
SIZE = len(ALPHABET) + 2           # characters + EOS + CLASS
FORMAT_VERSION = 2                 # 2: the CLASS symbol (an LM without it is written as version 1)


class CharLmError(ValueError):
    """A language-model file that cannot be used (names the file and what is wrong)."""


class CharNgramLM:
    """`log_probs(context)`: natural-log P(next | context) over ALPHABET + EOS + CLASS, where
    `context` is the last `order - 1` characters (`initial_context()` at the start, then `extend`)."""

    def __init__(self, order: int, counts: dict[str, np.ndarray]):
        if order < 1:
            raise ValueError(f"n-gram order must be at least 1, got {order}")
        self.order = order
        self.tables: list[dict[str, np.ndarray]] = [dict() for _ in range(order)]
        self.tables[order - 1] = {c: np.asarray(v, np.float64) for c, v in counts.items()}
        for k in range(order - 1, 0, -1):               # continuation counts of order k - 1
            cont = defaultdict(lambda: np.zeros(SIZE))
            for ctx, v in self.tables[k].items():
                cont[ctx[1:]] += v > 0
            self.tables[k - 1] = dict(cont)
        self.discounts = [_discount(t) for t in self.tables]
        # Trained with CLASS in its text: it can predict a contact's name (class-based biasing).
        # Without, CLASS has probability 0 and the rest is exactly a version-1 LM's distribution.
        self.has_class = any(v[CLASS_INDEX] > 0 for v in self.tables[order - 1].values())
        self._uniform = np.full(SIZE, 1.0 / (SIZE if self.has_class else SIZE - 1))
        if not self.has_class:
            self._uniform[CLASS_INDEX] = 0.0
        self._cache: dict[str, np.ndarray] = {}

    # --- estimation and files -----------------------------------------------------------------
    @classmethod
    def train(cls, texts, order: int = 8) -> "CharNgramLM":
        """From normalized requests (ALPHABET characters, and CLASS as a word of its own; anything
        else is refused)."""
        counts: dict[str, np.ndarray] = defaultdict(lambda: np.zeros(SIZE))
        index = {ch: i for i, ch in enumerate(ALPHABET)} | {CLASS: CLASS_INDEX}
        for n, text in enumerate(texts):
            bad = sorted(set(text) - set(ALPHABET) - {CLASS})
            if bad:
                raise ValueError(f"text {n} has characters outside the alphabet: {bad!r}")
            if CLASS in text and any(CLASS in w and w.removesuffix("'s") != CLASS for w in text.split()):
                raise ValueError(f"text {n}: the class symbol {CLASS!r} must be a word of its own: {text!r}")
            padded = BOS * (order - 1) + text
            for i in range(len(text) + 1):
                target = index[text[i]] if i < len(text) else EOS
                counts[padded[i: i + order - 1]][target] += 1
        if not counts:
            raise ValueError("no text to train the language model on")
        return cls(order, dict(counts))

    def save(self, path: str) -> None:
        """Highest-order counts as (context, symbol, count) triples; written whole (temp + rename)."""
        top = self.tables[self.order - 1]
        contexts = sorted(top)
        dense = np.stack([top[c] for c in contexts])
        rows, cols = np.nonzero(dense)
        values = dense[rows, cols]
        tmp = path + ".partial.npz"
        np.savez_compressed(tmp, version=FORMAT_VERSION if self.has_class else 1, order=self.order, alphabet=ALPHABET,
                            contexts=np.array(contexts), rows=rows.astype(np.int32),
                            symbols=cols.astype(np.int8), counts=values.astype(np.int32))
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str) -> "CharNgramLM":
        try:
            with np.load(path, allow_pickle=False) as z:
                version, order, alphabet = int(z["version"]), int(z["order"]), str(z["alphabet"])
                contexts, rows, symbols, values = z["contexts"], z["rows"], z["symbols"], z["counts"]
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
            raise CharLmError(f"{path}: not a character LM file ({e})") from None
        if version not in (1, FORMAT_VERSION):
            raise CharLmError(f"{path}: LM format version {version}, this build reads 1 and {FORMAT_VERSION}")
        if alphabet != ALPHABET:
            raise CharLmError(f"{path}: LM alphabet {alphabet!r} differs from the model's {ALPHABET!r}")
        size = SIZE if version == FORMAT_VERSION else SIZE - 1          # version 1: no CLASS column
        if len(rows) != len(symbols) or len(rows) != len(values) or (
                len(rows) and (rows.min() < 0 or rows.max() >= len(contexts) or symbols.min() < 0
                               or symbols.max() >= size or values.min() < 1)):
            raise CharLmError(f"{path}: inconsistent count tables")
        if any(len(c) != order - 1 for c in contexts):
            raise CharLmError(f"{path}: a context is not {order - 1} characters long")
        dense = np.zeros((len(contexts), SIZE))
        dense[rows, symbols] = values
        return cls(order, {str(c): dense[i] for i, c in enumerate(contexts)})

    # --- scoring ------------------------------------------------------------------------------
    def initial_context(self) -> str:
        return BOS * (self.order - 1)

    def extend(self, context: str, ch: str) -> str:
        return (context + ch)[-(self.order - 1):] if self.order > 1 else ""

    def log_probs(self, context: str) -> np.ndarray:
        """(SIZE,) natural-log probabilities of each character and EOS after `context`."""
        lp = self._cache.get(context)
        if lp is None:
            with np.errstate(divide="ignore"):          # CLASS in an LM without it: log 0
                lp = self._cache[context] = np.log(self._probs(context))
        return lp

    def _probs(self, context: str) -> np.ndarray:
        lower = np.exp(self.log_probs(context[1:])) if context else self._uniform
        v = self.tables[len(context)].get(context)
        if v is None:
            return lower
        total, d = v.sum(), self.discounts[len(context)]
        return np.maximum(v - d, 0.0) / total + d * np.count_nonzero(v) / total * lower

    def sentence_log_prob(self, text: str) -> float:
        """log P(text, EOS): for perplexity and tests."""
        ctx, total = self.initial_context(), 0.0
        for ch in text:
            total += float(self.log_probs(ctx)[CLASS_INDEX if ch == CLASS else ALPHABET.index(ch)])
            ctx = self.extend(ctx, ch)
        return total + float(self.log_probs(ctx)[EOS])

    def perplexity(self, texts: list[str]) -> float:
        """Per character (EOS counted as one)."""
        n = sum(len(t) + 1 for t in texts)
        return float(np.exp(-sum(self.sentence_log_prob(t) for t in texts) / max(n, 1)))


def _discount(table: dict[str, np.ndarray]) -> float:
    """Kneser-Ney's D = n1 / (n1 + 2 n2), kept inside (0, 1)."""
    if not table:
        return 0.5
    v = np.concatenate(list(table.values()))
    n1, n2 = np.count_nonzero(v == 1), np.count_nonzero(v == 2)
    return float(min(max(n1 / (n1 + 2 * n2), 0.05), 0.95)) if n1 + n2 else 0.5
