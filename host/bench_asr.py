"""The recognizer benchmark: WER, device cost, end-pointing latency and lattice size on a corpus split.

    python -m edgeasr.host.bench_asr [--model NPZ] [--corpus DIR] [--split test] [--limit N]
                                     [--device verilator] [--golden-check] [--json FILE]

Each utterance is streamed in 100 ms chunks followed by `--pad-silence-s` of silence (a microphone
keeps listening after the speaker stops, which is what the end-pointers need). Reported:
    wer                        words, against the corpus transcripts (jiwer)
    cycles_per_audio_s         device cycles (encoder, prediction and joint programs) per second of
                               audio processed (up to the final end-point), rtf_at_100mhz = that / 1e8
    wall_s_per_audio_s         host wall time of the whole recognizer on the chosen backend
    latency to speculative_final / final from the true end of speech (median, p90, seconds)
    early_cutoff_rate          finals before the true end of speech
    speculative_agreement      speculative text == final text
    lattice_bytes / audio_bytes  compact JSON lattice vs the utterance as 16-bit PCM
    golden_identical           (--golden-check) utterances whose whole result is identical on golden
`edgeasr bench asr` should call `main` (host/cli.py's bench entry still prints "not yet").
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import time

import numpy as np


def _default_corpus() -> str:
    from ..models.corpus.build import DATA_DIR
    done = [os.path.dirname(p) for p in glob.glob(os.path.join(DATA_DIR, "corpus", "*", "DONE"))]
    full = [d for d in done if os.path.basename(d).startswith("full")]
    return (full or done or [""])[0]


def _pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 3) if values else None


def run_bench_asr(model: str, corpus: str, split: str = "test", limit: int | None = None, device: str = "verilator",
                  lanes: int = 16, pad_silence_s: float = 3.0, golden_check: bool = False, progress: bool = True) -> dict:
    import jiwer
    from ..firmware.compiler import compile_student
    from ..firmware.memory_map import CoreConfig
    from ..models.corpus.build import load_split
    from ..models.export import load_image as load_student
    from .device import open_device
    from .nep_rnnt import NepRnnt
    from .recognizer import transcribe

    utts = load_split(corpus, split)[:limit]
    image = compile_student(load_student(model), CoreConfig(lanes=lanes))
    refs, hyps, spec_lat, final_lat, early, agree, n_spec = [], [], [], [], 0, 0, 0
    lattice_bytes = audio_bytes = 0
    cycles = wall = audio_s = 0.0
    identical = 0
    backends = [device] + (["golden"] if golden_check and device != "golden" else [])
    devs = {b: open_device(b, CoreConfig(lanes=lanes)) for b in backends}
    try:
        rnnts = {b: NepRnnt(d, image) for b, d in devs.items()}
        for i, u in enumerate(utts):
            audio = np.concatenate([u.audio, np.zeros(int(pad_silence_s * 16000), np.float32)])
            t = time.perf_counter()
            r = transcribe(rnnts[device], audio)
            wall += time.perf_counter() - t
            if golden_check and device != "golden":
                g = transcribe(rnnts["golden"], audio)
                a, b = r.to_dict(), g.to_dict()
                a["device"].pop("cycles"), b["device"].pop("cycles")
                identical += a == b
            refs.append(u.text)
            hyps.append(r.text if r.text.strip() else "<empty>")
            cycles += r.device["cycles"]
            audio_s += r.device["audio_s"]
            end = u.speech_end_s if u.speech_end_s is not None else len(u.audio) / 16000
            final = r.events[-1]
            final_lat.append(final.time_s - end)
            early += final.time_s < end
            spec = next((e for e in r.events if e.type == "speculative_final"), None)
            if spec is not None:
                n_spec += 1
                spec_lat.append(spec.time_s - end)
                agree += spec.text == final.text
            lattice_bytes += r.lattice.num_bytes()
            audio_bytes += 2 * len(u.audio)
            if progress:
                print(f"\r{i + 1}/{len(utts)} utterances", end="", file=sys.stderr, flush=True)
    finally:
        for d in devs.values():
            d.close()
    if progress:
        print(file=sys.stderr)
    n = max(len(utts), 1)
    out = {
        "model": model, "corpus": corpus, "split": split, "utterances": len(utts), "device": device, "lanes": lanes,
        "wer": round(float(jiwer.wer(refs, hyps)), 4) if refs else None,
        "cycles_per_audio_s": round(cycles / max(audio_s, 1e-9)),
        "rtf_at_100mhz": round(cycles / max(audio_s, 1e-9) / 1e8, 5),
        "wall_s_per_audio_s": round(wall / max(audio_s, 1e-9), 3),
        "latency_speculative_s": {"median": _pct(spec_lat, 50), "p90": _pct(spec_lat, 90)},
        "latency_final_s": {"median": _pct(final_lat, 50), "p90": _pct(final_lat, 90)},
        "early_cutoff_rate": round(early / n, 4),
        "speculative_rate": round(n_spec / n, 4),
        "speculative_agreement": round(agree / n_spec, 4) if n_spec else None,
        "lattice_bytes_per_utterance": round(lattice_bytes / n),
        "audio_bytes_per_utterance": round(audio_bytes / n),
    }
    if golden_check:
        out["golden_identical"] = f"{identical}/{len(utts)}" if device != "golden" else "n/a"
    return out


def main(argv: list[str] | None = None) -> int:
    from .transcribe_cli import default_model
    p = argparse.ArgumentParser(prog="edgeasr bench asr", description=__doc__.split("\n")[0])
    p.add_argument("--model", default=None)
    p.add_argument("--corpus", default=None)
    p.add_argument("--split", default="test")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--device", default="verilator", choices=("golden", "verilator"))
    p.add_argument("--lanes", type=int, default=16, choices=(8, 16))
    p.add_argument("--pad-silence-s", type=float, default=3.0)
    p.add_argument("--golden-check", action="store_true")
    p.add_argument("--json", metavar="FILE")
    args = p.parse_args(argv)
    model, corpus = args.model or default_model(), args.corpus or _default_corpus()
    if not model or not corpus:
        print("edgeasr bench asr: need --model and --corpus (none found under data/)", file=sys.stderr)
        return 1
    out = run_bench_asr(model, corpus, args.split, args.limit, args.device, args.lanes, args.pad_silence_s,
                        args.golden_check)
    for k, v in out.items():
        print(f"  {k:<28} {v}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
