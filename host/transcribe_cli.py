"""`edgeasr transcribe FILE.wav [--device golden|verilator] [--context FILE] [--lattice OUT.json]
[--plot OUT.png] [--json]`.

Reads the audio (any soundfile format, resampled to 16 kHz mono), compiles the model for the
device's core unless an image is given, streams the audio through the recognizer in 100 ms chunks
and prints partial results, events and the n-best. With --json the last line printed is one JSON
object: text, nbest, events (type, time_s, text), device (cycles, macs, skipped, encoder_steps,
audio_s, backend). Exit status 1 with a one-line message for unreadable audio, a missing model or
an image that does not fit the device.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys

DEVICES = ("golden", "verilator")
# The search's defaults, chosen on 200 dev and 200 test utterances of the default corpus (beam 4 / 8 / 16
# x LM weight x length bonus) with the committed student and LM, and confirmed on a corpus of another
# seed (README.md has the figures).
DEFAULT_BEAM = 16
DEFAULT_LM_WEIGHT = 0.4
DEFAULT_LENGTH_BONUS = 0.6
DEFAULT_ILM_WEIGHT = 0.2
# Class-based contact biasing (`--context` with an LM built with the contact class): the weight of the
# internal-LM correction on a listed name's characters. 1.0 moved name-WER least badly on the no-name
# requests of the default corpus (README, "Context biasing").
DEFAULT_CLASS_ILM_WEIGHT = 1.0


def device_spec(text: str) -> str:
    """golden, verilator or serial:PATH[@BAUD] (a board, or `edgeasr soc-sim`'s pty)."""
    if text in DEVICES or (text.startswith("serial:") and len(text) > len("serial:")):
        return text
    raise argparse.ArgumentTypeError(f"expected golden, verilator or serial:PATH[@BAUD], got {text!r}")


def _artifact(name: str) -> str:
    from ..models.train import ARTIFACTS_DIR
    return os.path.join(ARTIFACTS_DIR, name)


def default_model() -> str | None:
    """$EDGEASR_MODEL, else the committed trained student (models/artifacts), else the newest
    data/runs/*/student_q4s.npz (a finished full run before the smoke run)."""
    if os.environ.get("EDGEASR_MODEL"):
        return os.environ["EDGEASR_MODEL"]
    if os.path.exists(_artifact("student_q4s.npz")):
        return _artifact("student_q4s.npz")
    from ..models.corpus.build import DATA_DIR
    found = sorted(glob.glob(os.path.join(DATA_DIR, "runs", "*", "student_q4s.npz")),
                   key=lambda p: ("smoke" in p, -os.path.getmtime(p)))
    return found[0] if found else None


def default_eoq_path() -> str:
    """Where the trained end-of-query detector lives (committed beside the student)."""
    return _artifact("eoq.json")


def lm_path(args) -> str | None:
    """The LM file the search options fuse: --lm, else the committed one when present; None for
    --lm none, --lm-weight 0 or no committed LM."""
    from .lm_cli import default_lm_path
    if args.lm == "none" or args.lm_weight <= 0:
        return None
    if args.lm is not None:
        return args.lm
    return default_lm_path() if os.path.exists(default_lm_path()) else None


def search_config(args):
    """(BeamSearchConfig, CharNgramLM or None) of --beam, --lm, --lm-weight, --length-bonus and
    --lm-ilm-weight; raises ValueError (a bad value, or an LM file that cannot be used)."""
    from .beam_search import BeamSearchConfig
    from .char_lm import CharNgramLM
    path = lm_path(args)
    if path is None:
        return BeamSearchConfig(beam=args.beam), None
    return BeamSearchConfig(beam=args.beam, lm_weight=args.lm_weight, length_bonus=args.length_bonus,
                            ilm_weight=args.lm_ilm_weight), CharNgramLM.load(path)


def search_summary(search, lm, path: str | None) -> dict:
    """The search a benchmark ran, for its report (the fusion's weights are 0 without an LM)."""
    fused = lm is not None
    return {"beam": search.beam, "lm": path if fused else None, "lm_weight": search.lm_weight if fused else 0.0,
            "length_bonus": search.length_bonus if fused else 0.0,
            "lm_ilm_weight": search.ilm_weight if fused else 0.0}


def recognizer_config(args):
    """The RecognizerConfig of the search options and --endpointer (eoq: the trained detector, when
    there is one)."""
    from .eoq import EoqDetector
    from .recognizer import RecognizerConfig
    eoq = None
    if args.endpointer == "eoq":
        path = args.eoq or default_eoq_path()
        if args.eoq or os.path.exists(path):
            eoq = EoqDetector.load(path)
    beam, lm = search_config(args)
    return RecognizerConfig(beam, eoq=eoq, lm=lm)


def add_search_options(p) -> None:
    """--beam and the LM fusion options (transcribe, stream, bench asr, bench bias, eoq train)."""
    p.add_argument("--beam", type=int, default=DEFAULT_BEAM, help=f"beam width (default {DEFAULT_BEAM})")
    p.add_argument("--lm", metavar="NPZ",
                   help="character LM fused in the search (default models/artifacts/lm.npz when present; "
                        "'none': no LM; `edgeasr lm build` makes one)")
    p.add_argument("--lm-weight", type=float, default=DEFAULT_LM_WEIGHT,
                   help=f"weight of the LM's log-probabilities (default {DEFAULT_LM_WEIGHT}; 0: no LM)")
    p.add_argument("--length-bonus", type=float, default=DEFAULT_LENGTH_BONUS,
                   help=f"score per emitted character while an LM is fused (default {DEFAULT_LENGTH_BONUS})")
    p.add_argument("--lm-ilm-weight", type=float, default=DEFAULT_ILM_WEIGHT,
                   help="weight of the internal-LM subtraction while an LM is fused (one more joint run per "
                        f"prediction step; default {DEFAULT_ILM_WEIGHT})")


def _add_endpointer_options(p) -> None:
    p.add_argument("--endpointer", choices=("eoq", "rules"), default="eoq",
                   help="eoq (default): the trained end-of-query detector with the rules as fallback; "
                        "rules: 1.2 s of trailing silence after a token, 2.4 s of any")
    p.add_argument("--eoq", metavar="JSON", help="an EOQ detector (default: models/artifacts/eoq.json)")


def add_transcribe_parser(sub, func) -> None:
    p = sub.add_parser("transcribe", help="speech to text on the simulated NEP (events, n-best, lattice)")
    p.add_argument("file", help="audio file (WAV, FLAC, ...; any rate, mono or stereo)")
    p.add_argument("--device", default="verilator", type=device_spec,
                   help="NEP backend: golden, verilator (default) or serial:PATH[@BAUD]")
    p.add_argument("--model", help="exported student .npz (default: $EDGEASR_MODEL or the newest run's)")
    p.add_argument("--image", help="a compiled device image instead of --model (its core config is used)")
    p.add_argument("--lanes", type=int, default=16, choices=(8, 16), help="MAC lanes when compiling (default 16)")
    add_search_options(p)
    p.add_argument("--context", metavar="FILE", help="phrases to bias toward (contacts, device names), one per line")
    p.add_argument("--context-mode", choices=("class", "fusion"), default=None,
                   help="class: the --context phrases fill the fused LM's contact-name class (host/contact_class.py; "
                        "the default with an LM trained with the class); fusion: boost them wherever they match "
                        "(host/context_graph.py; the default without such an LM)")
    p.add_argument("--context-class-ilm", type=float, default=DEFAULT_CLASS_ILM_WEIGHT, metavar="WEIGHT",
                   help=f"class mode: internal-LM weight on a listed name where the LM is sure a name comes "
                        f"(default {DEFAULT_CLASS_ILM_WEIGHT})")
    p.add_argument("--context-prefixes", metavar="FILE",
                   help="carrier phrases, one per line (e.g. call, text, message from): boost --context "
                        "phrases only right after one of them")
    p.add_argument("--context-score", type=float, default=None,
                   help="fusion: biasing bonus per matched character, natural log (default 1.0); class: the log "
                        "prior of the listed names over the LM's estimate (default 0)")
    p.add_argument("--context-rescore", type=float, metavar="BONUS", default=None,
                   help="also re-score the words after a carrier (--context-prefixes, or the built-in rescoring "
                        "carriers, bench_bias.RESCORE_CARRIERS) and the words the model was never trained on as "
                        "each --context phrase, preferring a phrase by BONUS nats (host/contact_rescoring.py)")
    p.add_argument("--context-ilm", type=float, default=0.7, metavar="WEIGHT",
                   help="internal-LM correction of --context-rescore (default 0.7; host/contact_rescoring.py)")
    p.add_argument("--lattice", metavar="OUT.json", help="write the word lattice as JSON")
    p.add_argument("--plot", metavar="OUT.png", help="draw the word lattice as a PNG")
    p.add_argument("--json", action="store_true", help="last line: one JSON object with the result")
    _add_endpointer_options(p)
    p.set_defaults(func=func)


def add_stream_parser(sub, func) -> None:
    p = sub.add_parser("stream", help="live recognition of raw 16 kHz s16le mono audio from stdin (or a file at real-time pace)")
    p.add_argument("file", nargs="?", default="-", help="'-' (default): raw s16le 16 kHz mono on stdin; else an audio file")
    p.add_argument("--device", default="verilator", type=device_spec)
    p.add_argument("--model")
    p.add_argument("--image")
    p.add_argument("--lanes", type=int, default=16, choices=(8, 16))
    add_search_options(p)
    p.add_argument("--chunk-ms", type=int, default=100, help="audio per read (default 100 ms)")
    p.add_argument("--realtime", action="store_true", help="pace a file at real time (stdin is paced by its writer)")
    p.add_argument("--continuous", action="store_true",
                   help="after each final, go on with the next utterance (a result per utterance)")
    p.add_argument("--json", action="store_true", help="one JSON object per event, then the result")
    _add_endpointer_options(p)
    p.set_defaults(func=func)


def _load_image(args):
    """The image from --image, or --model (or the default model) compiled for --lanes; raises ValueError."""
    from ..firmware.compiler import compile_student
    from ..firmware.memory_map import CoreConfig
    from ..firmware.image import Image
    if args.image:
        return Image.from_bytes(open(args.image, "rb").read())
    model = args.model or default_model()
    if not model or not os.path.exists(model):
        raise ValueError(f"no model: give --model MODEL.npz or --image IMAGE "
                         f"(looked for {model or 'models/artifacts/student_q4s.npz, data/runs/*/student_q4s.npz'})")
    from ..models.export import load_image as load_student
    return compile_student(load_student(model), CoreConfig(lanes=args.lanes))


def run_stream(args) -> int:
    import time

    import numpy as np

    from .audio import AudioFormatError, read_audio
    from .device import open_device
    from .nep_rnnt import NepRnnt
    from .recognizer import Recognizer
    try:
        image = _load_image(args)
        config = recognizer_config(args)
        audio = None if args.file == "-" else read_audio(args.file)
    except (ValueError, OSError) as e:
        print(f"edgeasr stream: {e}", file=sys.stderr)
        return 1
    chunk = max(1, args.chunk_ms * 16)

    def chunks():
        if audio is not None:
            for i in range(0, len(audio), chunk):
                if args.realtime:
                    time.sleep(args.chunk_ms / 1000)
                yield audio[i:i + chunk]
            return
        pending = b""
        while True:
            data = sys.stdin.buffer.read1(2 * chunk) if hasattr(sys.stdin.buffer, "read1") else sys.stdin.buffer.read(2 * chunk)
            if not data:
                return
            data = pending + data
            usable = len(data) // 2 * 2
            pending = data[usable:]
            yield np.frombuffer(data[:usable], "<i2").astype(np.float32) / 32768

    def show(e):
        if args.json:
            print(json.dumps({"type": e.type, "time_s": e.time_s, "text": e.text}), flush=True)
        else:
            print(f"[{e.time_s:7.3f} s] {e.type:<17} {e.text}", flush=True)

    def report(result):
        if args.json:
            out = result.to_dict()
            out.pop("lattice"), out.pop("speculative_lattice")
            out["device"]["backend"] = args.device
            print(json.dumps(out), flush=True)
        else:
            print("n-best: " + " | ".join(f"{h['log_prob']:.2f} {h['text']}" for h in result.nbest), flush=True)

    with open_device(args.device, image.config) as dev:
        rec = Recognizer(NepRnnt(dev, image), config)
        for samples in chunks():
            for e in rec.accept_waveform(samples):
                show(e)
            while rec.ended:
                report(rec.finish())
                if not args.continuous:
                    return 0
                rec.next_utterance()
                for e in rec.accept_waveform(np.zeros(0, np.float32)):
                    show(e)
        seen = len(rec.events)
        result = rec.finish()
        for e in result.events[seen:]:
            show(e)
        report(result)
    return 0


def run_transcribe(args) -> int:
    from ..firmware.errors import ImageError
    from .audio import AudioFormatError, read_audio
    from .device import open_device
    from .nep_rnnt import NepRnnt
    from .recognizer import transcribe

    def fail(msg: str) -> int:
        print(f"edgeasr transcribe: {msg}", file=sys.stderr)
        return 1

    try:
        audio = read_audio(args.file)
    except AudioFormatError as e:
        return fail(str(e))
    try:
        image = _load_image(args)
        config = recognizer_config(args)
    except (ImageError, OSError, ValueError) as e:
        return fail(str(e))

    def show(event):
        if not args.json:
            print(f"[{event.time_s:7.3f} s] {event.type:<8} {event.text}")

    context = rescorer = contacts = None
    if args.context_rescore is not None and not args.context:
        return fail("--context-rescore needs --context (the phrases to re-score as)")
    if args.context:
        from .bench_bias import RESCORE_CARRIERS
        from .contact_class import ContactClass
        from .contact_rescoring import ContactRescorer
        from .context_graph import ContextGraph
        from .recognizer import _symbols
        has_class = config.lm is not None and config.lm.has_class
        mode = args.context_mode or ("class" if has_class else "fusion")
        if mode == "class" and not has_class:
            return fail("--context-mode class needs a fused LM trained with the contact class (edgeasr lm build)")
        try:
            def lines(path):
                return [line.strip() for line in open(path) if line.strip()]
            prefixes = lines(args.context_prefixes) if args.context_prefixes else None
            if mode == "class":
                contacts = ContactClass.from_text(lines(args.context), _symbols(), args.context_score or 0.0,
                                                  args.context_class_ilm)
            else:
                score = 1.0 if args.context_score is None else args.context_score
                context = ContextGraph.from_text(lines(args.context), _symbols(), score, prefixes)
            if args.context_rescore is not None:
                from ..models.corpus.grammar import vocabulary
                rescorer = ContactRescorer(lines(args.context), prefixes or RESCORE_CARRIERS, _symbols(),
                                           args.context_rescore, ilm_weight=args.context_ilm,
                                           vocabulary=vocabulary())
        except (OSError, ValueError) as e:
            return fail(f"--context {args.context}: {e}")

    with open_device(args.device, image.config) as dev:
        rnnt = NepRnnt(dev, image)
        result = transcribe(rnnt, audio, config, on_event=show, context=context, rescorer=rescorer,
                            contacts=contacts)
    result.device["backend"] = args.device
    if args.lattice:
        result.lattice.save(args.lattice)
    if args.plot:
        from .lattice import plot_lattice
        plot_lattice(result.lattice, args.plot, f"{os.path.basename(args.file)}: {result.text}")
    if args.json:
        out = result.to_dict()
        out.pop("lattice")
        out.pop("speculative_lattice")
        print(json.dumps(out))
        return 0
    print("n-best:")
    for i, h in enumerate(result.nbest, 1):
        print(f"  {i}. {h['log_prob']:9.3f}  {h['text']}")
    d = result.device
    print(f"device ({args.device}): {d['cycles']} cycles, {d['macs']} MACs, {d['skipped']} skipped, "
          f"{d['encoder_steps']} encoder steps for {d['audio_s']:.2f} s of audio")
    return 0
