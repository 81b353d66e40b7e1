"""The RNN-T models: a float teacher and the NEP-mappable student.

Shapes: features (B, T, FEATURE_DIM) float (int8 * 2**-7); targets (B, U) int64 character ids
(1..V-1, 0 is blank); the joint returns logits (B, T', U+1, V) with T' = T // TIME_REDUCTION.

Student structure (every matrix is one NEP MATVEC over an int8 vector):
  encoder: LSTM(FEATURE_DIM -> H); concatenate consecutive pairs of outputs (an encoder step is
  2 * feature_stride * 10 ms: 40 ms at stride 2);
           LSTM(2H -> H) x (enc_layers - 1)
  prediction: embedding (V, E) (int8 table; blank is the start symbol) -> LSTM(E -> P)
  joint: tanh(W_j [enc; pred] + b_j) -> W_o (V rows), int16 logits
Each LSTM gate block is W [x; h] + b (4H rows: i, f, g, o), requantized to the LUT input scale,
then sigmoid/tanh LUTs; c = f*c + i*g in int16; h = o * tanh(c) in int8. With activation QAT the
forward pass computes exactly what the NEP computes (integer MATVECs with the exported row
multipliers, LUT lookups; see `quant`), so its values equal the integer golden model's; in float
mode it is a plain LSTM.
The teacher has the same interface and time reduction, uses torch's LSTM, and is never exported.
"""

import dataclasses

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import quant as Q
from .corpus.grammar import ALPHABET
from ..firmware.number_formats import ACT_BITS, LOGIT_FRAC_BITS, LUT_IN_FRAC_BITS, TIME_REDUCTION, Lut, int_range
from .features import FEATURE_DIM, STRIDE, check_stride

VOCAB = len(ALPHABET) + 1          # + blank
BLANK = 0


def encode_text(text: str) -> list[int]:
    return [ALPHABET.index(ch) + 1 for ch in text]


def decode_tokens(tokens) -> str:
    return "".join(ALPHABET[t - 1] for t in tokens if t > 0)


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    kind: str = "student"          # "student" (NEP-mappable) or "teacher" (float, torch LSTM)
    enc_hidden: int = 160
    enc_layers: int = 2
    embed: int = 64
    pred_hidden: int = 128
    joint: int = 160
    feature_stride: int = STRIDE   # 10 ms frames between encoder inputs (`features`): 3 = 30 ms, 2 = 20 ms

    def __post_init__(self):
        check_stride(self.feature_stride)


class NepMatrix(nn.Module):
    """A weight matrix with bias, a pruning mask and a QAT mode; `effective()` is what the float
    forward pass multiplies by (masked, and fake-quantized when `weight_bits` is set), `integer()`
    what the device holds, and `device()` the device's MATVEC output."""

    def __init__(self, rows: int, cols: int, init_scale: float | None = None,
                 out_frac_bits: int = LUT_IN_FRAC_BITS, out_bits: int = ACT_BITS):
        super().__init__()
        s = init_scale if init_scale is not None else cols ** -0.5
        self.weight = nn.Parameter(torch.empty(rows, cols).uniform_(-s, s))
        self.bias = nn.Parameter(torch.zeros(rows))
        self.register_buffer("mask", torch.ones(rows, cols))
        self.weight_bits: int | None = None
        self.out_frac_bits, self.out_bits = out_frac_bits, out_bits
        self._integer_key, self._integer = None, None

    def effective(self) -> torch.Tensor:
        w = self.weight * self.mask
        if self.weight_bits is not None:
            w = Q.fake_quant_weight(w, self.weight_bits)
        return w

    def effective_bias(self) -> torch.Tensor:
        """The bias on the accumulator grid (scale * 2**-7, int32) in QAT mode, as exported."""
        if self.weight_bits is None:
            return self.bias
        step = Q.weight_scale(self.weight * self.mask, self.weight_bits)[:, 0] * 2.0 ** -Q.ACT_FRAC_BITS
        return self.bias + (Q.round_half_up(self.bias.detach() / step) * step - self.bias).detach()

    def integer(self) -> Q.IntegerMatrix:
        """The device form (requires `weight_bits`); recomputed only after the weights change."""
        assert self.weight_bits is not None, "integer(): set_qat first"
        key = (self.weight_bits, self.weight.dtype, self.weight._version, self.bias._version,
               self.mask._version, self.weight.data_ptr(), self.bias.data_ptr())
        if key != self._integer_key:
            self._integer = Q.integer_matrix(self.weight.detach() * self.mask, self.bias, self.weight_bits,
                                             self.out_frac_bits, self.out_bits)
            self._integer_key = key
        return self._integer

    def device(self, surrogate: torch.Tensor, acc: torch.Tensor) -> torch.Tensor:
        """The MATVEC output for the integer accumulator `acc` (see `IntegerMatrix.accumulate`),
        exact in value, with the gradient of the float `surrogate` (zero where it saturates)."""
        lo, hi = int_range(self.out_bits)
        step = 2.0 ** -self.out_frac_bits
        return Q.ste(self.integer().requantize(acc), torch.clamp(surrogate, lo * step, hi * step))


