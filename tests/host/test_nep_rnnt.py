"""The compiled RNN-T on golden and Verilator vs the integer golden RNN-T, word for word.

The model is a small student (random init, 50% lane-balanced sparse, int4) exported by
`models.export`; every encoder output, every logits vector of the greedy search and the 1-best
must be identical to `GoldenRnnt`'s, on both backends.
"""

import numpy as np
import pytest

from edgeasr.firmware.compiler import CompileError, compile_student
from edgeasr.firmware.memory_map import CoreConfig
from edgeasr.host.device import open_device
from edgeasr.host.beam_search import BLANK
from edgeasr.host.nep_rnnt import NepRnnt
from edgeasr.models.features import FEATURE_DIM
from edgeasr.models.golden_rnnt import GoldenRnnt
from edgeasr.verif.random_program import regress_config

CONFIG = regress_config(8)          # the 8-lane core the RTL regression already builds
SEED = 3
FRAMES = 10


@pytest.fixture(scope="module")
def student(small_student):
    return small_student


def features(seed: int, frames: int = FRAMES) -> np.ndarray:
    return np.random.default_rng(seed).integers(-128, 128, (frames, FEATURE_DIM))


@pytest.mark.parametrize("backend", ["golden", "verilator"])
def test_device_matches_golden_rnnt(student, backend):
    golden = GoldenRnnt(student)
    image = compile_student(student, CONFIG)
    feats = features(SEED)
    with open_device(backend, CONFIG) as dev:
        rnnt = NepRnnt(dev, image)
        enc = rnnt.encoder(feats)
        np.testing.assert_array_equal(enc, golden.encoder(feats), err_msg=f"seed {SEED}")
        # Greedy search in lockstep: every logits vector and every prediction state.
        P = student.config.pred_hidden
        gh, gc = golden.lstm_step("pred_lstm.gates", student.embed[BLANK].astype(np.int64),
                                  np.zeros(P, np.int64), np.zeros(P, np.int64))
        state = rnnt.pred_step(BLANK, rnnt.initial_pred_state())
        hyp, joints = [], 0
        for t in range(len(enc)):
            for _ in range(4):
                np.testing.assert_array_equal(state.h, gh)
                np.testing.assert_array_equal(state.c, gc)
                logits = rnnt.joint(enc[t], state.h)
                np.testing.assert_array_equal(logits, golden.joint(enc[t], gh), err_msg=f"t={t}")
                joints += 1
                k = int(np.argmax(logits))
                if k == BLANK:
                    break
                hyp.append(k)
                gh, gc = golden.lstm_step("pred_lstm.gates", student.embed[k].astype(np.int64), gh, gc)
                state = rnnt.pred_step(k, state)
        assert hyp == golden.greedy_search(feats)
        assert rnnt.greedy_search(feats) == hyp
        assert joints >= len(enc)
        totals = rnnt.counters.totals()
        assert totals["macs"] > 0 and totals["skipped"] > 0


@pytest.mark.parametrize("backend", ["golden", "verilator"])
def test_a_three_layer_encoder_matches_golden_rnnt(small_three_layer_student, backend):
    """`edgeasr train --student-layers 3`: the compiler chains the extra layer like the second."""
    deep = small_three_layer_student
    assert "enc.2.gates" in deep.matrices
    golden, feats = GoldenRnnt(deep), features(SEED + 1)
    with open_device(backend, CONFIG) as dev:
        rnnt = NepRnnt(dev, compile_student(deep, CONFIG))
        np.testing.assert_array_equal(rnnt.encoder(feats), golden.encoder(feats))
        assert rnnt.greedy_search(feats) == golden.greedy_search(feats)


def test_golden_and_verilator_count_the_same_work(student):
    image = compile_student(student, CONFIG)
    feats = features(SEED + 1, 4)
    counts = {}
    for backend in ("golden", "verilator"):
        with open_device(backend, CONFIG) as dev:
            rnnt = NepRnnt(dev, image)
            rnnt.greedy_search(feats)
            counts[backend] = (rnnt.counters.macs, rnnt.counters.skipped, rnnt.counters.runs)
    assert counts["golden"] == counts["verilator"]


def test_image_round_trips_and_names_its_buffers(student):
    image = compile_student(student, CONFIG)
    again = type(image).from_bytes(image.to_bytes())
    assert again.entry_points == image.entry_points
    assert again.symbols == image.symbols
    assert again.feature_stride == image.feature_stride == student.config.feature_stride
    for name in ("enc.frame0", "enc.frame1", "enc.0.h", "enc.0.c", "enc.1.h", "pred.x", "pred.h", "pred.c",
                 "joint.enc", "joint.pred", "joint.logits", "pred.embed"):
        assert name in image.symbols
    s = image.symbols
    assert s["enc.frame0"].base % CONFIG.lanes == 0 and s["enc.0.h"].base == s["enc.frame0"].base + FEATURE_DIM
    assert s["joint.pred"].base == s["joint.enc"].base + s["joint.enc"].length


