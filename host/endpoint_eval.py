"""End-pointers compared offline on one decoding per utterance.

The recognizer keeps every step's `StepInfo` (its `trace`); replaying a trace through an
`Endpointer` gives exactly the events the live recognizer would have emitted with it (tested), so
one decoding of an utterance with end-pointing off serves every candidate: the trained EOQ
detector, the open recognizers' rules (1.2 s of trailing silence after a token; 2.4 s of any) and
webrtcvad with a hangover, which looks at the audio only. Latency is measured from the true end of
speech to the audio position at which the end-pointer fires; firing before the end of speech is
an early cut-off.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .endpointer import FINAL, Endpointer, EndpointConfig, EndpointRule
from .eoq import EoqDetector, StepInfo

RULE_2_4_S = EndpointConfig(EndpointRule(False, 2.4, 0.0), EndpointRule(False, 2.4, 0.0), FINAL.rule3)
VAD_FRAME_S = 0.03


@dataclass(frozen=True)
class Firing:
    speculative_s: float | None       # audio position of speculative_final (None: never)
    speculative_text: str
    final_s: float | None             # audio position of final (None: not before the audio ended)
    final_text: str


def replay(trace: list[tuple[float, StepInfo]], endpointer: Endpointer) -> Firing:
    """When `endpointer` would have fired on this decoding, and the best text at those steps."""
    spec = (None, "")
    for now, step in trace:
        for kind in endpointer.update(step):
            if kind == "speculative_final":
                spec = (now, step.text)
            else:
                return Firing(*spec, now, step.text)
    return Firing(*spec, None, trace[-1][1].text if trace else "")


def vad_endpoint_s(audio: np.ndarray, mode: int = 2, hangover_s: float = 0.5, sample_rate: int = 16000) -> float | None:
    """webrtcvad on 30 ms frames: fires at the end of the first run of `hangover_s` non-speech frames
    that follows speech (None: never)."""
    import webrtcvad
    vad = webrtcvad.Vad(mode)
    n = int(VAD_FRAME_S * sample_rate)
    pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2")
    need = int(round(hangover_s / VAD_FRAME_S))
    heard, quiet = False, 0
    for i in range(len(pcm) // n):
        if vad.is_speech(pcm[i * n:(i + 1) * n].tobytes(), sample_rate):
            heard, quiet = True, 0
        elif heard:
            quiet += 1
            if quiet >= need:
                return round((i + 1) * VAD_FRAME_S, 3)
    return None


def summarize(firings_s: list[float | None], speech_end_s: list[float]) -> dict:
    """Median and p90 latency from the end of speech, and the early cut-off and never-fired rates."""
    lat = [f - e for f, e in zip(firings_s, speech_end_s) if f is not None]
    n = max(len(speech_end_s), 1)
    return {"latency_median_s": round(float(np.median(lat)), 3) if lat else None,
            "latency_p90_s": round(float(np.percentile(lat, 90)), 3) if lat else None,
            "early_cutoff_rate": round(sum(x < 0 for x in lat) / n, 4),
            "never_fired_rate": round(sum(f is None for f in firings_s) / n, 4)}


def compare_endpointers(traces: list[list[tuple[float, StepInfo]]], audios: list[np.ndarray],
                        speech_end_s: list[float], eoq: EoqDetector | None) -> dict:
    """The comparison table: one row per end-pointer (final firing), plus the EOQ speculative row."""
    rows = {}
    if eoq is not None:
        fire = [replay(t, Endpointer(FINAL, None, eoq)) for t in traces]
        rows["eoq detector (final)"] = summarize([f.final_s for f in fire], speech_end_s)
        spec = [replay(t, Endpointer(None, FINAL.earlier(0.2), eoq)) for t in traces]
        rows["eoq detector (speculative)"] = summarize([f.speculative_s for f in spec], speech_end_s)
    rows["rules: 1.2 s trailing silence after a token (or 2.4 s any, 20 s)"] = summarize(
        [replay(t, Endpointer(FINAL, None)).final_s for t in traces], speech_end_s)
    rows["rule: 2.4 s any trailing silence"] = summarize(
        [replay(t, Endpointer(RULE_2_4_S, None)).final_s for t in traces], speech_end_s)
    for hang in (0.3, 0.5, 0.8):
        rows[f"webrtcvad mode 2 + {hang} s hangover"] = summarize(
            [vad_endpoint_s(a, 2, hang) for a in audios], speech_end_s)
    return rows
