"""Shallow-fusion context biasing: phrases (contacts, device names) as an Aho-Corasick token graph.

Each phrase is a token sequence; the graph is a trie with failure arcs. A hypothesis carries a
graph state; emitting token k moves it (`step`) and adds a score delta to its log-probability:
    node score = depth * boost (the bonus of a partial match of that many tokens);
    delta      = score(next) - score(current): +boost per matched token, and a negative delta that
                 withdraws the bonus of a partial match when it is abandoned (the failure arc leads
                 to a shorter match or the root);
    a completed phrase keeps its bonus (the state returns to the root with the bonus locked in, so a
    longer phrase that extends a completed one is not matched past it).
`finalize(state)` is the withdrawal of a partial match still open at the end of the utterance.
`from_text` matches whole-word starts: each phrase is prefixed with the word separator (a space),
the search starts in the state after a separator (`start_state`), and the separator itself earns no
bonus, so "anne" is boosted in "call anne" but not inside "joanne".
Carrier phrases (`prefixes`, class-based biasing as in production contact biasing): with them a
phrase is boosted only right after one of them ("call", "text", "message ... from"), so names are
not forced into requests that name nobody. The graph then holds "prefix name" for every pair; the
prefix's tokens earn no bonus (`bonus_depth` counts only the phrase's own tokens).
"""

from __future__ import annotations

from collections import deque


class ContextGraph:
    """An Aho-Corasick automaton over token ids; state 0 is the root."""

    def __init__(self, phrases: list[list[int]], boost: float, separator: int | None = None,
                 prefixes: list[list[int]] | None = None):
        if not boost > 0:
            raise ValueError(f"context boost must be positive, got {boost}")
        if prefixes is not None and separator is None:
            raise ValueError("carrier prefixes need a word separator")
        self.boost = float(boost)
        phrases = [list(p) for p in phrases if p]
        if separator is None:
            entries = [(p, 0) for p in phrases]                          # (tokens, unboosted leading tokens)
        elif prefixes is None:
            entries = [([separator] + p, 1) for p in phrases]            # the leading separator earns no bonus
        else:
            entries = [([separator] + list(q) + [separator] + p, len(q) + 2) for q in prefixes if q for p in phrases]
        self.children: list[dict[int, int]] = [{}]
        self.depth = [0]
        self.bonus_depth = [0]          # tokens of the phrase itself matched on the path to the node
        self.is_end = [False]
        for tokens, lead in entries:
            node = 0
            for i, t in enumerate(tokens):
                if t not in self.children[node]:
                    self.children.append({})
                    self.depth.append(self.depth[node] + 1)
                    self.bonus_depth.append(max(i + 1 - lead, 0))
                    self.is_end.append(False)
                    self.children[node][t] = len(self.children) - 1
                node = self.children[node][t]
            self.is_end[node] = True
        self.fail = [0] * len(self.children)
        queue = deque(self.children[0].values())
        while queue:
            node = queue.popleft()
            for t, child in self.children[node].items():
                if node:
                    f = self.fail[node]
                    while f and t not in self.children[f]:
                        f = self.fail[f]
                    self.fail[child] = self.children[f].get(t, 0)
                queue.append(child)
        self.start_state = 0 if separator is None else self.children[0].get(separator, 0)

    @classmethod
    def from_text(cls, phrases: list[str], symbols: str, boost: float,
                  prefixes: list[str] | None = None) -> "ContextGraph":
        """Phrases (and carrier prefixes) as text over `symbols` (token k is symbols[k - 1]); other
        characters are an error."""
        def tokens(p, what):
            p = " ".join(p.lower().split())
            bad = sorted({ch for ch in p if ch not in symbols})
            if bad:
                raise ValueError(f"context {what} {p!r} has characters outside the model's alphabet: {bad}")
            return [symbols.index(ch) + 1 for ch in p]
        return cls([tokens(p, "phrase") for p in phrases], boost, separator=symbols.index(" ") + 1,
                   prefixes=None if prefixes is None else [tokens(q, "prefix") for q in prefixes])

    def score(self, state: int) -> float:
        return self.bonus_depth[state] * self.boost

    def step(self, state: int, token: int) -> tuple[float, int]:
        """(score delta, next state) after emitting `token` from `state`."""
        node = state
        while node and token not in self.children[node]:
            node = self.fail[node]
        nxt = self.children[node].get(token, 0)
        delta = self.score(nxt) - self.score(state)
        return delta, 0 if self.is_end[nxt] else nxt

    def finalize(self, state: int) -> float:
        """The delta that withdraws an open partial match at the end of the utterance."""
        return -self.score(state)
