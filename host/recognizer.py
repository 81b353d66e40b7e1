"""Streaming recognition on a NEP: audio chunks -> features -> encoder steps -> beam search -> words.

`Recognizer(rnnt)` takes audio in any chunk size through `accept_waveform`, returns the events it
caused (a `partial` whenever the best hypothesis' text changes), and `finish()` returns the
`Result`: the final text, the n-best with scores, every event (ending with `final`), the word
lattice and the device's work (cycles, MACs, skipped weights). Features come from
`models.features.StreamingFrontEnd` (equal to the offline features, so streaming and file
decoding agree) at the model's feature stride (`rnnt.feature_stride` 10 ms frames, recorded in the
image); two feature vectors make one encoder step (`step_s`: 40 ms at stride 2). Event times are the audio
position, in seconds, at which the event could be emitted (the samples consumed so far).
End-pointing (`host.endpointer`: rules, and the trained end-of-query detector when the config
has one): when the speculative end-pointer fires the recognizer emits
`speculative_final` and keeps that lattice; when the final one fires (or the audio ends) it emits
`final`, preceded by `reset` if the best text changed since `speculative_final`, and stops decoding
(`ended`) until `next_utterance()`. Context biasing: pass a `host.context_graph.ContextGraph` per request. Every step's `StepInfo`
is kept in `trace`, so end-pointers can be compared offline on the same decoding.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from .audio import SAMPLE_RATE_HZ
from .beam_search import BeamSearch, BeamSearchConfig
from .char_lm import CharNgramLM
from .contact_rescoring import ContactRescorer
from .contact_class import ContactClass
from .context_graph import ContextGraph
from .endpointer import FINAL, SPECULATIVE, EndpointConfig, Endpointer, trailing_silence_s
from .eoq import EoqDetector, StepInfo
from .lattice import Lattice, text_of
from .nep_rnnt import NepRnnt


def step_seconds(feature_stride: int) -> float:
    """Audio per encoder step: TIME_REDUCTION feature vectors, each `feature_stride` 10 ms frames."""
    from ..firmware.number_formats import TIME_REDUCTION
    from ..models.features import HOP_S
    return round(TIME_REDUCTION * feature_stride * HOP_S, 6)


def _symbols() -> str:
    from ..models.corpus.grammar import ALPHABET      # token k is ALPHABET[k - 1]; 0 is blank
    return ALPHABET


@dataclass(frozen=True)
class RecognizerConfig:
    beam: BeamSearchConfig = field(default_factory=BeamSearchConfig)
    nbest: int = 4                # hypotheses reported (at most beam)
    endpoint: EndpointConfig | None = FINAL               # None: the utterance ends with the audio
    speculative: EndpointConfig | None = SPECULATIVE      # None: no speculative_final
    eoq: EoqDetector | None = None                        # the trained end-of-query detector
    lm: CharNgramLM | None = None                         # fused in the search (beam.lm_weight)


@dataclass(frozen=True)
class Event:
    type: str                     # "partial", "speculative_final", "reset" or "final"
    time_s: float                 # audio position when it was emitted
    text: str


@dataclass
class Result:
    text: str
    nbest: list[dict]             # {"text", "log_prob"}, best first; log_prob is the search's score (with LM fusion or
                                  # biasing it includes their terms, so it can be positive)
    events: list[Event]
    lattice: Lattice
    device: dict                  # cycles, macs, skipped, encoder_steps, audio_s
    speculative_lattice: Lattice | None = None     # the lattice when speculative_final fired
    contacts: list[dict] = field(default_factory=list)    # slots the contact rescoring replaced (`text` has them)
    trace: list[tuple[float, StepInfo]] = field(default_factory=list)   # (audio position, step), per step

    def to_dict(self) -> dict:
        return {"text": self.text, "nbest": self.nbest, "events": [asdict(e) for e in self.events],
                "device": dict(self.device), "lattice": self.lattice.to_dict(),
                "speculative_lattice": self.speculative_lattice.to_dict() if self.speculative_lattice else None,
                "contacts": list(self.contacts)}


class Recognizer:
    """One utterance at a time on `rnnt`'s device; make a new one (or call `reset`) per utterance."""

    def __init__(self, rnnt: NepRnnt, config: RecognizerConfig = RecognizerConfig(),
                 context: ContextGraph | None = None, rescorer: ContactRescorer | None = None,
                 keep_encodings: bool = False, contacts: ContactClass | None = None):
        """`context`: shallow fusion in the search; `contacts`: the names of the fused LM's contact
        class (`contact_class`); `rescorer`: the contact slots of the final best
        hypothesis re-scored when the utterance ends (`contact_rescoring`), from the utterance's encoder
        outputs, which are kept (as int8) for it or when `keep_encodings` is set."""
        self.rnnt, self.config, self.context, self.rescorer = rnnt, config, context, rescorer
        self.contact_class = contacts
        self.keep_encodings = keep_encodings or rescorer is not None
        self.symbols = _symbols()
        self.step_s = step_seconds(rnnt.feature_stride)
        if len(self.symbols) + 1 != rnnt.vocab:
            raise ValueError(f"the image's vocabulary has {rnnt.vocab} tokens; this recognizer's alphabet "
                             f"has {len(self.symbols)} characters + blank")
        self.reset()

    def reset(self) -> None:
        """Forget everything: audio, features, encoder state, search, events; time restarts at 0."""
        from ..models.features import StreamingFrontEnd
        self.frontend = StreamingFrontEnd(self.rnnt.feature_stride)
        self.pending = np.zeros((0, self.rnnt.features), np.int64)
        self.samples = 0
        self.next_utterance()

    def next_utterance(self) -> None:
        """Start a new utterance after `final`, keeping the audio and features not yet decoded and
        the audio clock (event times stay seconds from the start of the stream)."""
        self._start = self.rnnt.counters.totals()     # before the search's first prediction-network run
        self.rnnt.reset_encoder()
        self.search = BeamSearch(self.rnnt, self.config.beam, self.context, self.config.lm, self.symbols,
                                 self.contact_class)
        self.events: list[Event] = []
        self._shown = ""
        self._steps = 0
        self._first_sample = self.samples
        self.ended = False
        self._speculative: tuple[str, Lattice] | None = None
        self.endpointer = Endpointer(self.config.endpoint, self.config.speculative, self.config.eoq)
        self.trace: list[tuple[float, StepInfo]] = []
        self.encodings: list[np.ndarray] = []        # encoder outputs (T x H int8), for the contact rescoring
        self.contacts: list[dict] = []

    def accept_waveform(self, chunk: np.ndarray) -> list[Event]:
        """Feed 16 kHz mono float samples; returns the events they caused. After `final`
        (`ended`), audio is buffered for `next_utterance`."""
        chunk = np.asarray(chunk, np.float32)
        assert chunk.ndim == 1, chunk.shape
        self.samples += len(chunk)
        frames = self.frontend.push(chunk)
        self.pending = np.concatenate([self.pending, frames.astype(np.int64)])
        new = []
        while len(self.pending) >= 2 and not self.ended:
            energy = float(self.pending[:2].mean())
            enc = self.rnnt.encoder_step(self.pending[0], self.pending[1])
            self.pending = self.pending[2:]
            if self.keep_encodings:
                self.encodings.append(np.asarray(enc).astype(np.int8))
            self.search.step(enc)
            self._steps += 1
            text = text_of(self.search.best(), self.symbols)
            now = round(self.samples / SAMPLE_RATE_HZ, 3)
            if text != self._shown:
                self._shown = text
                new.append(Event("partial", now, text))
            new += self._endpoint(now, text, energy)
        self.events += new
        return new

    def _endpoint(self, now: float, text: str, energy: float) -> list[Event]:
        best = self.search.best()
        step = StepInfo(round(self._steps * self.step_s, 6), trailing_silence_s(self._steps, best.timestamps, self.step_s),
                        bool(best.tokens), text, energy)
        self.trace.append((now, step))
        out = []
        for kind in self.endpointer.update(step):
            if kind == "speculative_final":
                hyps = self.search.nbest(self.config.nbest)
                self._speculative = (text, Lattice.from_nbest(hyps, self.symbols, self.step_s))
                out.append(Event("speculative_final", now, text))
            else:
                self.ended = True
                out += self._final_events(now, self._rescored(text))
        return out

    def _rescored(self, text: str) -> str:
        """The best hypothesis with its contact slots re-scored (`text` without a rescorer)."""
        if self.rescorer is None or not self.encodings:
            return text
        best = self.search.best()
        tokens, changes = self.rescorer.rescore(self.rnnt, best.tokens, best.timestamps, np.stack(self.encodings))
        self.contacts = [asdict(c) for c in changes]
        return "".join(self.symbols[k - 1] for k in tokens)

    def _final_events(self, now: float, text: str) -> list[Event]:
        out = []
        if self._speculative is not None and self._speculative[0] != text:
            out.append(Event("reset", now, text))
        out.append(Event("final", now, text))
        return out

    def finish(self) -> Result:
        """The final result of the audio fed so far (a trailing odd feature frame is dropped)."""
        hyps = self.search.nbest(self.config.nbest)
        text = text_of(hyps[0], self.symbols)
        if not self.ended:
            self.ended = True
            self.events += self._final_events(round(self.samples / SAMPLE_RATE_HZ, 3), self._rescored(text))
        text = self.events[-1].text if self.contacts else text
        now = self.rnnt.counters.totals()
        device = {k: now[k] - self._start[k] for k in now}
        device.update(encoder_steps=self._steps, audio_s=round((self.samples - self._first_sample) / SAMPLE_RATE_HZ, 3))
        return Result(text, [{"text": text_of(h, self.symbols), "log_prob": round(h.log_prob, 4)} for h in hyps],
                      list(self.events), Lattice.from_nbest(hyps, self.symbols, self.step_s), device,
                      self._speculative[1] if self._speculative else None, trace=list(self.trace),
                      contacts=list(self.contacts))


def transcribe(rnnt: NepRnnt, audio: np.ndarray, config: RecognizerConfig = RecognizerConfig(),
               chunk_s: float = 0.1, on_event=None, context: ContextGraph | None = None,
               rescorer: ContactRescorer | None = None, contacts: ContactClass | None = None) -> Result:
    """A whole 16 kHz waveform fed in `chunk_s` pieces; `on_event(event)` sees each event as it happens."""
    rec = Recognizer(rnnt, config, context, rescorer, contacts=contacts)
    step = max(1, int(chunk_s * SAMPLE_RATE_HZ))
    for i in range(0, len(audio), step):
        for e in rec.accept_waveform(audio[i:i + step]):
            if on_event:
                on_event(e)
        if rec.ended:
            break
    seen = len(rec.events)
    result = rec.finish()
    if on_event:
        for e in result.events[seen:]:
            on_event(e)
    return result
