"""Lowering the exported integer RNN-T (`models.export.ExportedStudent`) into a device `Image`.

The image holds three programs, run by the host one at a time (programs have no branches):
    encoder_step   two feature frames -> one encoder output (every encoder layer, time reduction
                   included): layer 0 runs on frame 0 and frame 1, its two outputs land side by side
                   in layer 1's input (the stacking is scratchpad layout), then layers 1.. run once.
                   The last layer's h is copied into `joint.enc`.
    pred_step      one prediction-network LSTM step from the embedding row the host wrote into
                   `pred.x` with the hypothesis' state in `pred.h`/`pred.c`; the new h is also
                   copied into `joint.pred`.
    joint          logits (int16, `joint.logits`) = W_o ACT_tanh(W_j [joint.enc; joint.pred]).
Each LSTM step is the op sequence of `models.golden_rnnt.GoldenRnnt.lstm_step`:
    z = MATVEC(W, [x; h]); i,f = ACT sig; g = ACT tanh; o = ACT sig (in place, in z);
    f <- EW MUL(f, c, >>7, sat16); i <- EW MUL(i, g, >>3, sat16); c = EW ADD(f, i, sat16);
    g <- ACT(c, tanh, >>7); h = EW MUL(o, g, >>7, sat8)
so one MATVEC covers [x; h]: every layer's x and h are contiguous, x starting on a lane boundary
(the MATVEC source rule). Layer 0 has two [x; h] buffers (`enc.0.a`, `enc.0.b`): the step on frame
0 reads buffer a and writes its h into buffer b's h slot, the step on frame 1 the other way round,
so the recurrence needs no copy, and each h is also copied into its stacking slot.

Scratchpad symbols (name -> entries, real value = entry * scale) name every buffer the host
touches: `enc.frame0`, `enc.frame1` (int8 features at 2**-7), `enc.<l>.h`, `enc.<l>.c` (state),
`pred.x`, `pred.h`, `pred.c`, `pred.embed` (the (V, E) embedding table, row-major, a DATA section:
the image is self-contained), `joint.enc`, `joint.pred`, `joint.logits`, and the gate buffers
`*.z`. The image's DATA sections also zero every state, so a freshly loaded image starts an
utterance. Matrices are recompressed for the core's lane count (bit-exact: the same integers).

`compile_rnnt` raises `CompileError` naming the memory, the words needed and the words the core has
when the model does not fit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .assembler import Program
from .errors import ImageError
from .image import Image, Section, Symbol
from .isa import Ew
from .memory_map import CoreConfig, Region
from .number_formats import (ACT_FRAC_BITS, C_TO_LUT_SHIFT, CELL_FRAC_BITS, F_C_SHIFT, H_SHIFT, I_G_SHIFT,
                             FEATURE_STRIDE, LOGIT_FRAC_BITS, LUT_IN_FRAC_BITS, TIME_REDUCTION, Lut, default_lut)
from .weight_codec import CompressedMatrix, compress, decompress
from .weight_format import param_words, value_words

ENTRY_POINTS = ("encoder_step", "pred_step", "joint")


class CompileError(ImageError):
    """The model cannot be lowered for this core (it does not fit, or its shapes are inconsistent)."""


@dataclass(frozen=True)
class RnntShape:
    """The dimensions the programs are built for, read from the matrices."""
    features: int        # F, encoder input per frame
    enc_hidden: int      # H
    enc_layers: int
    embed: int           # E
    pred_hidden: int     # P
    joint: int           # J
    vocab: int           # V (blank = 0)


def rnnt_shape(matrices: dict[str, CompressedMatrix], embed: np.ndarray) -> RnntShape:
    """The RNN-T's dimensions; CompileError if a matrix is missing or shapes disagree."""
    def get(name):
        if name not in matrices:
            raise CompileError(f"the model has no matrix {name!r}; found {', '.join(sorted(matrices))}")
        return matrices[name]
    layers = 0
    while f"enc.{layers}.gates" in matrices:
        layers += 1
    if layers < 2:
        raise CompileError(f"the encoder needs at least 2 layers (enc.0.gates, enc.1.gates), found {layers}")
    e0, pred, jh, jo = get("enc.0.gates"), get("pred_lstm.gates"), get("joint_hidden"), get("joint_out")
    H = e0.rows // 4
    P = pred.rows // 4
    shape = RnntShape(features=e0.cols - H, enc_hidden=H, enc_layers=layers, embed=pred.cols - P,
                      pred_hidden=P, joint=jh.rows, vocab=jo.rows)
    expect = {"enc.0.gates": (4 * H, shape.features + H), "pred_lstm.gates": (4 * P, shape.embed + P),
              "joint_hidden": (shape.joint, H + P), "joint_out": (shape.vocab, shape.joint)}
    for layer in range(1, layers):
        expect[f"enc.{layer}.gates"] = (4 * H, (TIME_REDUCTION * H if layer == 1 else H) + H)
    for name, rc in expect.items():
        m = get(name)
        if (m.rows, m.cols) != rc:
            raise CompileError(f"matrix {name} is {m.rows}x{m.cols}, expected {rc[0]}x{rc[1]} for {shape}")
        if bool(m.out16) != (name == "joint_out"):
            raise CompileError(f"matrix {name} has out16={bool(m.out16)}; only joint_out has int16 outputs")
    if np.shape(embed) != (shape.vocab, shape.embed):
        raise CompileError(f"embedding table has shape {np.shape(embed)}, expected ({shape.vocab}, {shape.embed})")
    return shape


