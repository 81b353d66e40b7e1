"""Teacher-student training of the on-device RNN-T, with QAT and gradual sparsification.

Stages, run in order; each checkpoints every epoch under `<run_dir>/` and a finished stage is
skipped on resume:
  teacher       float teacher on the labelled train split (RNN-T + auxiliary CTC).
  pseudo        the teacher's greedy transcripts of the `pool` split (its own transcripts unused).
  student_float float student on train + pool. Train batches: RNN-T + CTC on the true
                transcripts. Pool batches: RNN-T + CTC on the teacher's pseudo transcripts + KD,
                the KL divergence from the teacher's output distribution at every node of the
                alignment lattice of the pseudo transcript.
  student_q8    from student_float: 8-bit weight fake quantization (STE), grid regularizer, hard
                snap to the grid at each epoch end, KD from the float student on every batch; the
                last `act_qat_steps` steps also quantize every activation exactly as the device does.
  student_q4s   from student_float: 4-bit fake quantization + the same regularizer, snaps and KD,
                and the cubic sparsity schedule to `sparsity` (lane-balanced, NEP_LANES), exact from
                `sparsity_ramp` of the stage on; pruned weights stay zero.
  export        both QAT students in NEP formats (`export`), saved as student_q8.npz and
                student_q4s.npz; image sizes against the teacher's float32 size.
  evaluate      WER (jiwer) on dev (training voices) and test (held-out flite voices, held-out
                sentences) for every model; the quantized students are scored in exact mode (the
                exported integers, requantization multipliers and LUTs: `quant`), and the integer
                golden RNN-T runs the 4-bit image; its 1-best is compared with the fake-quant model's.
  publish       (full corpus only) copies the images, config and report to models/artifacts/.
Everything random is seeded from `seed`; training data are augmented afresh each epoch, the float
stages with a strength that ramps from clean to full over `augment_ramp_epochs`.
QAT stages train with fake-quantized weights and biases and float activations (torch's fused LSTM
kernel) for all but their last `act_qat_steps` steps, which run the exact per-step forward pass
(~6x slower per batch: measured 2.5 s vs 0.42 s forward + backward, batch 16, 1.5 s of audio).
"""

import dataclasses
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from . import quant as Q
from .corpus.build import CorpusConfig, build_corpus, load_split
from .corpus import augment as aug
from .data import epoch_batches, eval_batches
from .prefetch import prefetched
from .rnnt import BLANK, ModelConfig, TIME_REDUCTION, Transducer, decode_tokens, num_params
from .rnnt_loss import rnnt_loss
from .sparsity import NEP_LANES, SparsitySchedule, balanced_mask, sparsity_of

STAGES = ["teacher", "pseudo", "student_float", "student_q8", "student_q4s", "export", "evaluate", "publish"]
ARTIFACTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "artifacts")