def test_model_that_does_not_fit_names_the_memory(student):
    small = CoreConfig(lanes=8, spad_depth=2048, prog_depth=64, param_depth=1024, mask_depth=1024, value_depth=256)
    with pytest.raises(CompileError, match=r"^the model does not fit VALUE memory: it needs \d+ words, "
                                           r"the core \(8 lanes\) has 256; largest: enc\.0\.gates"):
        compile_student(student, small)
    with pytest.raises(CompileError, match=r"^the model does not fit PROGRAM memory: it needs 46 words, "
                                           r"the core \(8 lanes\) has 32"):
        compile_student(student, CoreConfig(lanes=8, spad_depth=2048, prog_depth=32, param_depth=1024,
                                            mask_depth=1024, value_depth=4096))


def test_compiler_uses_the_golden_models_formats():
    from edgeasr.firmware import compiler
    from edgeasr.models import golden_rnnt, quant
    assert (compiler.ACT_FRAC_BITS, compiler.CELL_FRAC_BITS, compiler.LOGIT_FRAC_BITS) == \
        (quant.ACT_FRAC_BITS, quant.CELL_FRAC_BITS, quant.LOGIT_FRAC_BITS)
    assert (compiler.F_C_SHIFT, compiler.I_G_SHIFT, compiler.C_TO_LUT_SHIFT, compiler.H_SHIFT) == \
        (golden_rnnt.F_C_SHIFT, golden_rnnt.I_G_SHIFT, golden_rnnt.C_TO_LUT_SHIFT, golden_rnnt.H_SHIFT)
    assert compiler.TIME_REDUCTION == golden_rnnt.TIME_REDUCTION


def test_inconsistent_models_are_refused(student):
    from edgeasr.firmware.compiler import compile_rnnt
    mats = dict(student.matrices)
    del mats["joint_out"]
    with pytest.raises(CompileError, match=r"^the model has no matrix 'joint_out'; found enc\.0\.gates, "):
        compile_rnnt(mats, student.embed, CONFIG)
    with pytest.raises(CompileError, match=r"^embedding table has shape \(29, 15\), expected \(29, 16\)$"):
        compile_rnnt(student.matrices, student.embed[:, :15], CONFIG)
    one_layer = {k: v for k, v in student.matrices.items() if k != "enc.1.gates"}
    with pytest.raises(CompileError, match=r"^the encoder needs at least 2 layers .*, found 1$"):
        compile_rnnt(one_layer, student.embed, CONFIG)


def test_compile_cli_writes_a_loadable_image(student, tmp_path, capsys):
    import json

    from edgeasr.host import cli
    from edgeasr.firmware.image import Image
    from edgeasr.models.export import save_image
    model, out = tmp_path / "student.npz", tmp_path / "model.nepi"
    save_image(student, str(model))
    assert cli.main(["compile", str(model), "-o", str(out), "--lanes", "8", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["entry_points"] == {"encoder_step": 0, "pred_step": 31, "joint": 42}
    assert Image.from_bytes(out.read_bytes()).config.lanes == 8
    assert cli.main(["compile", str(model), "-o", str(out), "--lanes", "8", "--value-depth", "64"]) == 1
    assert "does not fit VALUE memory" in capsys.readouterr().err


@pytest.mark.parametrize("program, writes", [
    ("encoder_step", {"enc.0.h", "enc.0.b.h", "enc.0.c", "enc.0.z", "enc.1.x", "enc.1.h", "enc.1.c", "enc.1.z",
                      "joint.enc"}),
    ("pred_step", {"pred.h", "pred.c", "pred.z", "joint.pred"}),
    ("joint", {"joint.z", "joint.logits"}),
])
def test_each_program_writes_only_its_own_buffers(student, program, writes):
    image = compile_student(student, CONFIG)
    rng = np.random.default_rng(SEED)
    with open_device("golden", CONFIG) as dev:
        rnnt = NepRnnt(dev, image)
        for name in ("enc.frame0", "enc.frame1", "pred.x", "pred.h", "joint.enc", "joint.pred"):
            s = image.symbols[name]
            dev.write_spad(s.base, rng.integers(-128, 128, s.length))
        before = dev.read_spad(0, CONFIG.spad_depth)
        rnnt._run(program)
        after = dev.read_spad(0, CONFIG.spad_depth)
    allowed = np.zeros(CONFIG.spad_depth, bool)
    for name in writes:
        s = image.symbols[name]
        allowed[s.base:s.base + s.length] = True
    changed = np.nonzero(before != after)[0]
    assert not (set(changed.tolist()) - set(np.nonzero(allowed)[0].tolist())), \
        f"{program} wrote outside {sorted(writes)}: entries {changed[~allowed[changed]][:10]}"
    assert changed.size > 0