class StudentLSTM(nn.Module):
    """One LSTM layer over the concatenated [x; h] (see module docstring)."""

    def __init__(self, inp: int, hidden: int):
        super().__init__()
        self.hidden = hidden
        self.gates = NepMatrix(4 * hidden, inp + hidden)
        with torch.no_grad():
            self.gates.bias[hidden: 2 * hidden] = 1.0      # forget-gate bias
        self.qat = False

    def step(self, x, h, c, w, b):
        """One exact-QAT step; w, b = the gates' effective weights and bias (the float surrogate)."""
        xh = torch.cat([x, h], dim=1)
        z = self.gates.device(F.linear(xh, w, b), self.gates.integer().accumulate(xh))
        zi, zf, zg, zo = z.chunk(4, dim=1)
        i, f, o = (Q.lut(v, Lut.SIGMOID) for v in (zi, zf, zo))
        g = Q.lut(zg, Lut.TANH)
        fc = Q.fake_quant(f * c, Q.CELL_FRAC_BITS, Q.CELL_BITS)       # exact: products of grid values
        ig = Q.fake_quant(i * g, Q.CELL_FRAC_BITS, Q.CELL_BITS)
        c = Q.fake_quant(fc + ig, Q.CELL_FRAC_BITS, Q.CELL_BITS)
        h = Q.fake_quant(o * Q.lut(c, Lut.TANH), Q.ACT_FRAC_BITS)
        return h, c

    def forward(self, x, state=None):
        """x (B, T, inp) -> (B, T, hidden), final (h, c)."""
        assert x.ndim == 3, x.shape
        B = x.shape[0]
        h, c = state if state is not None else (x.new_zeros(B, self.hidden), x.new_zeros(B, self.hidden))
        w, b = self.gates.effective(), self.gates.effective_bias()
        if not self.qat:
            # Float activations: torch's fused LSTM kernel on the same (masked, fake-quantized)
            # weights; gate order i, f, g, o matches `step`.
            inp = x.shape[2]
            out, hn, cn = torch.lstm(x, (h[None], c[None]),
                                     [w[:, :inp], w[:, inp:], b, torch.zeros_like(self.gates.bias)],
                                     True, 1, 0.0, self.training, False, True)
            return out, (hn[0], cn[0])
        out = []
        for t in range(x.shape[1]):
            h, c = self.step(x[:, t], h, c, w, b)
            out.append(h)
        return torch.stack(out, dim=1), (h, c)


def _reduce_time(x: torch.Tensor) -> torch.Tensor:
    """(B, T, D) -> (B, T // 2, 2D): each step concatenates [x_{2t}, x_{2t+1}]."""
    B, T, D = x.shape
    T2 = T // TIME_REDUCTION
    return x[:, : T2 * TIME_REDUCTION].reshape(B, T2, TIME_REDUCTION * D)