@dataclasses.dataclass
class TrainConfig:
    corpus: CorpusConfig = dataclasses.field(default_factory=CorpusConfig)
    run_dir: str = ""
    seed: int = 0
    batch_size: int = 16
    # Feature stride 2 (20 ms encoder inputs, 40 ms encoder steps): at the old 3 (60 ms steps) the
    # training voices speak ~1 character per encoder step (median), CTC is infeasible for 46% of
    # training utterances, and in an 800-step A/B of a small model stride 2 reached dev/test WER
    # 85.4/92.1% against 90.2/95.2%.
    teacher: ModelConfig = ModelConfig(kind="teacher", enc_hidden=256, enc_layers=3, embed=64,
                                       pred_hidden=192, joint=256, feature_stride=2)
    student: ModelConfig = ModelConfig(feature_stride=2)
    # The committed model's recipe. Measured at stride 2 on this 2-core machine with one thread,
    # sharing it: teacher ~9-11 min/epoch, student ~6 min, 8-bit QAT ~11 min, 4-bit ~7 min (the
    # last QAT epoch ~11 with exact activations): ~3.5 h in all, over two sessions (it resumes).
    # With --threads 2 and the machine otherwise idle: teacher 4.0-4.7 min/epoch, a three-layer
    # student 4.6-5.1 min (both 2-7x slower while anything else runs: the two threads wait on
    # each other).
    teacher_epochs: int = 10
    student_epochs: int = 6
    q8_epochs: int = 1
    q4_epochs: int = 8
    lr: float = 2e-3
    qat_lr: float = 5e-4
    warmup_steps: int = 300
    ctc_weight: float = 0.3
    kd_weight: float = 0.5
    grid_reg_weight: float = 0.05
    sparsity: float = 0.5
    # The 4-bit stage's cubic schedule reaches `sparsity` at this fraction of the stage; the rest
    # trains at the final mask. 0.75 with 4 epochs left the 4-bit student 5.9 dev points behind the
    # float student: one epoch at 50% was not enough to recover from the pruning (pruning the float
    # student to 50% without retraining: dev WER 51.9% -> 79.3%).
    sparsity_ramp: float = 0.4
    # QAT stages also learn, on every batch, the float student's output distribution at every node
    # of the alignment lattice (self-distillation toward the model they must stay within 1 point of).
    qat_self_kd_weight: float = 0.5
    augment_ramp_epochs: int = 4          # float stages: augmentation strength epoch / this
    # VTLP warp range (`data.vtlp_factor`): the held-out voices are other speakers; runs made before
    # the option existed used 0.
    vtlp: float = 0.1
    # Share of utterances re-spoken through the LPC vocoder (`corpus.vocoder`) each epoch. The
    # committed student on 200 dev utterances: 59.1% WER, 73.1% re-spoken (held-out voices: 71%).
    # Fine-tuning that student 600 steps with 0.5 / without: dev 57.6 / 58.2%, held-out 70.0 / 71.0%
    # (within noise). A teacher of 8 epochs with 0.3: dev 38.1%, held-out 61.9%, behind the 10-epoch
    # teacher without it (31.0 / 56.5%). Off by default.
    vocoder: float = 0.0
    max_steps_per_epoch: int = 0          # 0 = all; tests use a few
    # QAT stages: the last this-many steps of the last epoch also quantize every activation exactly as
    # the NEP does (`set_qat(..., activations=True)`, ~3x slower per step than weight-only QAT).
    act_qat_steps: int = 100
    # One thread: on this shared 2-core machine, under load, 2 threads spin-wait on each other
    # (measured: 1.2 s vs 14-27 s wall per teacher step at nice 19 with a load of 8-10).
    threads: int = 1

    def __post_init__(self):
        if self.teacher.feature_stride != self.student.feature_stride:
            raise ValueError(f"teacher and student see the same features: feature_stride "
                             f"{self.teacher.feature_stride} != {self.student.feature_stride}")

    @classmethod
    def from_json(cls, d: dict) -> "TrainConfig":
        # saved before these options existed: made without them
        d = {"vtlp": 0.0, "sparsity_ramp": 0.75, "qat_self_kd_weight": 0.0, **d}
        d["corpus"] = CorpusConfig.from_dict(d["corpus"])
        d["teacher"] = ModelConfig(**d["teacher"])
        d["student"] = ModelConfig(**d["student"])
        return cls(**d)


def _config_diff(saved: dict, given: dict, where: str = "") -> list[str]:
    """'key: saved -> given' for every leaf that differs."""
    out = []
    for k in sorted(set(saved) | set(given)):
        a, b = saved.get(k), given.get(k)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _config_diff(a, b, f"{where}{k}.")
        elif a != b:
            out.append(f"{where}{k}: {a!r} -> {b!r}")
    return out


def _ctc_loss(model, enc, batch):
    """Auxiliary CTC loss per utterance (summed over its labels, like the RNN-T loss: torch's
    "mean" divides by target length, which left CTC ~30x weaker than intended and the encoder
    stuck at the guess-the-text plateau)."""
    lp = torch.log_softmax(model.ctc_head(enc), dim=-1).transpose(0, 1)
    T = torch.clamp(batch.frames // TIME_REDUCTION, max=enc.shape[1])
    return F.ctc_loss(lp, batch.targets, T, batch.labels, blank=BLANK, reduction="sum",
                      zero_infinity=True) / len(batch.labels)


def _kd_loss(student_logits, teacher_logits, batch):
    """Mean over valid lattice nodes of KL(teacher || student)."""
    T = student_logits.shape[1]
    t_ok = torch.arange(T)[None, :] < (batch.frames // TIME_REDUCTION)[:, None]
    u_ok = torch.arange(student_logits.shape[2])[None, :] <= batch.labels[:, None]
    m = (t_ok[:, :, None] & u_ok[:, None, :]).float()
    lt = torch.log_softmax(teacher_logits, -1)
    kl = (lt.exp() * (lt - torch.log_softmax(student_logits, -1))).sum(-1)
    return (kl * m).sum() / m.sum()


def _lr(cfg_lr, step, warmup, total):
    if step < warmup:
        return cfg_lr * (step + 1) / warmup
    p = min(1.0, (step - warmup) / max(1, total - warmup))
    return cfg_lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * p)))


