"""A few training steps on the tiny slice lower the loss (float, 4-bit weight QAT, and 4-bit QAT with
every activation quantized as the device does)."""

import pytest
import torch

from edgeasr.models.corpus.build import load_split
from edgeasr.models.data import epoch_batches
from edgeasr.models.rnnt import ModelConfig, TIME_REDUCTION, Transducer
from edgeasr.models.rnnt_loss import rnnt_loss


@pytest.mark.parametrize("bits,activations", [(None, False), (4, False), (4, True)])
def test_few_steps_lower_the_loss(tiny_corpus, bits, activations):
    torch.manual_seed(0)
    utts = load_split(tiny_corpus, "train")[:8]
    batch = next(epoch_batches([u.audio for u in utts], [u.text for u in utts], 8, seed=0, epoch=0, stream=0))
    m = Transducer(ModelConfig(enc_hidden=32, enc_layers=2, embed=32, pred_hidden=32, joint=32))
    if bits:
        m.set_qat(bits, activations=activations)      # True: the exact, device-equal forward pass
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    losses = []
    for _ in range(12):
        logits, _ = m(batch.feats, batch.targets)
        loss = rnnt_loss(logits, batch.targets, batch.frames // TIME_REDUCTION, batch.labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0], losses


def test_a_run_started_before_an_option_existed_resumes_at_its_default(tiny_corpus, tmp_path):
    import dataclasses
    import json
    from edgeasr.models.cli import tiny_train_config
    from edgeasr.models.train import Run
    old = dataclasses.asdict(tiny_train_config(run_dir=str(tmp_path)))
    for m in ("teacher", "student"):
        del old[m]["feature_stride"]                 # config.json as written before these options existed
    del old["vtlp"], old["corpus"]["voice_set"], old["sparsity_ramp"], old["qat_self_kd_weight"]
    (tmp_path / "config.json").write_text(json.dumps(old))
    cfg = tiny_train_config(run_dir=str(tmp_path))
    legacy = dataclasses.replace(cfg, teacher=dataclasses.replace(cfg.teacher, feature_stride=3),
                                 student=dataclasses.replace(cfg.student, feature_stride=3), vtlp=0.0,
                                 corpus=dataclasses.replace(cfg.corpus, voice_set=1), sparsity_ramp=0.75,
                                 qat_self_kd_weight=0.0)
    Run(legacy, progress=False)                      # the defaults then: the same config
    with pytest.raises(ValueError, match=r"corpus\.voice_set: 1 -> 2; qat_self_kd_weight: 0\.0 -> 0\.5; "
                                         r"sparsity_ramp: 0\.75 -> 0\.4; student\.feature_stride: 3 -> 2; "
                                         r"teacher\.feature_stride: 3 -> 2; vtlp: 0\.0 -> 0\.1\)"):
        Run(cfg, progress=False)


def test_a_run_resumes_with_another_thread_count_but_not_another_recipe(tiny_corpus, tmp_path):
    import dataclasses
    from edgeasr.models.cli import tiny_train_config
    from edgeasr.models.train import Run
    cfg = tiny_train_config(run_dir=str(tmp_path))
    Run(cfg, progress=False)
    Run(dataclasses.replace(cfg, threads=cfg.threads + 1), progress=False)
    deeper = dataclasses.replace(cfg, student=dataclasses.replace(cfg.student, enc_layers=3))
    with pytest.raises(ValueError, match=r"student\.enc_layers: 2 -> 3\)"):
        Run(deeper, progress=False)


def test_train_resumes_a_run_with_its_saved_config(tmp_path):
    """`edgeasr train --run-dir DIR` continues DIR's run as it was made, whatever today's defaults;
    an option given again overrides it (and `Run` then refuses the mismatch)."""
    import argparse
    import dataclasses
    import json
    from edgeasr.models import cli
    saved = dataclasses.asdict(cli.tiny_train_config(run_dir=str(tmp_path)))
    del saved["vtlp"], saved["corpus"]["voice_set"]
    saved["teacher_epochs"] = 7
    (tmp_path / "config.json").write_text(json.dumps(saved))
    p = argparse.ArgumentParser()
    cli.add_parser(p.add_subparsers(dest="command"))
    cfg = cli.train_config(p.parse_args(["train", "--tiny", "--run-dir", str(tmp_path)]))
    assert (cfg.teacher_epochs, cfg.vtlp, cfg.corpus.voice_set) == (7, 0.0, 1)
    cfg = cli.train_config(p.parse_args(["train", "--tiny", "--run-dir", str(tmp_path), "--vtlp", "0.2",
                                         "--student-hidden", "48", "--student-layers", "3", "--threads", "2"]))
    assert (cfg.teacher_epochs, cfg.vtlp, cfg.student.enc_hidden, cfg.teacher.enc_hidden) == (7, 0.2, 48, 64)
    assert (cfg.student.enc_layers, cfg.teacher.enc_layers, cfg.threads) == (3, 2, 2)
    fresh = cli.train_config(p.parse_args(["train", "--tiny", "--run-dir", str(tmp_path / "new")]))
    assert (fresh.teacher_epochs, fresh.vtlp, fresh.corpus.voice_set) == (2, 0.1, 2)


def test_tiny_pipeline_runs_every_stage_through_the_data_worker(tiny_corpus, tmp_path):
    """`edgeasr train --tiny` up to evaluation: batches come from the forked data worker."""
    from edgeasr.models.cli import tiny_train_config
    from edgeasr.models.export import load_image
    from edgeasr.models.train import Run
    state = Run(tiny_train_config(run_dir=str(tmp_path)), progress=False).run(until="evaluate")
    assert state["done"] == ["teacher", "pseudo", "student_float", "student_q8", "student_q4s", "export", "evaluate"]
    assert all(h["steps"] == 3 for h in state["history"]["teacher"])
    assert state["golden_agreement"] == {"dev": 1.0, "test": 1.0}
    from edgeasr.models.corpus.build import load_split
    from edgeasr.models.corpus.tts import FLITE_VOICES
    test_voices = {u.voice["name"] for u in load_split(tiny_corpus, "test")}
    assert test_voices <= set(FLITE_VOICES)
    for label, wers in state["wer"].items():
        per_voice = state["test_wer_by_voice"][label]
        assert set(per_voice) == test_voices, label
        assert min(per_voice.values()) <= wers["test"] <= max(per_voice.values()), label
    for stage in ("student_q8", "student_q4s"):      # QAT learns from the float student on every batch
        assert all(h["self_kd"] > 0 for h in state["history"][stage]), stage
    assert state["history"]["student_q4s"][-1]["mask_sparsity"] == pytest.approx(0.5, abs=0.01)
    assert load_image(str(tmp_path / "student_q4s.npz")).config.feature_stride == 2
