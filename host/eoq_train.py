"""Train and calibrate the end-of-query detector on decodings of a corpus split.

    edgeasr eoq train [--model NPZ] [--corpus DIR] [--split dev] [--limit N] [--device reference]
                      [--max-early 0.01] [--lead-s 0.2] [-o models/artifacts/eoq.json]
                      [--beam 16] [--lm NPZ|none] [--lm-weight W] [--length-bonus B] [--lm-ilm-weight W]

Each utterance (a training-engine split: the held-out flite voices stay out) is decoded once with
end-pointing off, padded with silence, by the recognizer's search (the same search options as
`transcribe`), by default on `host.reference_rnnt` (the integer golden
model, bit-exact with the device and 5-10x faster than the golden device); every step becomes a labelled example (has the
speech ended by this step?). The first half of the utterances fits the logistic regression, the
second half calibrates the threshold: the lowest whose early cut-off rate stays within
`--max-early` for the final end-pointer, which waits `--lead-s` (in whole steps) past the first
step over it, where the speculative one fires. The end-word table comes from the training transcripts.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

from .endpoint_eval import replay
from .endpointer import FINAL, SPECULATIVE, Endpointer
from .eoq import FEATURES, EoqDetector, StepInfo, end_word_table, fit_logistic

GRID = np.concatenate([np.round(np.arange(0.02, 0.99, 0.01), 2), [0.985, 0.99, 0.995, 0.998, 0.999, 0.9995]])
Trace = list[tuple[float, StepInfo]]


def decode_traces(rnnt, utts, pad_silence_s: float = 3.0, progress: bool = True, search=None,
                  lm=None) -> list[Trace]:
    """One decoding per utterance, end-pointing off, with `pad_silence_s` of silence after it, by the
    search the recognizer will run (`search`: a BeamSearchConfig, default beam 4; `lm`: its LM)."""
    from tqdm import tqdm
    from .beam_search import BeamSearchConfig
    from .recognizer import RecognizerConfig, transcribe
    config = RecognizerConfig(search or BeamSearchConfig(), endpoint=None, speculative=None, lm=lm)
    return [transcribe(rnnt, np.concatenate([u.audio, np.zeros(int(pad_silence_s * 16000), np.float32)]),
                       config).trace
            for u in tqdm(utts, desc="decode", unit="utt", disable=not progress)]


def examples(detector: EoqDetector, traces: list[Trace], ends: list[float]) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for trace, end in zip(traces, ends):
        tracker = detector.tracker()
        for _, step in trace:
            xs.append(tracker.features(step))
            ys.append(float(step.time_s >= end))
    return np.array(xs), np.array(ys)


def _first(times: list[float], probs: list[float], threshold: float, hold: int, fallback: float | None) -> float | None:
    """When P >= threshold has held for more than `hold` steps (or the fallback fired first)."""
    run, t = 0, None
    for time_s, p in zip(times, probs):
        run = run + 1 if p >= threshold else 0
        if run > hold:
            t = time_s
            break
    return t if fallback is None or (t is not None and t <= fallback) else fallback


def calibrate(detector: EoqDetector, traces: list[Trace], ends: list[float], max_early: float = 0.01,
              lead_s: float = 0.2) -> tuple[float, int, dict]:
    """(threshold, final hold in steps, what they achieve on these traces): the speculative
    end-pointer fires at the first step over the threshold, the final one `lead_s` of steps later."""
    step_s = next(trace[0][1].time_s for trace in traces if trace)   # the first step ends one step in
    hold = int(np.ceil(lead_s / step_s - 1e-9))
    per = []
    for trace in traces:
        tracker = detector.tracker()
        probs = [tracker.update(step) for _, step in trace]
        times = [now for now, _ in trace]
        per.append((times, probs, replay(trace, Endpointer(FINAL.safety_net(), None)).final_s,
                    replay(trace, Endpointer(None, SPECULATIVE.safety_net())).speculative_s))
    n = len(traces)

    def finals(th):
        return [_first(t, p, th, hold, f) for t, p, f, _ in per]

    threshold = next((th for th in GRID
                      if sum(f is not None and f < e for f, e in zip(finals(th), ends)) / n <= max_early), GRID[-1])
    final_at = finals(threshold)
    spec_at = [_first(t, p, threshold, 0, s) for t, p, _, s in per]
    lat = [f - e for f, e in zip(final_at, ends) if f is not None]
    leads = [f - s for f, s in zip(final_at, spec_at) if f is not None and s is not None]
    report = {"utterances": n, "max_early": max_early, "lead_s": lead_s, "final_hold_steps": hold,
              "final_early_cutoff_rate": round(sum(x < 0 for x in lat) / n, 4),
              "final_latency_median_s": round(float(np.median(lat)), 3) if lat else None,
              "speculative_lead_median_s": round(float(np.median(leads)), 3) if leads else None}
    return float(threshold), hold, report


def train_detector(traces: list[Trace], ends: list[float], train_texts: list[str], max_early: float = 0.01,
                   lead_s: float = 0.2) -> EoqDetector:
    table, prior = end_word_table(train_texts)
    half = len(traces) // 2
    blank = EoqDetector(tuple([0.0] * len(FEATURES)), table, prior)
    x, y = examples(blank, traces[:half], ends[:half])
    w = fit_logistic(x, y)
    fitted = EoqDetector(tuple(round(float(v), 5) for v in w), table, prior)
    threshold, hold, report = calibrate(fitted, traces[half:], ends[half:], max_early, lead_s)
    report["fit_utterances"], report["fit_steps"] = half, len(y)
    return EoqDetector(fitted.weights, table, prior, threshold, threshold, hold, report)


def _train_texts(corpus: str) -> list[str]:
    with open(os.path.join(corpus, "train.jsonl")) as f:
        return [json.loads(line)["text"] for line in f]


def main(argv: list[str] | None = None) -> int:
    from ..models.corpus.build import load_split
    from ..models.export import load_image as load_student
    from .bench_asr import default_corpus
    from .reference_rnnt import open_decoder
    from .transcribe_cli import add_search_options, default_eoq_path, default_model, search_config
    p = argparse.ArgumentParser(prog="edgeasr eoq train", description=__doc__.split("\n")[0])
    p.add_argument("--model", default=None)
    p.add_argument("--corpus", default=None)
    p.add_argument("--split", default="dev", choices=("dev", "pool", "train"),
                   help="a training-engine split (never the held-out flite test)")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--device", default="reference", choices=("reference", "golden", "verilator"),
                   help="reference (default): the integer golden model on the host; or a NEP backend")
    p.add_argument("--max-early", type=float, default=0.01)
    p.add_argument("--lead-s", type=float, default=0.2)
    p.add_argument("-o", "--output", default=default_eoq_path())
    add_search_options(p)
    args = p.parse_args(argv)
    try:
        search, lm = search_config(args)
    except (OSError, ValueError) as e:
        print(f"edgeasr eoq train: {e}", file=sys.stderr)
        return 2
    model, corpus = args.model or default_model(), args.corpus or default_corpus()
    if not model or not corpus:
        print("edgeasr eoq train: need --model and --corpus (none found)", file=sys.stderr)
        return 1
    utts = load_split(corpus, args.split)[:args.limit]
    if len(utts) < 4:
        print(f"edgeasr eoq train: {len(utts)} utterances in {args.split}; need at least 4", file=sys.stderr)
        return 1
    with open_decoder(args.device, load_student(model)) as rnnt:
        traces = decode_traces(rnnt, utts, search=search, lm=lm)
    ends = [u.speech_end_s if u.speech_end_s is not None else len(u.audio) / 16000 for u in utts]
    det = train_detector(traces, ends, _train_texts(corpus), args.max_early, args.lead_s)
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    det.save(args.output)
    print(f"EOQ detector -> {args.output}")
    print("  weights " + " ".join(f"{n}={w:+.3f}" for n, w in zip(FEATURES, det.weights)))
    print(f"  threshold {det.final_threshold}: speculative at the first step over it, final after "
          f"{det.final_hold_steps} more")
    for k, v in det.calibration.items():
        print(f"  {k:<28} {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
