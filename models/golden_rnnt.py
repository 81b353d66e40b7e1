"""The integer golden RNN-T: the exported student run with the NEP's op semantics (`firmware.ops`).

Plain and slow on purpose: one utterance at a time, every MATVEC / ACT / EW as the device runs it.
Per LSTM step, with x and h int8 at 2**-7 and c int16 at 2**-11:
    z      = MATVEC(W, [x; h])               int8 at 2**-4 (the LUT input grid)
    i,f,o  = ACT(z_i|f|o, SIGMOID, 0);  g = ACT(z_g, TANH, 0)     int8 at 2**-7
    c      = EW ADD(EW MUL(f, c, >>7, sat16), EW MUL(i, g, >>3, sat16), sat16)
    h      = EW MUL(o, ACT(c, TANH, >>7), >>7, sat8)
Joint: j = ACT(MATVEC(W_j, [enc; pred]), TANH, 0); logits = MATVEC(W_o, j) (int16). Greedy search
emits argmax (lowest index on ties) up to `max_symbols` times per encoder step, as
`Transducer.greedy_search` does.
"""

import numpy as np

from ..firmware.isa import Ew
from ..firmware.number_formats import C_TO_LUT_SHIFT, F_C_SHIFT, H_SHIFT, I_G_SHIFT, Lut, default_lut
from ..firmware.ops import act, ew, matvec
from . import quant as Q
from .export import ExportedStudent, dense_weights
from .rnnt import BLANK, TIME_REDUCTION

SIG = default_lut(Lut.SIGMOID)
TANH = default_lut(Lut.TANH)


class GoldenRnnt:
    def __init__(self, ex: ExportedStudent):
        self.ex = ex
        self.w = dense_weights(ex)
        self.p = {n: (m.bias, m.mult, m.shift, 16 if m.out16 else 8) for n, m in ex.matrices.items()}

    def _mv(self, name, x):
        b, m, s, bits = self.p[name]
        return matvec(self.w[name], x, b, m, s, bits)

    def lstm_step(self, name, x, h, c):
        H = h.shape[0]
        z = self._mv(name, np.concatenate([x, h]))
        i, f, o = (act(z[k * H:(k + 1) * H], SIG, 0) for k in (0, 1, 3))
        g = act(z[2 * H:3 * H], TANH, 0)
        c = ew(Ew.ADD, ew(Ew.MUL, f, c, F_C_SHIFT, True), ew(Ew.MUL, i, g, I_G_SHIFT, True), 0, True)
        h = ew(Ew.MUL, o, act(c, TANH, C_TO_LUT_SHIFT), H_SHIFT, False)
        return h, c

    def encoder(self, feats_int8: np.ndarray) -> np.ndarray:
        """(T, FEATURE_DIM) int8 -> (T // 2, H) int8 values."""
        cfg = self.ex.config
        H = cfg.enc_hidden
        h, c = np.zeros(H, np.int64), np.zeros(H, np.int64)
        out = []
        for x in feats_int8.astype(np.int64):
            h, c = self.lstm_step("enc.0.gates", x, h, c)
            out.append(h)
        T2 = len(out) // TIME_REDUCTION
        x = np.array(out[: T2 * TIME_REDUCTION], np.int64).reshape(T2, TIME_REDUCTION * H)
        for layer in range(1, cfg.enc_layers):
            h, c = np.zeros(H, np.int64), np.zeros(H, np.int64)
            ys = []
            for xt in x:
                h, c = self.lstm_step(f"enc.{layer}.gates", xt, h, c)
                ys.append(h)
            x = np.array(ys, np.int64).reshape(len(ys), H)
        return x

    def joint(self, enc_t, pred):
        j = act(self._mv("joint_hidden", np.concatenate([enc_t, pred])), TANH, 0)
        return self._mv("joint_out", j)

    def greedy_search(self, feats_int8: np.ndarray, max_symbols: int = 4) -> list[int]:
        P = self.ex.config.pred_hidden
        enc = self.encoder(feats_int8)
        hp, cp = self.lstm_step("pred_lstm.gates", self.ex.embed[BLANK].astype(np.int64),
                                np.zeros(P, np.int64), np.zeros(P, np.int64))
        hyp = []
        for t in range(len(enc)):
            for _ in range(max_symbols):
                k = int(np.argmax(self.joint(enc[t], hp)))
                if k == BLANK:
                    break
                hyp.append(k)
                hp, cp = self.lstm_step("pred_lstm.gates", self.ex.embed[k].astype(np.int64), hp, cp)
        return hyp