@dataclass
class _Allocator:
    """Bump allocation in one memory; `need` grows past `depth` so the error can say how much."""
    region: Region
    depth: int
    align: int = 1
    need: int = 0
    uses: list = field(default_factory=list)

    def take(self, n: int, what: str) -> int:
        base = -(-self.need // self.align) * self.align
        self.need = base + n
        self.uses.append((what, base, n))
        return base

    def check(self, config: CoreConfig):
        if self.need > self.depth:
            biggest = sorted(self.uses, key=lambda u: -u[2])[:3]
            raise CompileError(
                f"the model does not fit {self.region.name} memory: it needs {self.need} words, the core "
                f"({config.lanes} lanes) has {self.depth}; largest: "
                + ", ".join(f"{w} ({n})" for w, _, n in biggest))


def _for_lanes(cm: CompressedMatrix, lanes: int) -> CompressedMatrix:
    if cm.lanes == lanes:
        return cm
    return compress(decompress(cm), cm.bias, cm.mult, cm.shift, lanes=lanes, weight_bits=cm.weight_bits,
                    out16=cm.out16)


def _lstm_step(p: Program, mat: int, xh: int, h_out: int, c: int, z: int, hidden: int) -> None:
    """One LSTM step: z = W [x; h] at `xh`, c updated in place, the new h written at `h_out`."""
    H = hidden
    i, f, g, o = z, z + H, z + 2 * H, z + 3 * H
    p.matvec(dst=z, src=xh, mat=mat)
    p.act(dst=i, a=i, length=2 * H, table=Lut.SIGMOID)
    p.act(dst=g, a=g, length=H, table=Lut.TANH)
    p.act(dst=o, a=o, length=H, table=Lut.SIGMOID)
    p.ew(Ew.MUL, dst=f, a=f, b=c, length=H, shift=F_C_SHIFT, sat16=True)
    p.ew(Ew.MUL, dst=i, a=i, b=g, length=H, shift=I_G_SHIFT, sat16=True)
    p.ew(Ew.ADD, dst=c, a=f, b=i, length=H, sat16=True)
    p.act(dst=g, a=c, length=H, table=Lut.TANH, shift=C_TO_LUT_SHIFT)
    p.ew(Ew.MUL, dst=h_out, a=o, b=g, length=H, shift=H_SHIFT, sat16=False)


def compile_rnnt(matrices: dict[str, CompressedMatrix], embed: np.ndarray, config: CoreConfig,
                 feature_stride: int = FEATURE_STRIDE):
    """The device image of an integer RNN-T (matrices named as `models.rnnt.Transducer.matrices`,
    embedding (V, E) int8 at 2**-7) for `config`; `feature_stride` is recorded for the host's front
    end. Raises CompileError if it does not fit."""
    shape = rnnt_shape(matrices, embed)
    F, H, L, E, P, J, V = (shape.features, shape.enc_hidden, shape.enc_layers, shape.embed,
                           shape.pred_hidden, shape.joint, shape.vocab)
    act, cell, z_scale = 2.0 ** -ACT_FRAC_BITS, 2.0 ** -CELL_FRAC_BITS, 2.0 ** -LUT_IN_FRAC_BITS
    spad = _Allocator(Region.SPAD, config.spad_depth, config.lanes)
    symbols: dict[str, Symbol] = {}
    state: list[str] = []

    def buf(name: str, n: int, scale: float, is_state: bool = False) -> int:
        base = spad.take(n, name)
        symbols[name] = Symbol(base, n, scale)
        if is_state:
            state.append(name)
        return base

    def xh(prefix: str, nx: int, nh: int, x_name: str) -> tuple[int, int]:
        """[x; h] contiguous, x lane-aligned; registers both symbols, returns (x base, h base)."""
        base = spad.take(nx + nh, prefix)
        symbols[x_name] = Symbol(base, nx, act)
        symbols[f"{prefix}.h"] = Symbol(base + nx, nh, act)
        state.append(f"{prefix}.h")
        return base, base + nx

    # Layer 0: two [x; h] buffers, one per frame of the pair; they share c and z.
    a_x, a_h = xh("enc.0", F, H, "enc.frame0")
    b_x, b_h = xh("enc.0.b", F, H, "enc.frame1")
    c0, z0 = buf("enc.0.c", H, cell, True), buf("enc.0.z", 4 * H, z_scale)
    layers = [None]
    for layer in range(1, L):
        nx = TIME_REDUCTION * H if layer == 1 else H
        x, h = xh(f"enc.{layer}", nx, H, f"enc.{layer}.x")
        layers.append((x, h, buf(f"enc.{layer}.c", H, cell, True), buf(f"enc.{layer}.z", 4 * H, z_scale)))
    p_x, p_h = xh("pred", E, P, "pred.x")
    pc, pz = buf("pred.c", P, cell, True), buf("pred.z", 4 * P, z_scale)
    j_enc = spad.take(H + P, "joint.in")
    symbols["joint.enc"] = Symbol(j_enc, H, act)
    symbols["joint.pred"] = Symbol(j_enc + H, P, act)
    jz = buf("joint.z", J, z_scale)
    logits = buf("joint.logits", V, 2.0 ** -LOGIT_FRAC_BITS)
    emb = buf("pred.embed", V * E, act)
    spad.check(config)

    # Weights: params, masks and values bump-allocated in the three weight memories.
    param = _Allocator(Region.PARAM, config.param_depth)
    mask = _Allocator(Region.MASK, config.mask_depth)
    value = _Allocator(Region.VALUE, config.value_depth)
    sections, mats = [], {}
    for name in [f"enc.{k}.gates" for k in range(L)] + ["pred_lstm.gates", "joint_hidden", "joint_out"]:
        cm = _for_lanes(matrices[name], config.lanes)
        mats[name] = (cm, param.take(param_words(cm.rows), name), mask.take(cm.rows * cm.segments, name),
                      value.take(value_words(cm.beats, cm.weight_bits), name))
    for a in (param, mask, value):
        a.check(config)
    for cm, mat, mb, vb in mats.values():
        sections += Section.matrix(cm, mat, mb, vb)

    # Programs.
    programs: dict[str, Program] = {}
    enc = Program()
    stack_x = layers[1][0]
    _lstm_step(enc, mats["enc.0.gates"][1], a_x, b_h, c0, z0, H)        # frame 0 -> h into buffer b
    enc.ew(Ew.MOV, dst=stack_x, a=b_h, b=b_h, length=H)
    _lstm_step(enc, mats["enc.0.gates"][1], b_x, a_h, c0, z0, H)        # frame 1 -> h into buffer a
    enc.ew(Ew.MOV, dst=stack_x + H, a=a_h, b=a_h, length=H)
    for layer in range(1, L):
        x, h, c, z = layers[layer]
        _lstm_step(enc, mats[f"enc.{layer}.gates"][1], x, h, c, z, H)
        nxt = layers[layer + 1][0] if layer + 1 < L else j_enc
        enc.ew(Ew.MOV, dst=nxt, a=h, b=h, length=H)
    programs["encoder_step"] = enc.halt()
    pred = Program()
    _lstm_step(pred, mats["pred_lstm.gates"][1], p_x, p_h, pc, pz, P)
    programs["pred_step"] = pred.ew(Ew.MOV, dst=j_enc + H, a=p_h, b=p_h, length=P).halt()
    programs["joint"] = (Program().matvec(dst=jz, src=j_enc, mat=mats["joint_hidden"][1])
                         .act(dst=jz, a=jz, length=J, table=Lut.TANH)
                         .matvec(dst=logits, src=jz, mat=mats["joint_out"][1]).halt())
    prog = _Allocator(Region.PROGRAM, config.prog_depth)
    entry_points = {name: prog.take(len(p), name) for name, p in programs.items()}
    prog.check(config)
    for name, p in programs.items():
        sections.append(Section.code(entry_points[name], p.words()))

    sections += [Section.table(int(t), default_lut(t)) for t in Lut]
    for name in state:
        s = symbols[name]
        sections.append(Section.data(s.base, np.zeros(s.length, np.int64)))
    sections.append(Section.data(emb, np.asarray(embed, np.int64).reshape(-1)))
    image = Image(config, sections, entry_points, symbols, feature_stride)
    image.validate()
    return image


def compile_student(ex, config: CoreConfig):
    """`compile_rnnt` for a `models.export.ExportedStudent` (the image records its feature stride)."""
    return compile_rnnt(ex.matrices, ex.embed, config, ex.config.feature_stride)


def memory_use(image) -> dict[str, tuple[int, int]]:
    """Per memory region, (highest word used + 1, depth) of a compiled image."""
    depth = image.config.region_words()
    used = {r: 0 for r in depth}
    for s in image.sections:
        used[s.region] = max(used[s.region], s.base + len(s.words))
    for sym in image.symbols.values():
        used[Region.SPAD] = max(used[Region.SPAD], sym.base + sym.length)
    return {r.name: (used[r], depth[r][0]) for r in depth}
