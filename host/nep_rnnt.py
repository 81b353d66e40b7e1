"""The compiled RNN-T on a NEP: the host side of `firmware.compiler`'s three programs.

`NepRnnt(device, image)` loads the image and offers the model's steps on integer vectors:
    encoder_step(frame0, frame1) -> (H,)    two int8 feature frames -> one encoder output
    pred_step(token, state) -> PredState    the prediction LSTM after `token`, from `state`
    joint(enc_t, pred_h) -> (V,)            int16 logits at 2**-8
The device keeps the encoder's recurrent state between `encoder_step` calls (`reset_encoder`
zeroes it); the prediction network's state belongs to the host (one `PredState` per hypothesis),
written before and read after every `pred_step`, so any number of hypotheses share one device.
Everything is bit-exact with `models.golden_rnnt.GoldenRnnt` (tests/host/test_nep_rnnt.py).

Bus traffic is kept small: `joint` only rewrites the halves of the joint input that changed since
the last call (the encoder step and the prediction step leave their outputs there themselves).
`counters` sums the device's cycles, MACs and skipped weights over every run, per program.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..firmware.compiler import ENTRY_POINTS, TIME_REDUCTION
from ..firmware.errors import ImageError
from .beam_search import greedy_search
from .device import Device
from ..firmware.image import Image, SectionType, load_image


@dataclass(frozen=True)
class PredState:
    """A hypothesis' prediction-network state: h (P,) int8 values and c (P,) int16 values."""
    h: np.ndarray
    c: np.ndarray


@dataclass
class DeviceCounters:
    """Device work summed over runs: per program name, (runs, cycles, MACs, skipped)."""
    runs: dict[str, int] = field(default_factory=dict)
    cycles: dict[str, int] = field(default_factory=dict)
    macs: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)

    def add(self, program: str, counters: dict[str, int]) -> None:
        self.runs[program] = self.runs.get(program, 0) + 1
        for name in ("cycles", "macs", "skipped"):
            table = getattr(self, name)
            table[program] = table.get(program, 0) + counters[name]

    def totals(self) -> dict[str, int]:
        return {"cycles": sum(self.cycles.values()), "macs": sum(self.macs.values()),
                "skipped": sum(self.skipped.values())}


def symbol_data(image: Image, name: str) -> np.ndarray:
    """The initial scratchpad contents of symbol `name` from the image's DATA sections (int64)."""
    sym = image.symbols[name]
    for s in image.sections:
        if s.type == SectionType.DATA and s.base == sym.base and len(s.words) == sym.length:
            w = np.asarray(s.words, np.int64)
            return np.where(w >= 1 << 15, w - (1 << 16), w)
    raise ImageError(f"image has no DATA section for symbol {name!r} (entries {sym.base}..{sym.base + sym.length - 1})")


class NepRnnt:
    """The compiled RNN-T on `device` (see module docstring). Loads `image` on construction."""

    def __init__(self, device: Device, image: Image):
        missing = [n for n in ENTRY_POINTS if n not in image.entry_points]
        if missing:
            raise ImageError(f"image lacks entry point(s) {', '.join(missing)}; compile it with `edgeasr compile`")
        self.device, self.image = device, image
        self.sym = image.symbols
        load_image(device, image)
        self.embed = symbol_data(image, "pred.embed").reshape(-1, self.sym["pred.x"].length)
        self.vocab, self.embed_dim = self.embed.shape
        self.enc_hidden = self.sym["joint.enc"].length
        self.pred_hidden = self.sym["joint.pred"].length
        self.features = self.sym["enc.frame0"].length
        self.feature_stride = image.feature_stride       # the host front end's, recorded by the compiler
        self.counters = DeviceCounters()
        self._joint_in: list[np.ndarray | None] = [None, None]     # what joint.enc / joint.pred hold

    # --- the three programs ------------------------------------------------------------------------

    def _run(self, program: str) -> None:
        result = self.device.run(self.image.entry_points[program])
        self.counters.add(program, result.counters)

    def _read(self, name: str) -> np.ndarray:
        s = self.sym[name]
        return self.device.read_spad(s.base, s.length)

    def reset_encoder(self) -> None:
        """Zero the encoder's recurrent state (start of an utterance)."""
        names = [n for n in self.sym if n.startswith("enc.") and (n.endswith(".h") or n.endswith(".c"))]
        for n in names:
            s = self.sym[n]
            self.device.write_spad(s.base, np.zeros(s.length, np.int64))

    def encoder_step(self, frame0: np.ndarray, frame1: np.ndarray) -> np.ndarray:
        """One encoder output (H,) int8 values from two consecutive int8 feature frames (F,) each."""
        for name, frame in (("enc.frame0", frame0), ("enc.frame1", frame1)):
            frame = np.asarray(frame)
            assert frame.shape == (self.features,), (name, frame.shape)
            self.device.write_spad(self.sym[name].base, frame.astype(np.int64))
        self._run("encoder_step")
        out = self._read("joint.enc")
        self._joint_in[0] = out
        return out

    def encoder(self, feats: np.ndarray) -> np.ndarray:
        """(T, F) int8 -> (T // 2, H): a whole utterance from a zero state (a trailing odd frame is dropped)."""
        assert feats.ndim == 2 and feats.shape[1] == self.features, feats.shape
        self.reset_encoder()
        T2 = len(feats) // TIME_REDUCTION
        out = [self.encoder_step(feats[2 * t], feats[2 * t + 1]) for t in range(T2)]
        return np.array(out, np.int64).reshape(T2, self.enc_hidden)

    def initial_pred_state(self) -> PredState:
        zeros = np.zeros(self.pred_hidden, np.int64)
        return PredState(zeros, zeros)

    def pred_step(self, token: int, state: PredState) -> PredState:
        """The prediction network's state after feeding `token` (its embedding row) from `state`."""
        if not 0 <= token < self.vocab:
            raise ValueError(f"token {token} outside the vocabulary [0, {self.vocab})")
        self.device.write_spad(self.sym["pred.x"].base, np.concatenate([self.embed[token], state.h]))
        self.device.write_spad(self.sym["pred.c"].base, state.c)
        self._run("pred_step")
        new = PredState(self._read("pred.h"), self._read("pred.c"))
        self._joint_in[1] = new.h
        return new

    def joint(self, enc_t: np.ndarray, pred_h: np.ndarray) -> np.ndarray:
        """(V,) int16 logits of the joint network for one encoder output and one prediction output."""
        for k, (name, v) in enumerate((("joint.enc", enc_t), ("joint.pred", pred_h))):
            held = self._joint_in[k]
            if held is None or not np.array_equal(held, v):
                self.device.write_spad(self.sym[name].base, np.asarray(v, np.int64))
                self._joint_in[k] = np.asarray(v, np.int64)
        self._run("joint")
        return self._read("joint.logits")

    # --- decoding ----------------------------------------------------------------------------------

    def greedy_search(self, feats: np.ndarray, max_symbols: int = 4) -> list[int]:
        """Greedy RNN-T decoding of int8 features (T, F), as `GoldenRnnt.greedy_search`."""
        return greedy_search(self, self.encoder(feats), max_symbols)