GOLDEN_LABEL = "integer golden (4-bit, 50% sparse)"


class Run:
    """Owns the run directory, data and models; `run()` executes the remaining stages."""

    def __init__(self, cfg: TrainConfig, progress: bool = True, data_worker: bool = True):
        self.cfg = cfg
        self.progress = progress
        self.data_worker = data_worker      # augment and featurize in a child process (`prefetch`)
        os.makedirs(cfg.run_dir, exist_ok=True)
        path = os.path.join(cfg.run_dir, "config.json")
        if os.path.exists(path):
            saved = json.load(open(path))
            # through from_json, so an option added since the run started compares at its default;
            # the thread count is how fast the run goes, not what it makes
            diff = _config_diff(dataclasses.asdict(dataclasses.replace(TrainConfig.from_json(saved), threads=cfg.threads)),
                                dataclasses.asdict(cfg))
            if diff:
                raise ValueError(f"{path} holds a different config ({'; '.join(diff)}); use a new --run-dir "
                                 f"or the same options")
        else:
            json.dump(dataclasses.asdict(cfg), open(path, "w"), indent=1)
        torch.set_num_threads(cfg.threads)
        self.corpus_dir = build_corpus(cfg.corpus, progress=progress)
        self._splits = {}
        self.state_path = os.path.join(cfg.run_dir, "state.json")
        self.state = json.load(open(self.state_path)) if os.path.exists(self.state_path) else \
            {"done": [], "history": {}}

    def split(self, name):
        if name not in self._splits:
            self._splits[name] = load_split(self.corpus_dir, name)
        return self._splits[name]

    def _save_state(self):
        tmp = self.state_path + ".tmp"
        json.dump(self.state, open(tmp, "w"), indent=1)
        os.replace(tmp, self.state_path)

    def path(self, name):
        return os.path.join(self.cfg.run_dir, name)

    def log(self, msg):
        with open(self.path("train.log"), "a") as f:
            f.write(time.strftime("%H:%M:%S ") + msg + "\n")
        if self.progress:
            tqdm.write(msg)

    # --- models ---------------------------------------------------------------------------------
    def new_model(self, which: str) -> Transducer:
        torch.manual_seed(self.cfg.seed + (0 if which == "teacher" else 1))
        return Transducer(self.cfg.teacher if which == "teacher" else self.cfg.student)

    def load_model(self, stage: str) -> Transducer:
        ck = torch.load(self.path(f"{stage}.pt"), weights_only=False)
        m = self.new_model("teacher" if stage == "teacher" else "student")
        m.load_state_dict(ck["model"])
        if ck.get("qat_bits"):
            m.set_qat(ck["qat_bits"], activations=False)
        m.eval()
        return m

    # --- one training stage ---------------------------------------------------------------------
    def train_stage(self, stage: str, model: Transducer, epochs: int, lr: float, teacher=None,
                    qat_bits=None, schedule: SparsitySchedule | None = None, reference=None):
        """`teacher`: KD on pool batches; `reference`: KD on every batch (QAT from the float student)."""
        cfg = self.cfg
        train = self.split("train")
        waves, texts = [u.audio for u in train], [u.text for u in train]
        pool_texts = None
        if teacher is not None:
            pool = self.split("pool")
            pool_waves = [u.audio for u in pool]
            pool_texts = json.load(open(self.path("pool_labels.json")))
        if qat_bits:
            model.set_qat(qat_bits, activations=False)
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        steps_per_epoch = -(-len(waves) // cfg.batch_size) + \
            (-(-len(pool_texts) // cfg.batch_size) if pool_texts else 0)
        if cfg.max_steps_per_epoch:
            steps_per_epoch = min(steps_per_epoch, cfg.max_steps_per_epoch)
        total = epochs * steps_per_epoch
        hist = self.state["history"].setdefault(stage, [])
        start_epoch = 0
        ck_path = self.path(f"{stage}.epoch.pt")
        if os.path.exists(ck_path):
            ck = torch.load(ck_path, weights_only=False)
            model.load_state_dict(ck["model"])
            opt.load_state_dict(ck["opt"])
            start_epoch = ck["epoch"] + 1
            del hist[start_epoch:]
            self.log(f"{stage}: resumed after epoch {ck['epoch']}")
        mats = model.matrices() if model.cfg.kind == "student" else {}
        for epoch in range(start_epoch, epochs):
            model.train()
            strength = 1.0 if qat_bits or not cfg.augment_ramp_epochs else epoch / cfg.augment_ramp_epochs

            def epoch_data(epoch=epoch, strength=strength):
                """(stream, batch) in training order: stream 0 is train, 1 the teacher's pool."""
                streams = [epoch_batches(waves, texts, cfg.batch_size, cfg.seed, epoch, 0, strength=strength,
                                         stride=model.cfg.feature_stride, vtlp=cfg.vtlp,
                                         vocoder=cfg.vocoder)]
                if pool_texts:
                    streams.append(epoch_batches(pool_waves, pool_texts, cfg.batch_size, cfg.seed, epoch, 1,
                                                 strength=strength, stride=model.cfg.feature_stride,
                                                 vtlp=cfg.vtlp, vocoder=cfg.vocoder))
                order = np.random.default_rng([cfg.seed, epoch, 2]).permutation(
                    np.repeat(np.arange(len(streams)),
                              [-(-len(waves) // cfg.batch_size)] +
                              ([-(-len(pool_texts) // cfg.batch_size)] if pool_texts else [])))
                for s_i in order[:steps_per_epoch]:
                    yield int(s_i), next(streams[s_i])

            sums = {"loss": 0.0, "rnnt": 0.0, "ctc": 0.0, "kd": 0.0, "self_kd": 0.0, "reg": 0.0}
            n = 0
            bar = tqdm(prefetched(epoch_data) if self.data_worker else epoch_data(), total=steps_per_epoch,
                       desc=f"{stage} {epoch + 1}/{epochs}", disable=not self.progress, unit="batch", leave=False)
            t0 = time.time()
            act_from = steps_per_epoch - cfg.act_qat_steps if qat_bits and epoch == epochs - 1 else None
            for s_i, batch in bar:
                step = epoch * steps_per_epoch + n
                if act_from is not None and n == max(act_from, 0):
                    model.set_qat(qat_bits, activations=True)
                for g in opt.param_groups:
                    g["lr"] = _lr(lr, step, cfg.warmup_steps if not qat_bits else 50, total)
                if schedule is not None and (n % 20 == 0):
                    self._apply_masks(mats, schedule.target(step))
                logits, enc = model(batch.feats, batch.targets)
                T = batch.frames // TIME_REDUCTION
                l_rnnt = rnnt_loss(logits, batch.targets, T, batch.labels)
                l_ctc = _ctc_loss(model, enc, batch)
                loss = l_rnnt + cfg.ctc_weight * l_ctc
                parts = {"rnnt": l_rnnt.item(), "ctc": l_ctc.item()}
                if teacher is not None and s_i == 1:
                    with torch.no_grad():
                        t_logits, _ = teacher(batch.feats, batch.targets)
                    l_kd = _kd_loss(logits, t_logits, batch)
                    loss = loss + cfg.kd_weight * l_kd
                    parts["kd"] = l_kd.item()
                if reference is not None and cfg.qat_self_kd_weight:
                    with torch.no_grad():
                        r_logits, _ = reference(batch.feats, batch.targets)
                    l_self = _kd_loss(logits, r_logits, batch)
                    loss = loss + cfg.qat_self_kd_weight * l_self
                    parts["self_kd"] = l_self.item()
                if qat_bits:
                    reg = sum(Q.grid_regularizer(m.weight, qat_bits, m.mask) for m in mats.values()) / len(mats)
                    loss = loss + cfg.grid_reg_weight * reg
                    parts["reg"] = reg.item()
                opt.zero_grad()
                loss.backward()
                for m in mats.values():
                    m.weight.grad *= m.mask
                torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
                opt.step()
                with torch.no_grad():
                    for m in mats.values():
                        m.weight.mul_(m.mask)
                sums["loss"] += loss.item()
                for k, v in parts.items():
                    sums[k] += v
                n += 1
                bar.set_postfix(loss=f"{sums['loss'] / n:.3f}", rnnt=f"{sums['rnnt'] / n:.3f}")
            if schedule is not None:
                self._apply_masks(mats, schedule.target((epoch + 1) * steps_per_epoch))
            rec = {k: v / max(n, 1) for k, v in sums.items()}
            if qat_bits:
                rec["distance_to_grid_before_snap"] = float(np.mean(
                    [Q.distance_to_grid(m.weight, qat_bits, m.mask).item() for m in mats.values()]))
                for m in mats.values():
                    Q.snap_to_grid_(m.weight, qat_bits)
            rec.update(epoch=epoch, seconds=round(time.time() - t0, 1), steps=n, augment_strength=min(strength, 1.0))
            if act_from is not None:
                rec["activation_qat_steps"] = n - max(act_from, 0)
                model.set_qat(qat_bits, activations=False)
            if mats:
                rec["sparsity"] = float(np.mean([sparsity_of(m.weight) for m in mats.values()]))
                rec["mask_sparsity"] = float(np.mean([float((m.mask == 0).float().mean()) for m in mats.values()]))
                rec["distance_to_grid_8"] = float(np.mean([Q.distance_to_grid(m.weight, 8, m.mask).item()
                                                           for m in mats.values()]))
                rec["distance_to_grid_4"] = float(np.mean([Q.distance_to_grid(m.weight, 4, m.mask).item()
                                                           for m in mats.values()]))
            hist.append(rec)
            self.log(f"{stage} epoch {epoch + 1}/{epochs}: " +
                     " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in rec.items()))
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "epoch": epoch},
                       ck_path + ".tmp")
            os.replace(ck_path + ".tmp", ck_path)
            self._save_state()
        torch.save({"model": model.state_dict(), "qat_bits": qat_bits}, self.path(f"{stage}.pt"))
        return model

    @staticmethod
    def _apply_masks(mats, target):
        with torch.no_grad():
            for m in mats.values():
                m.mask.copy_(balanced_mask(m.weight * m.mask, target, NEP_LANES))
                m.weight.mul_(m.mask)

    # --- stages ---------------------------------------------------------------------------------
    def stage_teacher(self):
        m = self.new_model("teacher")
        self.log(f"teacher: {num_params(m)} parameters")
        self.train_stage("teacher", m, self.cfg.teacher_epochs, self.cfg.lr)

    def stage_pseudo(self):
        teacher = self.load_model("teacher")
        pool = self.split("pool")
        rng_waves = [aug.augment(u.audio, np.random.default_rng([self.cfg.seed, 99, i]))[0]
                     for i, u in enumerate(pool)]
        hyps = decode(teacher, rng_waves, progress=self.progress, desc="pseudo labels")
        json.dump(hyps, open(self.path("pool_labels.json"), "w"))
        wer = word_error_rate([u.text for u in pool], hyps)
        self.state["pool_pseudo_label_wer"] = wer
        self.log(f"pseudo: {len(hyps)} pool transcripts from the teacher (their WER against the unused truth: {wer:.3f})")

    def stage_student_float(self):
        teacher = self.load_model("teacher")
        m = self.new_model("student")
        self.log(f"student: {num_params(m)} parameters, {num_params(m, exported_only=True)} exported")
        self.train_stage("student_float", m, self.cfg.student_epochs, self.cfg.lr, teacher=teacher)

    def stage_student_q8(self):
        teacher = self.load_model("teacher")
        m = self.load_model("student_float")
        self.train_stage("student_q8", m, self.cfg.q8_epochs, self.cfg.qat_lr, teacher=teacher, qat_bits=8,
                         reference=self.load_model("student_float"))

    def stage_student_q4s(self):
        teacher = self.load_model("teacher")
        m = self.load_model("student_float")
        steps = self.cfg.q4_epochs * (self.cfg.max_steps_per_epoch or
                                      (-(-len(self.split("train")) // self.cfg.batch_size) +
                                       -(-len(self.split("pool")) // self.cfg.batch_size)))
        sched = SparsitySchedule(self.cfg.sparsity, 0, int(self.cfg.sparsity_ramp * steps))
        self.train_stage("student_q4s", m, self.cfg.q4_epochs, self.cfg.qat_lr, teacher=teacher,
                         qat_bits=4, schedule=sched, reference=self.load_model("student_float"))

    def stage_export(self):
        from .export import export_student, save_image, sizes
        teacher = self.load_model("teacher")
        for stage, bits in (("student_q8", 8), ("student_q4s", 4)):
            ex = export_student(self.load_model(stage), bits)
            save_image(ex, self.path(f"{stage}.npz"))
            self.state.setdefault("sizes", {})[stage] = sizes(ex, teacher)
            self.log(f"export {stage}: {self.state['sizes'][stage]}")

    def stage_evaluate(self):
        from .export import load_image
        from .features import encoder_input
        from .golden_rnnt import GoldenRnnt
        from .report import write_report
        results, by_voice = {}, {}
        for stage, label, act in [("teacher", "teacher float", False),
                                  ("student_float", "student float", False),
                                  ("student_q8", "student 8-bit QAT", True),
                                  ("student_q4s", "student 4-bit QAT + 50% sparse", True)]:
            m = self.load_model(stage)
            if act:             # exact: the device's integers, so the golden must agree bit for bit
                m.set_qat(m.qat_bits, activations=True)
            results[label] = {}
            for split in ("dev", "test"):
                utts = self.split(split)
                hyps = decode(m, [u.audio for u in utts], progress=self.progress, desc=f"{label} {split}")
                results[label][split] = word_error_rate([u.text for u in utts], hyps)
                if split == "test":
                    by_voice.setdefault(label, {}).update(wer_by_voice(utts, hyps))
                if stage == "student_q4s":
                    fq_hyps = hyps
                    golden = GoldenRnnt(load_image(self.path("student_q4s.npz")))
                    g_hyps = [decode_tokens(golden.greedy_search(encoder_input(u.audio, self.cfg.student.feature_stride)))
                              for u in tqdm(utts, desc=f"integer golden {split}", disable=not self.progress,
                                            leave=False)]
                    results.setdefault(GOLDEN_LABEL, {})[split] = word_error_rate([u.text for u in utts], g_hyps)
                    if split == "test":
                        by_voice[GOLDEN_LABEL] = wer_by_voice(utts, g_hyps)
                    self.state.setdefault("golden_agreement", {})[split] = \
                        float(np.mean([a == b for a, b in zip(fq_hyps, g_hyps)]))
            self.log(f"evaluate {label}: " + " ".join(f"{k}={v:.4f}" for k, v in results[label].items()))
        self.log(f"integer golden 1-best equal to fake-quant: {self.state.get('golden_agreement')}")
        self.state["wer"] = results
        self.state["test_wer_by_voice"] = by_voice
        self._save_state()
        write_report(self.cfg.run_dir, self.state)

    def stage_publish(self):
        """Copy the exported students and the report into models/artifacts (full corpus only:
        these are the committed, reproducible artifacts)."""
        if self.cfg.corpus.name != "full":
            self.log("publish: skipped (not the full corpus)")
            return
        import shutil
        os.makedirs(ARTIFACTS_DIR, exist_ok=True)
        for name in ("student_q4s.npz", "report.json", "report.png", "config.json"):   # q8: in the run dir
            shutil.copy(self.path(name), os.path.join(ARTIFACTS_DIR, name))
        self.log(f"publish: artifacts in {ARTIFACTS_DIR}")

    def run(self, until: str | None = None):
        for stage in STAGES:
            if stage in self.state["done"]:
                continue
            getattr(self, f"stage_{stage}")()
            self.state["done"].append(stage)
            self._save_state()
            if stage == until:
                break
        return self.state


def decode(model: Transducer, waves, progress=False, desc="decode", batch_size=32) -> list[str]:
    model.eval()
    dtype = next(model.parameters()).dtype
    out = [""] * len(waves)
    batches = list(eval_batches(waves, batch_size, model.cfg.feature_stride))
    for b in tqdm(batches, desc=desc, disable=not progress, leave=False):
        hyps = model.greedy_search(b.feats.to(dtype), b.frames)
        for i, h in zip(b.index, hyps):
            out[i] = decode_tokens(h)
    return out


def wer_by_voice(utts, hyps: list[str]) -> dict[str, float]:
    """WER per voice name (the held-out flite voices differ by tens of points: kal16 is a training
    speaker through another engine, awb, rms and slt are not)."""
    groups = {}
    for u, h in zip(utts, hyps):
        refs, out = groups.setdefault(u.voice["name"], ([], []))
        refs.append(u.text)
        out.append(h)
    return {v: word_error_rate(r, h) for v, (r, h) in sorted(groups.items())}


def word_error_rate(refs: list[str], hyps: list[str]) -> float:
    import jiwer
    hyps = [h if h.strip() else "<empty>" for h in hyps]
    return float(jiwer.wer(refs, hyps))
