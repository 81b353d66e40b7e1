"""Class-based context biasing: a request's contact list as the expansion of the LM's name class.

Production assistants bias toward a user's contacts with a class-based language model: the LM
predicts "a contact's name comes next" ("call $ on speaker", `char_lm.CLASS`) and the recognizer
fills the class from the contact list of that request. Unlike shallow fusion of boosts
(`context_graph`), nothing is added where the LM sees no name, and inside a name the search is held
to the listed spellings, which a small acoustic model that never heard "saoirse" cannot produce by
itself.
The class's distribution: each contact equally likely, times `exp(boost)` (the request's prior
for its own list), spelled out character by character along a trie, so that a partial name costs
only the share of contacts it still fits: log P(c | node) = log(contacts under the child / contacts
under the node), and a name ends with log(contacts ending here / contacts under the node).
The beam search (`beam_search.BeamSearch`) carries, per hypothesis, the LM's parses of its
characters: outside the class, or inside it at a trie node.
`ilm_weight`: on a listed name's characters the search also subtracts this weight times the
prediction network's internal-LM log-probability renormalized over the characters that continue a
listed name, as the contact rescoring corrects its scores (`contact_rescoring`): that network
learnt the training names and finds every other spelling improbable, and the class's prior is
meant to replace its preference among the names, not to add to it. The correction is scaled by the
LM's probability that a name starts there (P(class | "call ") is about 0.4, P(class | "turn on
the ") about 0), so a name that fits nowhere gets none. Unnormalized, it pays each name for
everything the internal LM finds unlikely in it, and the search turns "delete all alarms" into
"dial aurelio". Measured with the committed student (README, "Context biasing"): too weak an
acoustic model for it to reach the biasing goal, so the committed LM has no class and this is opt-in.
"""

from __future__ import annotations

import numpy as np

ROOT = 0


class ContactClass:
    """A trie over the contacts' characters (token ids 1..n_chars) with log-probabilities."""

    def __init__(self, names: list[list[int]], n_chars: int, boost: float = 0.0, ilm_weight: float = 1.0):
        if not np.isfinite(boost):
            raise ValueError(f"contact class boost must be finite, got {boost}")
        if not (np.isfinite(ilm_weight) and ilm_weight >= 0):
            raise ValueError(f"contact class ILM weight must be a finite number >= 0, got {ilm_weight}")
        self.ilm_weight = float(ilm_weight)
        names = sorted({tuple(n) for n in names if n})
        if not names:
            raise ValueError("a contact class needs at least one name")
        self.n_chars, self.boost, self.size = n_chars, float(boost), len(names)
        children: list[dict[int, int]] = [{}]
        under, ending = [0], [0]
        for name in names:
            node = ROOT
            under[node] += 1
            for t in name:
                if not 1 <= t <= n_chars:
                    raise ValueError(f"contact token {t} outside 1..{n_chars}")
                if t not in children[node]:
                    children[node][t] = len(children)
                    children.append({})
                    under.append(0)
                    ending.append(0)
                node = children[node][t]
                under[node] += 1
            ending[node] += 1
        self.child = np.full((len(children), n_chars), -1, np.int64)     # [node, token - 1]
        self.next_log_probs = np.full((len(children), n_chars), -np.inf)
        self.end_log_prob = np.full(len(children), -np.inf)
        for node, kids in enumerate(children):
            for t, c in kids.items():
                self.child[node, t - 1] = c
                self.next_log_probs[node, t - 1] = np.log(under[c] / under[node])
            if ending[node]:
                self.end_log_prob[node] = np.log(ending[node] / under[node])
        # Entering the class on its first character: the boost, then the root's distribution.
        self.entry_log_probs = self.next_log_probs[ROOT] + self.boost

    @classmethod
    def from_text(cls, names: list[str], symbols: str, boost: float = 0.0, ilm_weight: float = 1.0) -> "ContactClass":
        """Contacts as text over `symbols` (token k is symbols[k - 1]); other characters are an error."""
        tokens = []
        for name in names:
            name = " ".join(name.lower().split())
            bad = sorted({ch for ch in name if ch not in symbols})
            if bad:
                raise ValueError(f"contact {name!r} has characters outside the model's alphabet: {bad}")
            if name:
                tokens.append([symbols.index(ch) + 1 for ch in name])
        return cls(tokens, len(symbols), boost, ilm_weight)
