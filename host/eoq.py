"""A small trained end-of-query (EOQ) detector: acoustic features plus decoder state -> P(speech ended).

After every encoder step the recognizer hands the detector a `StepInfo` (time, the decoder's
trailing silence since its last token, whether anything was decoded, the best text, the step's
log-mel energy). `EoqTracker` turns the stream of steps into a feature vector:
    acoustic   the step's energy and its 3- and 8-step means and 8-step maximum, relative to the
               loudest step so far (so gain does not matter), in nats;
    decoder    trailing silence (capped), has-tokens, and how often the best hypothesis' last word
               ends a request in the training transcripts (log-odds, learned per word: "call" rarely
               ends one, "lights" often does), so a pause after "call" is not taken for the end;
and a logistic regression gives P(the speaker has finished). The speculative end-pointer fires at
the first step with P >= `speculative_threshold`; the final one once P >= `final_threshold` has
held for more than `final_hold_steps` steps, so it trails the speculative one by that hold (about
200 ms) whatever the voice. The threshold is calibrated on data (`host.eoq_train`) for an early
cut-off rate within budget. The long rule-based end-pointers stay as a safety net.
"""

from __future__ import annotations

import json
import math
from collections import deque
from dataclasses import asdict, dataclass, field

import numpy as np

from ..models.features import FEATURE_FRAC_BITS

FEATURES = ("bias", "silence", "has_tokens", "energy", "energy3", "energy8", "peak8",
            "end_word", "silence_x_end_word", "silence_x_energy8")
SILENCE_CAP_S = 2.0
ENERGY_SCALE = 2.0 ** FEATURE_FRAC_BITS       # int8 feature units per nat


@dataclass(frozen=True)
class StepInfo:
    """What the recognizer knows after one encoder step (time since the utterance started)."""
    time_s: float
    trailing_silence_s: float
    has_tokens: bool
    text: str
    energy: float                 # mean int8 log-mel value of the step's feature frames


@dataclass(frozen=True)
class EoqDetector:
    weights: tuple[float, ...]                         # one per FEATURES
    end_word_log_odds: dict[str, float] = field(default_factory=dict)
    unknown_word_log_odds: float = 0.0
    speculative_threshold: float = 0.5
    final_threshold: float = 0.8
    final_hold_steps: int = 0                          # final: P >= final_threshold for more steps than this
    calibration: dict = field(default_factory=dict)    # what the thresholds achieved on their data

    def __post_init__(self):
        if len(self.weights) != len(FEATURES):
            raise ValueError(f"EOQ detector has {len(self.weights)} weights; expected {len(FEATURES)} "
                             f"({', '.join(FEATURES)})")
        if not 0.0 < self.speculative_threshold <= self.final_threshold < 1.0:
            raise ValueError(f"EOQ thresholds must satisfy 0 < speculative ({self.speculative_threshold}) "
                             f"<= final ({self.final_threshold}) < 1")

    def probability(self, x: np.ndarray) -> float:
        z = float(np.dot(self.weights, x))
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    def end_word(self, text: str) -> float:
        words = text.split()
        if not words:
            return self.unknown_word_log_odds
        return self.end_word_log_odds.get(words[-1], self.unknown_word_log_odds)

    def tracker(self) -> "EoqTracker":
        return EoqTracker(self)

    def save(self, path: str) -> None:
        with open(path, "w") as f:
            json.dump({"features": list(FEATURES), **asdict(self)}, f, indent=1, sort_keys=True)

    @classmethod
    def load(cls, path: str) -> "EoqDetector":
        try:
            with open(path) as f:
                d = json.load(f)
        except (OSError, json.JSONDecodeError) as e:
            raise ValueError(f"cannot read the EOQ detector {path}: {e}") from None
        if d.pop("features", None) != list(FEATURES):
            raise ValueError(f"{path} was trained on other features; retrain it with `edgeasr eoq train`")
        d["weights"] = tuple(d["weights"])
        return cls(**d)


class EoqTracker:
    """The detector's state over one utterance: `update(step)` returns P(speech ended)."""

    def __init__(self, detector: EoqDetector):
        self.detector = detector
        self.peak = -math.inf
        self.recent: deque[float] = deque(maxlen=8)

    def features(self, step: StepInfo) -> np.ndarray:
        self.peak = max(self.peak, step.energy)
        self.recent.append((step.energy - self.peak) / ENERGY_SCALE)
        r = list(self.recent)
        silence = min(step.trailing_silence_s, SILENCE_CAP_S)
        end_word = self.detector.end_word(step.text) if step.has_tokens else self.detector.unknown_word_log_odds
        e8 = float(np.mean(r))
        return np.array([1.0, silence, float(step.has_tokens), r[-1], float(np.mean(r[-3:])), e8, max(r),
                         end_word, silence * end_word, silence * e8])

    def update(self, step: StepInfo) -> float:
        return self.detector.probability(self.features(step))


def end_word_table(texts: list[str], smoothing: float = 1.0) -> tuple[dict[str, float], float]:
    """Per word, the log-odds that a request ends with it (add-`smoothing` counts), and the prior."""
    last: dict[str, int] = {}
    seen: dict[str, int] = {}
    for t in texts:
        words = t.split()
        for w in words:
            seen[w] = seen.get(w, 0) + 1
        if words:
            last[words[-1]] = last.get(words[-1], 0) + 1
    prior = sum(last.values()) / max(sum(seen.values()), 1)
    table = {w: round(math.log((last.get(w, 0) + smoothing * prior) / (n - last.get(w, 0) + smoothing * (1 - prior))), 4)
             for w, n in seen.items()}
    return table, round(math.log(prior / (1 - prior)), 4)


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-3, iterations: int = 50) -> np.ndarray:
    """Weights of a logistic regression by Newton's method (IRLS) with a small L2 penalty."""
    w = np.zeros(x.shape[1])
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -50, 50)))
        grad = x.T @ (p - y) / len(y) + l2 * w
        hess = (x.T * (p * (1 - p))) @ x / len(y) + l2 * np.eye(len(w))
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return w
