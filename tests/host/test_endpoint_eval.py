"""Offline end-pointer replay equals the live recognizer; webrtcvad baseline; the summary figures."""

import numpy as np
import pytest

from edgeasr.host.endpoint_eval import compare_endpointers, replay, summarize, vad_endpoint_s
from edgeasr.host.endpointer import FINAL, SPECULATIVE, Endpointer
from edgeasr.host.eoq import FEATURES, EoqDetector
from edgeasr.host.recognizer import RecognizerConfig, transcribe
from edgeasr.host.reference_rnnt import ReferenceRnnt

from .test_recognizer import speechlike


def quiet_detector(spec=0.5, final=0.9):
    """Fires on energy well below the loudest step so far (a tone, then silence)."""
    w = [0.0] * len(FEATURES)
    w[FEATURES.index("bias")], w[FEATURES.index("energy3")] = -1.0, -1.0
    return EoqDetector(tuple(w), speculative_threshold=spec, final_threshold=final)


def tone_then_silence(tone_s=0.6, silence_s=1.8):
    return np.concatenate([speechlike(tone_s), np.zeros(int(silence_s * 16000), np.float32)])


@pytest.mark.parametrize("eoq", [None, quiet_detector()])
def test_replay_gives_the_live_recognizers_events(small_student, eoq):
    rnnt = ReferenceRnnt(small_student)
    audio = tone_then_silence()
    live = transcribe(rnnt, audio, RecognizerConfig(eoq=eoq))
    offline = transcribe(rnnt, audio, RecognizerConfig(endpoint=None, speculative=None))
    fire = replay(offline.trace, Endpointer(FINAL, SPECULATIVE, eoq))
    spec = [e for e in live.events if e.type == "speculative_final"]
    final = live.events[-1]
    assert final.type == "final"
    if fire.final_s is None:                       # no end-point before the audio ran out
        assert final.time_s == pytest.approx(len(audio) / 16000)
    else:
        assert (final.time_s, final.text) == (fire.final_s, fire.final_text)
    assert [(e.time_s, e.text) for e in spec] == ([(fire.speculative_s, fire.speculative_text)]
                                                  if fire.speculative_s is not None else [])
    assert live.trace == offline.trace[:len(live.trace)]
    if eoq is not None:                            # the detector fires in the silence, well before the rules
        assert 0.6 < fire.speculative_s <= fire.final_s < 0.6 + 1.2


def test_webrtcvad_fires_after_the_hangover():
    audio = tone_then_silence(0.9, 1.5)
    t = vad_endpoint_s(audio, mode=2, hangover_s=0.5)
    assert t is not None and 0.9 + 0.45 <= t <= 0.9 + 0.65
    assert vad_endpoint_s(np.zeros(32000, np.float32)) is None


def test_summary_figures():
    s = summarize([1.5, 0.9, None, 2.0], [1.0, 1.0, 1.0, 1.0])
    assert s == {"latency_median_s": 0.5, "latency_p90_s": 0.9, "early_cutoff_rate": 0.25, "never_fired_rate": 0.25}


def test_comparison_table_has_every_end_pointer(small_student):
    rnnt = ReferenceRnnt(small_student)
    audio = tone_then_silence(0.6, 2.6)
    trace = transcribe(rnnt, audio, RecognizerConfig(endpoint=None, speculative=None)).trace
    rows = compare_endpointers([trace], [audio], [0.6], quiet_detector())
    assert len(rows) == 7 and all(set(r) == {"latency_median_s", "latency_p90_s", "early_cutoff_rate",
                                             "never_fired_rate"} for r in rows.values())
    assert rows["eoq detector (final)"]["latency_median_s"] < 1.2
