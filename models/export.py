"""Export of the trained student to the NEP's formats, and the size figures.

For every NEP matrix (weights masked and on the QAT grid) with per-row scale s_r and int8 input at
2**-7, the accumulator has scale s_r * 2**-7. Its row parameters map it to the consumer's scale:
    LSTM gates, joint hidden -> the LUT input grid 2**-LUT_IN_FRAC_BITS, int8 output;
    joint output             -> logits at 2**-LOGIT_FRAC_BITS, int16 output (out16).
  bias_r = round(b_r / (s_r * 2**-7)) (int32),  mult_r / 2**shift_r ~ s_r * 2**-7 / out_scale with
  mult_r in [2**14, 2**15) (16-bit signed) and shift_r <= REQUANT_SHIFT_MAX.
The embedding is an int8 table at 2**-7 (a lookup, not a MATVEC). LUTs are the defaults.
`save_image`/`load_image` write one .npz: a JSON manifest plus each matrix's `weight_codec.to_bytes`.
"""

import dataclasses
import json

import numpy as np
import torch

from ..firmware.weight_codec import CompressedMatrix, compress, decompress, from_bytes, to_bytes
from . import quant as Q
from .rnnt import ModelConfig, Transducer
from .sparsity import NEP_LANES


@dataclasses.dataclass
class ExportedStudent:
    config: ModelConfig
    weight_bits: int
    matrices: dict[str, CompressedMatrix]     # name -> compressed matrix (see Transducer.matrices)
    embed: np.ndarray                         # (V, E) int8 at 2**-7

    def image_bytes(self) -> int:
        """Bytes of the device image: every serialized matrix plus the embedding table."""
        return sum(len(to_bytes(m)) for m in self.matrices.values()) + self.embed.size


@torch.no_grad()
def export_student(model: Transducer, weight_bits: int) -> ExportedStudent:
    """The student in NEP formats. Weights are quantized as the QAT forward pass does."""
    as_int = lambda t: t.numpy().astype(np.int64)
    mats = {}
    for name, m in model.matrices().items():
        # the same integers the exact QAT forward pass computes with (`NepMatrix.integer`)
        im = Q.integer_matrix(m.weight * m.mask, m.bias, weight_bits, m.out_frac_bits, m.out_bits)
        mats[name] = compress(as_int(im.q), as_int(im.bias), as_int(im.mult), as_int(im.shift),
                              lanes=NEP_LANES, weight_bits=weight_bits, out16=m.out_bits == 16)
    e = torch.clamp(model.embed.weight, -1.0, 127 / 128)
    embed = torch.floor(e * 2 ** Q.ACT_FRAC_BITS + 0.5).clamp(-128, 127).to(torch.int8).numpy()
    return ExportedStudent(model.cfg, weight_bits, mats, embed)


def save_image(ex: ExportedStudent, path: str):
    manifest = {"config": dataclasses.asdict(ex.config), "weight_bits": ex.weight_bits,
                "lanes": NEP_LANES, "matrices": list(ex.matrices)}
    arrays = {f"matrix:{n}": np.frombuffer(to_bytes(m), np.uint8) for n, m in ex.matrices.items()}
    np.savez_compressed(path, manifest=np.frombuffer(json.dumps(manifest).encode(), np.uint8),
                        embed=ex.embed, **arrays)


def load_image(path: str) -> ExportedStudent:
    z = np.load(path)
    manifest = json.loads(bytes(z["manifest"]).decode())
    mats = {n: from_bytes(bytes(z[f"matrix:{n}"])) for n in manifest["matrices"]}
    return ExportedStudent(ModelConfig(**manifest["config"]), manifest["weight_bits"], mats, z["embed"])


def dense_weights(ex: ExportedStudent) -> dict[str, np.ndarray]:
    return {n: decompress(m) for n, m in ex.matrices.items()}


@torch.no_grad()
def student_from_image(ex: ExportedStudent) -> Transducer:
    """The QAT student an image holds, to fine-tune a published model whose float checkpoints are
    gone: each matrix's weights q * s_r with s_r read back from its row multiplier, the pruning mask
    where q != 0, the bias on the accumulator grid, the int8 embedding. Exporting it again gives the
    same image. The auxiliary CTC head is not exported and starts fresh."""
    m = Transducer(ex.config)
    for name, nm in m.matrices().items():
        cm = ex.matrices[name]
        q = torch.from_numpy(decompress(cm).astype(np.float64))
        acc_scale = np.ldexp(cm.mult.astype(np.float64), -cm.shift.astype(np.int64) - nm.out_frac_bits)
        s = torch.from_numpy(acc_scale * 2.0 ** Q.ACT_FRAC_BITS)
        nm.weight.copy_((q * s[:, None]).float())
        nm.mask.copy_((q != 0).float())
        nm.bias.copy_(torch.from_numpy(cm.bias * acc_scale).float())
    m.embed.weight.copy_(torch.from_numpy(ex.embed.astype(np.float32) * 2.0 ** -Q.ACT_FRAC_BITS))
    m.set_qat(ex.weight_bits, activations=False)
    return m


def sizes(ex: ExportedStudent, teacher: Transducer) -> dict:
    from .rnnt import num_params
    t = num_params(teacher) * 4
    return {"teacher_float32_bytes": t, "student_image_bytes": ex.image_bytes(),
            "student_fraction_of_teacher": ex.image_bytes() / t}
