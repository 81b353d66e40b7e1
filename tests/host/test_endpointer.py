"""The rule-based end-pointers: each rule's edge, the speculative rules 200 ms earlier."""

import pytest

from edgeasr.host.endpointer import FINAL, SPECULATIVE, EndpointConfig, EndpointRule, trailing_silence_s

STEP_S = 0.06


@pytest.mark.parametrize("decoded_s, silence_s, has_tokens, rule", [
    (3.0, 2.4, False, "rule1"),
    (3.0, 2.34, False, None),
    (3.0, 1.2, True, "rule2"),
    (3.0, 1.14, True, None),
    (20.0, 0.0, True, "rule3"),
    (19.98, 0.0, True, None),
])
def test_final_rules_at_their_edges(decoded_s, silence_s, has_tokens, rule):
    assert FINAL.fired(decoded_s, silence_s, has_tokens) == rule


def test_speculative_is_200_ms_earlier():
    assert SPECULATIVE.rule1 == EndpointRule(False, 2.2, 0.0)
    assert SPECULATIVE.rule2 == EndpointRule(True, 1.0, 0.0)
    assert SPECULATIVE.rule3 == EndpointRule(False, 0.0, 19.8)
    assert SPECULATIVE.fired(3.0, 1.0, True) == "rule2" and FINAL.fired(3.0, 1.0, True) is None


def test_trailing_silence_counts_whole_steps_after_the_last_token():
    assert trailing_silence_s(10, (), STEP_S) == 0.6
    assert trailing_silence_s(10, (2, 4), STEP_S) == 0.3
    assert trailing_silence_s(5, (4,), STEP_S) == 0.0


def test_earlier_never_goes_below_zero():
    cfg = EndpointConfig(EndpointRule(False, 0.1, 0.0), EndpointRule(True, 0.0, 0.0), EndpointRule(False, 0.0, 0.1))
    e = cfg.earlier(0.2)
    assert (e.rule1.min_trailing_silence_s, e.rule3.min_utterance_length_s) == (0.0, 0.0)


def test_safety_net_drops_only_the_decoder_silence_rule():
    net = FINAL.safety_net()
    assert net.fired(3.0, 1.2, True) is None and FINAL.fired(3.0, 1.2, True) == "rule2"
    assert net.fired(3.0, 2.4, False) == "rule1" and net.fired(20.0, 0.0, True) == "rule3"
    assert net.earlier(0.2).rule2 is None and net.earlier(0.2).rule1 == SPECULATIVE.rule1
