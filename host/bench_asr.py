"""The recognizer benchmark: WER, device cost, end-pointing latency and lattice size on a corpus split.

    python -m edgeasr.host.bench_asr [--model NPZ] [--corpus DIR] [--split test] [--limit N]
                                     [--device verilator] [--golden-check] [--json FILE]
                                     [--beam 16] [--lm NPZ|none] [--lm-weight W] [--length-bonus B] [--lm-ilm-weight W]
    python -m edgeasr.host.bench_asr --manifest PATH ...     (your own recordings: `host.eval_set`)

Each utterance is streamed in 100 ms chunks followed by `--pad-silence-s` of silence (a microphone
keeps listening after the speaker stops, which is what the end-pointers need), decoded once with
end-pointing off; the end-pointers are then replayed on that decoding (`host.endpoint_eval`, the
same `Endpointer` the live recognizer drives), so the recognizer's own end-pointer (the trained
EOQ detector with the rules as fallback) and the baselines are judged on identical decodings. The
text is the best hypothesis at the final end-point. Reported:
    wer                        words, against the corpus transcripts (jiwer)
    cycles_per_audio_s         device cycles (encoder, prediction and joint programs) per second of
                               audio processed (up to the final end-point), rtf_at_100mhz = that / 1e8
    wall_s_per_audio_s         host wall time of the whole recognizer on the chosen backend
    latency to speculative_final / final from the true end of speech (median, p90, seconds)
    early_cutoff_rate          finals before the true end of speech
    speculative_agreement      speculative text == final text
    lattice_bytes / audio_bytes  compact JSON lattice vs the utterance as 16-bit PCM
    golden_identical           (--golden-check) utterances whose whole result is identical on golden
    endpointers                the comparison: EOQ final and speculative, the 1.2 s / 2.4 s rules and
                               webrtcvad with three hangovers (median/p90 latency, early, never)
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import time

import numpy as np

from .report_file import prepare_output, write_json


def default_corpus() -> str:
    from ..models.corpus.build import DATA_DIR
    done = [os.path.dirname(p) for p in glob.glob(os.path.join(DATA_DIR, "corpus", "*", "DONE"))]
    full = [d for d in done if os.path.basename(d).startswith("full")]
    return (full or done or [""])[0]


def _pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 3) if values else None


def run_bench_asr(model: str, corpus: str, split: str = "test", limit: int | None = None, device: str = "verilator",
                  lanes: int = 16, pad_silence_s: float = 3.0, golden_check: bool = False, progress: bool = True,
                  eoq_path: str | None = None, manifest: str | None = None, search=None,
                  lm=None, lm_path: str | None = None) -> dict:
    """The figures of the module docstring on `split` of `corpus`, or on the recordings `manifest`
    lists (`host.eval_set`; its errors are raised before anything is decoded). `search`: the
    BeamSearchConfig (default: beam 4, no LM); `lm`: the CharNgramLM it fuses, loaded from `lm_path`."""
    import jiwer
    from tqdm import tqdm
    from ..firmware.compiler import compile_student
    from ..firmware.memory_map import CoreConfig
    from ..models.corpus.build import load_split
    from ..models.export import load_image as load_student
    from .device import open_device
    from .endpoint_eval import compare_endpointers, replay
    from .endpointer import FINAL, SPECULATIVE, Endpointer
    from .eoq import EoqDetector
    from .nep_rnnt import NepRnnt
    from .beam_search import BeamSearchConfig
    from .recognizer import RecognizerConfig, transcribe
    from .transcribe_cli import search_summary

    if manifest:
        from .eval_set import load_eval_set
        utts = load_eval_set(manifest)[:limit]
    else:
        utts = load_split(corpus, split)[:limit]
    eoq = EoqDetector.load(eoq_path) if eoq_path else None
    image = compile_student(load_student(model), CoreConfig(lanes=lanes))
    search = search or BeamSearchConfig()
    config = RecognizerConfig(search, endpoint=None, speculative=None, lm=lm)   # decode everything; end-point by replay
    refs, hyps, spec_lat, final_lat, leads, ends, traces, audios = [], [], [], [], [], [], [], []
    early = agree = n_spec = identical = 0
    lattice_bytes = audio_bytes = 0
    cycles = wall = audio_s = 0.0
    backends = [device] + (["golden"] if golden_check and device != "golden" else [])
    devs = {b: open_device(b, CoreConfig(lanes=lanes)) for b in backends}
    try:
        rnnts = {b: NepRnnt(d, image) for b, d in devs.items()}
        for u in tqdm(utts, desc=f"bench asr ({device})", unit="utt", disable=not progress):
            audio = np.concatenate([u.audio, np.zeros(int(pad_silence_s * 16000), np.float32)])
            t = time.perf_counter()
            r = transcribe(rnnts[device], audio, config)
            wall += time.perf_counter() - t
            if golden_check and device != "golden":
                g = transcribe(rnnts["golden"], audio, config)
                a, b = r.to_dict(), g.to_dict()
                a["device"].pop("cycles"), b["device"].pop("cycles")       # the golden core's are estimates
                identical += a == b and r.trace == g.trace
            end = u.speech_end_s if u.speech_end_s is not None else len(u.audio) / 16000
            fire = replay(r.trace, Endpointer(FINAL, SPECULATIVE, eoq))
            final_s = fire.final_s if fire.final_s is not None else len(audio) / 16000
            refs.append(u.text)
            hyps.append(fire.final_text if fire.final_text.strip() else "<empty>")
            final_lat.append(final_s - end)
            early += final_s < end
            if fire.speculative_s is not None:
                n_spec += 1
                spec_lat.append(fire.speculative_s - end)
                leads.append(final_s - fire.speculative_s)
                agree += fire.speculative_text == fire.final_text
            cycles += r.device["cycles"]
            audio_s += r.device["audio_s"]
            lattice_bytes += r.lattice.num_bytes()
            audio_bytes += 2 * len(u.audio)
            ends.append(end)
            traces.append(r.trace)
            audios.append(audio)
    finally:
        for d in devs.values():
            d.close()
    n = max(len(utts), 1)
    out = {
        "model": model, **({"manifest": manifest, "speech_end_estimated": sum(u.boundaries_estimated for u in utts)}
                           if manifest else {"corpus": corpus, "split": split}),
        "utterances": len(utts), "device": device, "lanes": lanes, **search_summary(search, lm, lm_path),
        "endpointer": "eoq detector + rules" if eoq else "rules (1.2 s after a token, 2.4 s any)",
        "wer": round(float(jiwer.wer(refs, hyps)), 4) if refs else None,
        "cycles_per_audio_s": round(cycles / max(audio_s, 1e-9)),
        "rtf_at_100mhz": round(cycles / max(audio_s, 1e-9) / 1e8, 5),
        "wall_s_per_audio_s": round(wall / max(audio_s, 1e-9), 3),
        "latency_speculative_s": {"median": _pct(spec_lat, 50), "p90": _pct(spec_lat, 90)},
        "latency_final_s": {"median": _pct(final_lat, 50), "p90": _pct(final_lat, 90)},
        "speculative_lead_s_median": _pct(leads, 50),      # final - speculative, where both fired
        "early_cutoff_rate": round(early / n, 4),
        "speculative_rate": round(n_spec / n, 4),
        "speculative_agreement": round(agree / n_spec, 4) if n_spec else None,
        "lattice_bytes_per_utterance": round(lattice_bytes / n),
        "audio_bytes_per_utterance": round(audio_bytes / n),
        "endpointers": compare_endpointers(traces, audios, ends, eoq),
    }
    if golden_check:
        out["golden_identical"] = f"{identical}/{len(utts)}" if device != "golden" else "n/a"
    return out


def main(argv: list[str] | None = None) -> int:
    from .transcribe_cli import add_search_options, default_eoq_path, default_model, lm_path, search_config
    p = argparse.ArgumentParser(prog="edgeasr bench asr", description=__doc__.split("\n")[0])
    p.add_argument("--model", default=None)
    p.add_argument("--corpus", default=None)
    p.add_argument("--split", default="test")
    p.add_argument("--manifest", metavar="PATH",
                   help="your own recordings instead of a corpus split: a JSONL or TSV manifest, or a "
                        "folder of .wav files with .txt transcripts (see host/eval_set.py)")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--device", default="verilator", choices=("golden", "verilator"))
    p.add_argument("--lanes", type=int, default=16, choices=(8, 16))
    p.add_argument("--pad-silence-s", type=float, default=3.0)
    p.add_argument("--golden-check", action="store_true")
    p.add_argument("--endpointer", choices=("eoq", "rules"), default="eoq",
                   help="eoq (default, when models/artifacts/eoq.json or --eoq exists) or the rules alone")
    p.add_argument("--eoq", metavar="JSON")
    add_search_options(p)
    p.add_argument("--json", metavar="FILE")
    args = p.parse_args(argv)
    try:
        prepare_output(args.json)
    except OSError as e:
        print(f"edgeasr bench asr: --json {e}", file=sys.stderr)
        return 2
    if args.manifest and args.corpus:
        print("edgeasr bench asr: give --corpus (with --split) or --manifest, not both", file=sys.stderr)
        return 2
    model = args.model or default_model()
    corpus = None if args.manifest else args.corpus or default_corpus()
    if not model or not (corpus or args.manifest):
        print("edgeasr bench asr: need --model and --corpus or --manifest (none found under data/)", file=sys.stderr)
        return 1
    eoq = None
    if args.endpointer == "eoq":
        eoq = args.eoq or (default_eoq_path() if os.path.exists(default_eoq_path()) else None)
    from .eval_set import EvalSetError
    try:
        search, lm = search_config(args)
    except (OSError, ValueError) as e:
        print(f"edgeasr bench asr: {e}", file=sys.stderr)
        return 2
    try:
        out = run_bench_asr(model, corpus, args.split, args.limit, args.device, args.lanes, args.pad_silence_s,
                            args.golden_check, eoq_path=eoq, manifest=args.manifest, search=search, lm=lm,
                            lm_path=lm_path(args))
    except EvalSetError as e:
        print(f"edgeasr bench asr: {e}", file=sys.stderr)
        return 2
    for k, v in out.items():
        if k != "endpointers":
            print(f"  {k:<28} {v}")
    print("  end-pointers (final, from the true end of speech):")
    for name, row in out["endpointers"].items():
        print(f"    {name:<66} median {row['latency_median_s']} s  p90 {row['latency_p90_s']} s  "
              f"early {row['early_cutoff_rate'] * 100:.1f}%  never {row['never_fired_rate'] * 100:.1f}%")
    if args.json:
        write_json(args.json, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
