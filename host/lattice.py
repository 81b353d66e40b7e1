"""Word lattices from the n-best hypotheses of the beam search, and their JSON form.

Each hypothesis is split into words at the space token; a word arc spans from the encoder step of
its first character to the end of the step of its last one, and scores the sum of its characters'
log-probabilities. Arcs of all n-best hypotheses are merged by (word, start, end), keeping the best
score, so the lattice is the union of the n-best paths (not a full search graph: pruned paths are
not in it). Times are seconds from the start of the audio.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from .beam_search import Hypothesis


@dataclass(frozen=True)
class WordArc:
    word: str
    start_s: float
    end_s: float
    score: float          # sum of the word's character log-probabilities (natural log)


def words_of(hyp: Hypothesis, symbols: str, step_s: float) -> list[WordArc]:
    """The word arcs of one hypothesis; token k is character symbols[k - 1], words split at ' '."""
    arcs, chars, first, last, score = [], [], None, None, 0.0

    def flush():
        if chars:
            arcs.append(WordArc("".join(chars), round(first * step_s, 3), round((last + 1) * step_s, 3),
                                round(score, 4)))

    for tok, t, s in zip(hyp.tokens, hyp.timestamps, hyp.token_scores):
        ch = symbols[tok - 1]
        if ch == " ":
            flush()
            chars, first, score = [], None, 0.0
            continue
        if first is None:
            first = t
        chars.append(ch)
        last = t
        score += s
    flush()
    return arcs


def text_of(hyp: Hypothesis, symbols: str) -> str:
    return " ".join("".join(symbols[t - 1] for t in hyp.tokens).split())


@dataclass
class Lattice:
    arcs: list[WordArc]
    nbest: list[dict]            # {"text", "log_prob", "words": [arc indices]} best first

    @classmethod
    def from_nbest(cls, hyps: list[Hypothesis], symbols: str, step_s: float) -> "Lattice":
        index: dict[tuple, int] = {}
        arcs: list[WordArc] = []
        nbest = []
        for h in hyps:
            path = []
            for arc in words_of(h, symbols, step_s):
                key = (arc.word, arc.start_s, arc.end_s)
                if key not in index:
                    index[key] = len(arcs)
                    arcs.append(arc)
                elif arc.score > arcs[index[key]].score:
                    arcs[index[key]] = arc
                path.append(index[key])
            nbest.append({"text": text_of(h, symbols), "log_prob": round(h.log_prob, 4), "words": path})
        return cls(arcs, nbest)

    def to_dict(self) -> dict:
        return {"arcs": [asdict(a) for a in self.arcs], "nbest": self.nbest}

    def save(self, path: str) -> None:
        with open(path, "w") as f:
            json.dump(self.to_dict(), f, indent=1)

    def num_bytes(self) -> int:
        return len(json.dumps(self.to_dict(), separators=(",", ":")).encode())


def plot_lattice(lattice: Lattice, path: str, title: str = "") -> None:
    """Draw the lattice as a PNG: one row per n-best path, each word a box from start to end time,
    labelled with the word and its score; the best path on top."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = max(1, len(lattice.nbest))
    end = max([a.end_s for a in lattice.arcs] + [0.1])
    fig, ax = plt.subplots(figsize=(max(6.0, 2.0 * end), 0.6 * rows + 1.2))
    for r, path_ in enumerate(lattice.nbest):
        y = rows - 1 - r
        for i in path_["words"]:
            a = lattice.arcs[i]
            ax.add_patch(plt.Rectangle((a.start_s, y - 0.35), a.end_s - a.start_s, 0.7,
                                       facecolor="C0" if r == 0 else "0.8", edgecolor="k", alpha=0.8))
            ax.text((a.start_s + a.end_s) / 2, y, f"{a.word}\n{a.score:.1f}", ha="center", va="center", fontsize=8)
    ax.set_yticks(range(rows))
    ax.set_yticklabels([f"{p['log_prob']:.1f}" for p in reversed(lattice.nbest)] or [""])
    ax.set_xlim(0, end * 1.02)
    ax.set_ylim(-0.6, rows - 0.4)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("n-best path (log-prob)")
    ax.set_title(title or "word lattice")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
