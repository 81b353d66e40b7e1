"""The context-biasing benchmark: rare contact names with and without a contact list.

    edgeasr bench bias [--model NPZ] [--corpus DIR] [--contacts 100] [--boosts 0.5,1,1.5,2,3]
                       [--device reference] [--limit N] [--json FILE]

The `rare` split names contacts the model never heard in training (`RARE_CONTACT_NAMES`, spoken
by the held-out flite voices). The contact list holds all of them plus training first names up
to `--contacts` entries (seeded). The boost is tuned on the first third of the rare utterances
(lowest name-WER, ties to the smaller boost) and reported on the other two thirds, and on the
held-out test utterances that name no contact at all, to show what biasing costs elsewhere.
name-WER: of the reference words that are contact names, the fraction substituted or deleted
(jiwer's alignment). By default decoding runs on `host.reference_rnnt` (the integer golden model,
bit-exact with the device); `--device golden|verilator` runs it on a NEP backend.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np


def name_errors(refs: list[str], hyps: list[str], names: set[str]) -> tuple[int, int]:
    """(name words substituted or deleted, name words) over the pairs, by jiwer's word alignment."""
    import jiwer
    errors = total = 0
    for ref, hyp in zip(refs, hyps):
        words = ref.split()
        flagged = [w in names for w in words]
        total += sum(flagged)
        if not any(flagged):
            continue
        out = jiwer.process_words(ref, hyp if hyp.strip() else "<empty>")
        for chunk in out.alignments[0]:
            if chunk.type in ("substitute", "delete"):
                errors += sum(flagged[chunk.ref_start_idx:chunk.ref_end_idx])
    return errors, total


def contact_list(size: int, seed: int = 0) -> list[str]:
    from ..models.corpus.lexicon import CONTACT_NAMES, RARE_CONTACT_NAMES
    if size < len(RARE_CONTACT_NAMES):
        raise ValueError(f"--contacts {size}: must hold the {len(RARE_CONTACT_NAMES)} rare names")
    rng = np.random.default_rng(seed)
    extra = list(rng.choice(sorted(set(CONTACT_NAMES) - set(RARE_CONTACT_NAMES)), size - len(RARE_CONTACT_NAMES),
                            replace=False))
    return sorted(RARE_CONTACT_NAMES) + sorted(extra)


def run_bench_bias(rnnt, corpus: str, contacts: int = 100, boosts=(0.5, 1.0, 1.5, 2.0, 3.0), limit: int | None = None,
                   progress: bool = True) -> dict:
    import jiwer
    from tqdm import tqdm
    from ..models.corpus.build import load_split
    from ..models.corpus.lexicon import CONTACT_NAMES
    from .context_graph import ContextGraph
    from .recognizer import RecognizerConfig, _symbols, transcribe

    names = contact_list(contacts)
    rare = load_split(corpus, "rare")[:limit]
    every_name = set(CONTACT_NAMES) | set(names)
    plain = [u for u in load_split(corpus, "test") if not set(u.text.split()) & every_name][:limit]
    tune, held = rare[:len(rare) // 3], rare[len(rare) // 3:]
    config = RecognizerConfig(endpoint=None, speculative=None)

    def decode(utts, boost, desc):
        graph = ContextGraph.from_text(names, _symbols(), boost) if boost else None
        return [transcribe(rnnt, u.audio, config, context=graph).text
                for u in tqdm(utts, desc=desc, unit="utt", disable=not progress, leave=False)]

    def name_wer(utts, hyps):
        e, n = name_errors([u.text for u in utts], hyps, set(names))
        return round(e / max(n, 1), 4)

    def wer(utts, hyps):
        return round(float(jiwer.wer([u.text for u in utts], [h if h.strip() else "<empty>" for h in hyps])), 4)

    tuning = {b: name_wer(tune, decode(tune, b, f"tune boost {b}")) for b in (0.0, *boosts)}
    best = min(boosts, key=lambda b: (tuning[b], b))
    base_rare, bias_rare = decode(held, 0.0, "rare, no list"), decode(held, best, "rare, biased")
    base_plain, bias_plain = decode(plain, 0.0, "no names, no list"), decode(plain, best, "no names, biased")
    before, after = name_wer(held, base_rare), name_wer(held, bias_rare)
    return {
        "corpus": corpus, "contacts": len(names), "boost": best, "tuning_name_wer": {str(k): v for k, v in tuning.items()},
        "rare_utterances": len(held), "name_wer_without_list": before, "name_wer_with_list": after,
        "name_wer_relative_drop": round((before - after) / before, 4) if before else None,
        "rare_wer_without_list": wer(held, base_rare), "rare_wer_with_list": wer(held, bias_rare),
        "no_name_utterances": len(plain), "no_name_wer_without_list": wer(plain, base_plain),
        "no_name_wer_with_list": wer(plain, bias_plain),
        "no_name_wer_rise": round(wer(plain, bias_plain) - wer(plain, base_plain), 4),
    }


def main(argv: list[str] | None = None) -> int:
    from ..models.export import load_image as load_student
    from .bench_asr import default_corpus
    from .reference_rnnt import open_decoder
    from .transcribe_cli import default_model
    p = argparse.ArgumentParser(prog="edgeasr bench bias", description=__doc__.split("\n")[0])
    p.add_argument("--model", default=None)
    p.add_argument("--corpus", default=None)
    p.add_argument("--contacts", type=int, default=100)
    p.add_argument("--boosts", default="0.5,1,1.5,2,3", help="boosts to tune over, natural log per character")
    p.add_argument("--device", default="reference", choices=("reference", "golden", "verilator"))
    p.add_argument("--limit", type=int, default=None, help="at most N utterances per set")
    p.add_argument("--json", metavar="FILE")
    args = p.parse_args(argv)
    model, corpus = args.model or default_model(), args.corpus or default_corpus()
    if not model or not corpus:
        print("edgeasr bench bias: need --model and --corpus (none found)", file=sys.stderr)
        return 1
    boosts = tuple(float(b) for b in args.boosts.split(","))
    with open_decoder(args.device, load_student(model)) as rnnt:
        out = run_bench_bias(rnnt, corpus, args.contacts, boosts, args.limit)
    out.update(model=model, device=args.device)
    for k, v in out.items():
        print(f"  {k:<28} {v}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
