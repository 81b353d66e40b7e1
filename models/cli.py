"""`edgeasr corpus` and `edgeasr train`: the command-line front of models/.

The main CLI (host/cli.py) calls `add_parser(subparsers)` once and, for a parsed command whose
`models_command` attribute is set, `run(args)`. `python -m edgeasr.models.cli ...` works alone.

  edgeasr corpus [--tiny] [--seed N] [--voice-set N] [--workers N] [--json]
  edgeasr train  [--tiny] [--seed N] [--voice-set N] [--run-dir DIR] [--until STAGE] [--teacher-epochs N]
                 [--student-epochs N] [--q8-epochs N] [--q4-epochs N] [--max-steps-per-epoch N]
                 [--feature-stride N] [--student-hidden N] [--student-layers N] [--vtlp X] [--threads N]
                 [--no-data-worker] [--status] [--json]
`train` resumes whatever a previous call left in DIR (default data/runs/<corpus>-seed<N>), stage
by stage and epoch by epoch, with the config saved there: options given again must agree with it
(`--threads` excepted: how fast it runs, not what it makes).
"""

import argparse
import dataclasses
import json
import os
import sys

from .corpus.build import DATA_DIR, SPLITS, CorpusConfig, build_corpus
from .corpus.tts import VOICE_SETS



def _corpus_config(args) -> CorpusConfig:
    cfg = CorpusConfig.tiny(args.seed) if args.tiny else CorpusConfig(seed=args.seed)
    return cfg if args.voice_set is None else dataclasses.replace(cfg, voice_set=args.voice_set)


def _add_voice_set(p) -> None:
    p.add_argument("--voice-set", type=int, default=None, choices=VOICE_SETS,
                   help="training voices (models/corpus/tts.py; default 2; corpora and runs made "
                        "before the option existed used 1)")


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("corpus", help="synthesize the speech corpus (cached under data/)")
    p.add_argument("--tiny", action="store_true", help="the few-dozen-utterance CI slice")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    _add_voice_set(p)
    p.set_defaults(models_command="corpus")

    t = subparsers.add_parser("train", help="train teacher and student RNN-T (resumable)")
    t.add_argument("--tiny", action="store_true", help="tiny corpus and models (CI smoke run)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--run-dir", default=None)
    t.add_argument("--until", default=None, help="stop after this stage")
    for name in ("teacher-epochs", "student-epochs", "q8-epochs", "q4-epochs", "max-steps-per-epoch"):
        t.add_argument(f"--{name}", type=int, default=None)
    t.add_argument("--feature-stride", type=int, default=None,
                   help="10 ms frames between encoder inputs, teacher and student (default 2; runs "
                        "started before the option existed used 3)")
    t.add_argument("--student-hidden", type=int, default=None,
                   help="the student's encoder LSTM width (default 160; wider does not fit the default core's "
                        "mask memory: 176 needs 4381 of its 4096 words)")
    t.add_argument("--student-layers", type=int, default=None,
                   help="the student's encoder LSTM layers (default 2; 3 at width 160 fills the default "
                        "core's mask memory, 4061 of 4096 words, and 4.5%% of the teacher's float size)")
    t.add_argument("--threads", type=int, default=None,
                   help="torch threads (default 1; an execution setting, not part of the recipe: a run "
                        "resumes with any)")
    _add_voice_set(t)
    t.add_argument("--vtlp", type=float, default=None,
                   help="VTLP warp range, 0 for none (default 0.1; runs started before the option existed used 0)")
    t.add_argument("--vocoder", type=float, default=None,
                   help="share of training utterances re-spoken through the LPC vocoder each epoch (default 0)")
    t.add_argument("--no-data-worker", action="store_true",
                   help="augment and featurize in the training process, not a child process")
    t.add_argument("--status", action="store_true", help="report the run's progress; do not train")
    t.add_argument("--json", action="store_true", help="machine-readable output")
    t.set_defaults(models_command="train")


def tiny_train_config(seed: int = 0, run_dir: str = "") -> "TrainConfig":
    from .rnnt import ModelConfig
    from .train import TrainConfig
    return TrainConfig(corpus=CorpusConfig.tiny(seed), run_dir=run_dir, seed=seed,
                       teacher=ModelConfig(kind="teacher", enc_hidden=64, enc_layers=2, embed=16,
                                           pred_hidden=32, joint=48, feature_stride=2),
                       student=ModelConfig(enc_hidden=32, enc_layers=2, embed=32, pred_hidden=32, joint=32,
                                           feature_stride=2),
                       teacher_epochs=2, student_epochs=2, q8_epochs=1, q4_epochs=2,
                       max_steps_per_epoch=3, warmup_steps=2)


