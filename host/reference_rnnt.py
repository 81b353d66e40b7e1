"""The integer golden RNN-T behind `NepRnnt`'s interface, for decoding many utterances fast.

`NepRnnt` drives a device instruction by instruction; `models.golden_rnnt.GoldenRnnt` computes the
same integers with whole-vector numpy ops (bit-exact with the device, tested in
`tests/host/test_nep_rnnt.py`). `ReferenceRnnt` lets the recognizer and beam search run on the
latter, so training the end-of-query detector on hundreds of decodings takes minutes, not hours.
It does no device work: its counters stay at zero, and it is never a substitute for the device
in a result that reports device figures.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np

from ..models.export import ExportedStudent
from ..firmware.isa import Ew
from ..firmware.number_formats import (ACT_BITS, C_TO_LUT_SHIFT, F_C_SHIFT, H_SHIFT, I_G_SHIFT, requantize,
                                       saturate)
from ..firmware.ops import act, ew
from ..models.golden_rnnt import SIG, TANH, GoldenRnnt
from ..models.rnnt import TIME_REDUCTION
from .nep_rnnt import DeviceCounters, NepRnnt, PredState


class ReferenceRnnt:
    def __init__(self, ex: ExportedStudent):
        self.golden = GoldenRnnt(ex)
        cfg = ex.config
        self.embed = ex.embed.astype(np.int64)
        self.vocab = self.embed.shape[0]
        self.enc_hidden, self.pred_hidden, self.layers = cfg.enc_hidden, cfg.pred_hidden, cfg.enc_layers
        self.features = self.golden.w["enc.0.gates"].shape[1] - cfg.enc_hidden
        self.feature_stride = cfg.feature_stride
        self.counters = DeviceCounters()
        self._float_weights: dict[str, np.ndarray] = {}
        self.reset_encoder()

    def reset_encoder(self) -> None:
        H = self.enc_hidden
        self.state = [(np.zeros(H, np.int64), np.zeros(H, np.int64)) for _ in range(self.layers)]

    def encoder_step(self, frame0: np.ndarray, frame1: np.ndarray) -> np.ndarray:
        h, c = self.state[0]
        outs = []
        for frame in (frame0, frame1):
            h, c = self.golden.lstm_step("enc.0.gates", np.asarray(frame, np.int64), h, c)
            outs.append(h)
        self.state[0] = (h, c)
        x = np.concatenate(outs[:TIME_REDUCTION])
        for layer in range(1, self.layers):
            h, c = self.golden.lstm_step(f"enc.{layer}.gates", x, *self.state[layer])
            self.state[layer] = (h, c)
            x = h
        return x

    initial_pred_state = NepRnnt.initial_pred_state

    def pred_step(self, token: int, state: PredState) -> PredState:
        if not 0 <= token < self.vocab:
            raise ValueError(f"token {token} outside the vocabulary [0, {self.vocab})")
        h, c = self.golden.lstm_step("pred_lstm.gates", self.embed[token], state.h, state.c)
        return PredState(h, c)

    def pred_step_many(self, tokens: list[int], states: list[PredState]) -> list[PredState]:
        """`pred_step` of each (token, state) pair, as one matrix product (the same integer ops)."""
        if not tokens:
            return []
        tokens = np.asarray(tokens, np.int64)
        if tokens.min() < 0 or tokens.max() >= self.vocab:
            raise ValueError(f"tokens outside the vocabulary [0, {self.vocab})")
        h = np.stack([s.h for s in states]).astype(np.int64)
        c = np.stack([s.c for s in states]).astype(np.int64)
        P, N = self.pred_hidden, len(tokens)
        z = self._matvec_rows("pred_lstm.gates", np.concatenate([self.embed[tokens], h], axis=1))
        flat = lambda k: z[:, k * P:(k + 1) * P].ravel()
        i, f, o = (act(flat(k), SIG, 0) for k in (0, 1, 3))
        g = act(flat(2), TANH, 0)
        c = ew(Ew.ADD, ew(Ew.MUL, f, c.ravel(), F_C_SHIFT, True), ew(Ew.MUL, i, g, I_G_SHIFT, True), 0, True)
        h = ew(Ew.MUL, o, act(c, TANH, C_TO_LUT_SHIFT), H_SHIFT, False)
        return [PredState(a, b) for a, b in zip(h.reshape(N, P), c.reshape(N, P))]

    def joint(self, enc_t: np.ndarray, pred_h: np.ndarray) -> np.ndarray:
        return self.golden.joint(np.asarray(enc_t, np.int64), np.asarray(pred_h, np.int64))

    def joint_many(self, enc: np.ndarray, pred: np.ndarray) -> np.ndarray:
        """`joint` of each row pair of enc (N, H) and pred (N, P), as one matrix product per layer
        (the same integer ops: saturate, accumulate, requantize, LUT)."""
        x = np.concatenate([np.asarray(enc, np.int64), np.asarray(pred, np.int64)], axis=1)
        hidden = _act(self._matvec_rows("joint_hidden", x), TANH)
        return self._matvec_rows("joint_out", hidden)

    def joint_grid(self, enc: np.ndarray, pred: np.ndarray) -> np.ndarray:
        """(T, K, V): `joint` of every enc row (T, H) with every pred row (K, P). The hidden layer's
        integer accumulator is the encoder half's plus the prediction half's, so each half is
        multiplied once (exact: the same sums in another order)."""
        H = self.enc_hidden
        w = self._weights("joint_hidden")
        bias, mult, shift, bits = self.golden.p["joint_hidden"]
        e = saturate(np.asarray(enc), ACT_BITS).astype(np.float64) @ w[:, :H].T
        p = saturate(np.asarray(pred), ACT_BITS).astype(np.float64) @ w[:, H:].T
        acc = np.asarray(bias, np.int64) + (e[:, None, :] + p[None, :, :]).astype(np.int64)
        hidden = _act(requantize(acc, mult, shift, bits), TANH)
        T, K = hidden.shape[:2]
        return self._matvec_rows("joint_out", hidden.reshape(T * K, -1)).reshape(T, K, -1)

    def _weights(self, name: str) -> np.ndarray:
        if name not in self._float_weights:
            self._float_weights[name] = self.golden.w[name].astype(np.float64)
        return self._float_weights[name]

    def _matvec_rows(self, name: str, x: np.ndarray) -> np.ndarray:
        bias, mult, shift, bits = self.golden.p[name]
        # float64 products and sums are exact here (|sum| < 2**31 << 2**53) and use BLAS
        dot = saturate(x, ACT_BITS).astype(np.float64) @ self._weights(name).T
        return requantize(np.asarray(bias, np.int64) + dot.astype(np.int64), mult, shift, bits)


def _act(x: np.ndarray, table: np.ndarray) -> np.ndarray:
    """`firmware.ops.act` with shift 0 on an array of any shape."""
    return act(x.ravel(), table, 0).reshape(x.shape)


@contextmanager
def open_decoder(device: str, student: ExportedStudent, lanes: int = 16):
    """"reference": a ReferenceRnnt; "golden"/"verilator": a NepRnnt on that backend, the student
    compiled for `lanes` (the device is closed on exit). For tools that decode many utterances."""
    if device == "reference":
        yield ReferenceRnnt(student)
        return
    from ..firmware.compiler import compile_student
    from ..firmware.memory_map import CoreConfig
    from .device import open_device
    config = CoreConfig(lanes=lanes)
    with open_device(device, config) as dev:
        yield NepRnnt(dev, compile_student(student, config))