class Transducer(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        H, P = cfg.enc_hidden, cfg.pred_hidden
        if cfg.kind == "teacher":
            self.enc1 = nn.LSTM(FEATURE_DIM, H, batch_first=True)
            self.enc2 = nn.LSTM(TIME_REDUCTION * H, H, num_layers=cfg.enc_layers - 1, batch_first=True)
            self.pred_lstm = nn.LSTM(cfg.embed, P, batch_first=True)
            self.joint_enc = nn.Linear(H, cfg.joint)
            self.joint_pred = nn.Linear(P, cfg.joint, bias=False)
            self.joint_out = nn.Linear(cfg.joint, VOCAB)
        else:
            self.enc = nn.ModuleList([StudentLSTM(FEATURE_DIM, H)] +
                                     [StudentLSTM(TIME_REDUCTION * H if i == 0 else H, H)
                                      for i in range(cfg.enc_layers - 1)])
            self.pred_lstm = StudentLSTM(cfg.embed, P)
            self.joint_hidden = NepMatrix(cfg.joint, H + P)
            self.joint_out = NepMatrix(VOCAB, cfg.joint, out_frac_bits=LOGIT_FRAC_BITS, out_bits=Q.LOGIT_BITS)
        self.embed = nn.Embedding(VOCAB, cfg.embed)
        nn.init.uniform_(self.embed.weight, -0.5, 0.5)
        self.ctc_head = nn.Linear(H, VOCAB)      # auxiliary CTC loss only; not exported
        self.qat_bits: int | None = None
        self.qat_act = False

    # --- modes ----------------------------------------------------------------------------------
    def matrices(self) -> dict[str, NepMatrix]:
        """Every NEP matrix of the student, by name."""
        return {n: m for n, m in self.named_modules() if isinstance(m, NepMatrix)}

    def set_qat(self, bits: int | None, activations: bool = True):
        """Fake-quantize weights to `bits` (4 or 8; None = float weights) and, if `activations`,
        every activation to its int8/int16 format (the slow per-step loop)."""
        assert self.cfg.kind == "student"
        self.qat_bits = bits
        self.qat_act = bits is not None and activations
        for m in self.modules():
            if isinstance(m, NepMatrix):
                m.weight_bits = bits
            if isinstance(m, StudentLSTM):
                m.qat = self.qat_act

    def _act(self, x):
        return Q.fake_quant(x, Q.ACT_FRAC_BITS) if self.qat_act else x

    # --- networks -------------------------------------------------------------------------------
    def encoder(self, feats: torch.Tensor) -> torch.Tensor:
        """(B, T, FEATURE_DIM) -> (B, T // 2, H)."""
        assert feats.ndim == 3 and feats.shape[2] == FEATURE_DIM, feats.shape
        if self.cfg.kind == "teacher":
            x, _ = self.enc1(feats)
            x, _ = self.enc2(_reduce_time(x))
            return x
        x = self._act(feats)
        x, _ = self.enc[0](x)
        x = _reduce_time(x)
        for layer in self.enc[1:]:
            x, _ = layer(x)
        return x

    def embed_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        e = self.embed(tokens)
        if self.cfg.kind == "student":
            e = self._act(torch.clamp(e, -1.0, 127 / 128))
        return e

    def prediction(self, targets: torch.Tensor, state=None):
        """targets (B, U) -> (B, U+1, P): output after the start symbol and each label."""
        start = targets.new_full((targets.shape[0], 1), BLANK)
        e = self.embed_tokens(torch.cat([start, targets], dim=1))
        out, state = self.pred_lstm(e, state)
        return out, state

    def joint(self, enc: torch.Tensor, pred: torch.Tensor) -> torch.Tensor:
        """enc (..., H) and pred (..., P), broadcastable -> logits (..., V)."""
        if self.cfg.kind == "teacher":
            return self.joint_out(torch.tanh(self.joint_enc(enc) + self.joint_pred(pred)))
        H = enc.shape[-1]
        w = self.joint_hidden.effective()
        z = F.linear(enc, w[:, :H]) + F.linear(pred, w[:, H:]) + self.joint_hidden.effective_bias()
        if not self.qat_act:
            return F.linear(torch.tanh(z), self.joint_out.effective(), self.joint_out.effective_bias())
        # exact: one MATVEC over [enc; pred], accumulated in two broadcast halves
        hidden = self.joint_hidden.integer()
        z = self.joint_hidden.device(z, hidden.accumulate(enc, slice(0, H)) + hidden.accumulate(pred, slice(H, None)))
        j = Q.lut(z, Lut.TANH)
        y = F.linear(j, self.joint_out.effective(), self.joint_out.effective_bias())
        return self.joint_out.device(y, self.joint_out.integer().accumulate(j))

    def forward(self, feats, targets):
        """(logits (B, T', U+1, V), encoder output (B, T', H))."""
        enc = self.encoder(feats)
        pred, _ = self.prediction(targets)
        return self.joint(enc[:, :, None], pred[:, None]), enc

    # --- decoding -------------------------------------------------------------------------------
    @torch.no_grad()
    def greedy_search(self, feats: torch.Tensor, frames: torch.Tensor, max_symbols: int = 4) -> list[list[int]]:
        """Batched greedy RNN-T decoding; frames are encoder-input lengths (B,)."""
        enc = self.encoder(feats)
        T_enc = frames // TIME_REDUCTION
        B = feats.shape[0]
        hyps: list[list[int]] = [[] for _ in range(B)]
        last = torch.full((B, 1), BLANK, dtype=torch.long)
        pred, state = self.pred_lstm(self.embed_tokens(last))
        for t in range(enc.shape[1]):
            active = t < T_enc
            for _ in range(max_symbols):
                k = self.joint(enc[:, t], pred[:, 0]).argmax(-1)
                emit = active & (k != BLANK)
                if not emit.any():
                    break
                new_pred, new_state = self.pred_lstm(self.embed_tokens(k[:, None]), state)
                pred = torch.where(emit[:, None, None], new_pred, pred)
                state = tuple(torch.where(emit.view((1,) * (s.ndim - 2) + (B, 1)), ns, s)
                              for ns, s in zip(new_state, state))
                for b in torch.nonzero(emit).flatten().tolist():
                    hyps[b].append(int(k[b]))
                active = emit
        return hyps


def num_params(model: nn.Module, exported_only: bool = False) -> int:
    if exported_only:
        return sum(m.weight.numel() + m.bias.numel() for m in model.matrices().values()) + \
            model.embed.weight.numel()
    return sum(p.numel() for n, p in model.named_parameters())
