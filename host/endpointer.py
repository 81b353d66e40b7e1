"""Rule-based end-pointing on the decoder's output, as data (sherpa-onnx's rules, k2-fsa style).

An utterance ends when any rule of an `EndpointConfig` holds, judged after each encoder step on
the best hypothesis:
    rule1: trailing silence >= 2.4 s, even if nothing was decoded;
    rule2: trailing silence >= 1.2 s after at least one token;
    rule3: the utterance is at least 20 s long.
Trailing silence is the time since the end of the encoder step that emitted the best hypothesis'
last token (since the start when it has none). `SPECULATIVE` is the same rules 200 ms earlier:
the recognizer emits `speculative_final` when it fires and `final` when `FINAL` fires. These are
the baselines of open recognizers; `Endpointer` combines them with the trained end-of-query
detector (`host.eoq`), which fires much earlier, the rules staying as a fallback. The recognizer
and the offline evaluation (`host.endpoint_eval`) drive the same `Endpointer`, step by step.
"""

from __future__ import annotations

from dataclasses import dataclass

from .eoq import EoqDetector, StepInfo


@dataclass(frozen=True)
class EndpointRule:
    must_contain_nonsilence: bool      # the rule needs at least one decoded token
    min_trailing_silence_s: float      # 0 disables the silence condition
    min_utterance_length_s: float      # 0 disables the length condition

    def holds(self, decoded_s: float, trailing_silence_s: float, has_tokens: bool) -> bool:
        if self.must_contain_nonsilence and not has_tokens:
            return False
        return trailing_silence_s >= self.min_trailing_silence_s and decoded_s >= self.min_utterance_length_s


@dataclass(frozen=True)
class EndpointConfig:
    rule1: EndpointRule | None = EndpointRule(False, 2.4, 0.0)     # None disables a rule
    rule2: EndpointRule | None = EndpointRule(True, 1.2, 0.0)
    rule3: EndpointRule | None = EndpointRule(False, 0.0, 20.0)

    def fired(self, decoded_s: float, trailing_silence_s: float, has_tokens: bool) -> str | None:
        """The name of the first rule that holds, or None."""
        for name in ("rule1", "rule2", "rule3"):
            rule = getattr(self, name)
            if rule is not None and rule.holds(decoded_s, trailing_silence_s, has_tokens):
                return name
        return None

    def earlier(self, seconds: float) -> "EndpointConfig":
        """The same rules, each threshold `seconds` lower (not below 0)."""
        def shift(r: EndpointRule | None) -> EndpointRule | None:
            if r is None:
                return None
            return EndpointRule(r.must_contain_nonsilence,
                                round(max(0.0, r.min_trailing_silence_s - seconds), 6) if r.min_trailing_silence_s else 0.0,
                                round(max(0.0, r.min_utterance_length_s - seconds), 6) if r.min_utterance_length_s else 0.0)
        return EndpointConfig(shift(self.rule1), shift(self.rule2), shift(self.rule3))

    def safety_net(self) -> "EndpointConfig":
        """Without rule2: beside the EOQ detector, only the long rules stay. Rule2 (1.2 s after a
        token) judges by the decoder alone and cuts speakers off mid-sentence when the decoder
        falls silent while they talk; the detector hears the speech."""
        return EndpointConfig(self.rule1, None, self.rule3)


FINAL = EndpointConfig()
SPECULATIVE = FINAL.earlier(0.2)


def trailing_silence_s(decoded_steps: int, timestamps: tuple[int, ...], step_s: float) -> float:
    """Seconds since the end of the step that emitted the last token (or since the start)."""
    last_end = timestamps[-1] + 1 if timestamps else 0
    return round((decoded_steps - last_end) * step_s, 6)


class Endpointer:
    """Speculative and final end-pointing over one utterance's steps: `update(step)` returns the
    events the step causes, among "speculative_final" (once) and "final". A rule set of None
    disables it; with an EOQ detector, each end-pointer fires on its threshold or on its rules'
    safety net (`EndpointConfig.safety_net`)."""

    def __init__(self, final: EndpointConfig | None = FINAL, speculative: EndpointConfig | None = SPECULATIVE,
                 eoq: EoqDetector | None = None):
        if eoq is not None:
            final = final.safety_net() if final is not None else None
            speculative = speculative.safety_net() if speculative is not None else None
        self.final, self.speculative, self.eoq = final, speculative, eoq
        self.tracker = eoq.tracker() if eoq is not None else None
        self.speculated = False
        self.probability: float | None = None
        self.held = 0                                   # consecutive steps with P >= final_threshold

    def update(self, step: StepInfo) -> list[str]:
        self.probability = p = self.tracker.update(step) if self.tracker is not None else None
        self.held = self.held + 1 if p is not None and p >= self.eoq.final_threshold else 0
        args = (step.time_s, step.trailing_silence_s, step.has_tokens)
        out = []
        if not self.speculated and self.speculative is not None and (
                self.speculative.fired(*args) or (p is not None and p >= self.eoq.speculative_threshold)):
            self.speculated = True
            out.append("speculative_final")
        if self.final is not None and (self.final.fired(*args) or (p is not None and self.held > self.eoq.final_hold_steps)):
            out.append("final")
        return out