def run(args) -> int:
    if args.models_command == "corpus":
        cfg = _corpus_config(args)
        path = build_corpus(cfg, workers=args.workers, progress=not args.json)
        counts = {s: sum(1 for _ in open(os.path.join(path, f"{s}.jsonl"))) for s in SPLITS}
        if args.json:
            print(json.dumps({"path": path, "config": dataclasses.asdict(cfg), "utterances": counts}))
        else:
            print(f"corpus {path}")
            for s, n in counts.items():
                print(f"  {s:<10} {n:>6} utterances")
        return 0
    if args.models_command == "train":
        from .train import Run
        cfg = train_config(args)
        run_dir = cfg.run_dir
        if args.status:
            return _status(run_dir, args.json)
        state = Run(cfg, progress=not args.json, data_worker=not args.no_data_worker).run(until=args.until)
        if args.json:
            print(json.dumps({"run_dir": run_dir, "done": state["done"], "wer": state.get("wer")}))
        else:
            print(f"run {run_dir}: stages done {', '.join(state['done'])}")
            for label, w in (state.get("wer") or {}).items():
                print(f"  {label:<34} dev {w['dev'] * 100:6.2f}%  test {w['test'] * 100:6.2f}%")
        return 0
    raise ValueError(f"unknown models command {args.models_command!r}; expected corpus or train")


def train_config(args) -> "TrainConfig":
    """The config `train` runs: the defaults, or the run directory's saved config when it has one
    (so a run resumes as it was made), with the options given on the command line."""
    from .train import TrainConfig
    cfg = _train_overrides(tiny_train_config(args.seed) if args.tiny else TrainConfig(seed=args.seed), args)
    run_dir = args.run_dir or os.path.join(DATA_DIR, "runs", f"{cfg.corpus.key()}-seed{cfg.seed}")
    saved = os.path.join(run_dir, "config.json")
    if os.path.exists(saved):
        cfg = _train_overrides(TrainConfig.from_json(json.load(open(saved))), args)
    return dataclasses.replace(cfg, run_dir=run_dir)


def _train_overrides(cfg, args):
    """`cfg` with the options given on the command line."""
    over = {k: getattr(args, k) for k in ("teacher_epochs", "student_epochs", "q8_epochs", "q4_epochs",
                                          "max_steps_per_epoch", "vtlp", "vocoder") if getattr(args, k) is not None}
    cfg = dataclasses.replace(cfg, **over)
    if args.voice_set is not None:
        cfg = dataclasses.replace(cfg, corpus=dataclasses.replace(cfg.corpus, voice_set=args.voice_set))
    if args.feature_stride is not None:
        cfg = dataclasses.replace(cfg, teacher=dataclasses.replace(cfg.teacher, feature_stride=args.feature_stride),
                                  student=dataclasses.replace(cfg.student, feature_stride=args.feature_stride))
    if args.student_hidden is not None:
        cfg = dataclasses.replace(cfg, student=dataclasses.replace(cfg.student, enc_hidden=args.student_hidden))
    if args.student_layers is not None:
        cfg = dataclasses.replace(cfg, student=dataclasses.replace(cfg.student, enc_layers=args.student_layers))
    if args.threads is not None:
        cfg = dataclasses.replace(cfg, threads=args.threads)
    return cfg


def _status(run_dir: str, as_json: bool) -> int:
    path = os.path.join(run_dir, "state.json")
    state = json.load(open(path)) if os.path.exists(path) else {"done": [], "history": {}}
    last = {k: v[-1] for k, v in state.get("history", {}).items() if v}
    if as_json:
        print(json.dumps({"run_dir": run_dir, "done": state["done"], "last_epoch": last,
                          "wer": state.get("wer")}))
        return 0
    print(f"run {run_dir}")
    print(f"  stages done: {', '.join(state['done']) or 'none'}")
    for stage, rec in last.items():
        print(f"  {stage:<14} epoch {rec['epoch'] + 1}: rnnt {rec['rnnt']:.3f}  ctc {rec['ctc']:.3f}"
              + (f"  sparsity {rec['sparsity']:.3f}" if "sparsity" in rec else "") + f"  ({rec['seconds']:.0f} s)")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="edgeasr")
    add_parser(parser.add_subparsers(dest="command", required=True))
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
