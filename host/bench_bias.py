"""The context-biasing benchmark: rare contact names with and without a contact list.

    edgeasr bench bias [--model NPZ] [--corpus DIR] [--contacts 100] [--boosts 0.5,1,1.5,2,3]
                       [--bonuses 0,2,4,6,8] [--max-rise 0.005] [--device reference] [--limit N] [--json FILE]

The `rare` split names contacts the model never heard in training (`RARE_CONTACT_NAMES`, spoken
by the held-out flite voices). The contact list holds all of them plus training first names up
to `--contacts` entries (seeded). Three biasing modes: shallow fusion `open` (a name is boosted
wherever a word starts) and `carriers` (only right after a carrier phrase of contact requests,
`CONTACT_CARRIERS`), each with a boost per character from `--boosts`; and `rescore`, the second
pass of `contact_rescoring` on the slots after a carrier, with a contact prior from `--bonuses`.
Mode and boost are tuned on the first third of the rare utterances and the first third of the
held-out test utterances that name no contact: the lowest tuning name-WER among the settings whose
tuning no-name WER rises by at most `--max-rise` (ties to the smaller boost). The chosen setting is
reported on the other two thirds of both.
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


# Words that introduce a contact in English assistant requests ("call X", "message X", "a meeting
# with X", "messages from X", "when did X call", "what's X's number", "tell X and Y").
CONTACT_CARRIERS = ["call", "dial", "ring", "phone", "text", "message", "email", "tell", "ask", "send", "to",
                    "from", "with", "invite", "did", "what's", "is", "and"]


def contact_list(size: int, seed: int = 0) -> list[str]:
    from ..models.corpus.lexicon import CONTACT_NAMES, RARE_CONTACT_NAMES
    if size < len(RARE_CONTACT_NAMES):
        raise ValueError(f"--contacts {size}: must hold the {len(RARE_CONTACT_NAMES)} rare names")
    rng = np.random.default_rng(seed)
    extra = list(rng.choice(sorted(set(CONTACT_NAMES) - set(RARE_CONTACT_NAMES)), size - len(RARE_CONTACT_NAMES),
                            replace=False))
    return sorted(RARE_CONTACT_NAMES) + sorted(extra)


def run_bench_bias(rnnt, corpus: str, contacts: int = 100, boosts=(0.5, 1.0, 1.5, 2.0, 3.0), limit: int | None = None,
                   max_rise: float = 0.005, progress: bool = True, bonuses=(0.0, 2.0, 4.0, 6.0, 8.0)) -> dict:
    import jiwer
    from tqdm import tqdm
    from ..models.corpus.build import load_split
    from ..models.corpus.lexicon import CONTACT_NAMES
    from .contact_rescoring import ContactRescorer
    from .context_graph import ContextGraph
    from .recognizer import RecognizerConfig, _symbols, transcribe

    names = contact_list(contacts)
    rare = load_split(corpus, "rare")[:limit]
    every_name = set(CONTACT_NAMES) | set(names)
    plain = [u for u in load_split(corpus, "test") if not set(u.text.split()) & every_name][:limit]
    tune, held = rare[:len(rare) // 3], rare[len(rare) // 3:]
    tune_plain, held_plain = plain[:len(plain) // 3], plain[len(plain) // 3:]
    config = RecognizerConfig(endpoint=None, speculative=None)
    modes = {"open": None, "carriers": CONTACT_CARRIERS}

    def decode(utts, setting, desc):
        mode, boost = setting
        graph = ContextGraph.from_text(names, _symbols(), boost, modes[mode]) if boost and mode in modes else None
        rescorer = ContactRescorer(names, CONTACT_CARRIERS, _symbols(), boost) if mode == "rescore" else None
        return [transcribe(rnnt, u.audio, config, context=graph, rescorer=rescorer).text
                for u in tqdm(utts, desc=desc, unit="utt", disable=not progress, leave=False)]

    def name_wer(utts, hyps):
        e, n = name_errors([u.text for u in utts], hyps, set(names))
        return round(e / max(n, 1), 4)

    def wer(utts, hyps):
        return round(float(jiwer.wer([u.text for u in utts], [h if h.strip() else "<empty>" for h in hyps])), 4)

    off = ("open", 0.0)
    settings = [off] + [(m, b) for m in modes for b in boosts] + [("rescore", b) for b in bonuses]
    tuning = {}
    for st in settings:
        label = f"{st[0]} {st[1]}"
        tuning[st] = (name_wer(tune, decode(tune, st, f"tune {label}")),
                      wer(tune_plain, decode(tune_plain, st, f"tune {label}, no names")))
    within = [st for st in settings[1:] if tuning[st][1] - tuning[off][1] <= max_rise]
    best = min(within, key=lambda st: (tuning[st][0], st[1])) if within else None
    out = {
        "corpus": corpus, "contacts": len(names), "carriers": CONTACT_CARRIERS, "max_rise": max_rise,
        "tuning": [{"mode": m, "boost": b, "name_wer": tuning[(m, b)][0], "no_name_wer": tuning[(m, b)][1]}
                   for m, b in settings],
        "mode": best[0] if best else None, "boost": best[1] if best else None,
        "rare_utterances": len(held), "no_name_utterances": len(held_plain),
    }
    if best is None:
        out["error"] = f"no setting kept the tuning no-name WER within +{max_rise}"
        return out
    base_rare, bias_rare = decode(held, off, "rare, no list"), decode(held, best, "rare, biased")
    base_plain, bias_plain = decode(held_plain, off, "no names, no list"), decode(held_plain, best, "no names, biased")
    before, after = name_wer(held, base_rare), name_wer(held, bias_rare)
    out.update({
        "name_wer_without_list": before, "name_wer_with_list": after,
        "name_wer_relative_drop": round((before - after) / before, 4) if before else None,
        "rare_wer_without_list": wer(held, base_rare), "rare_wer_with_list": wer(held, bias_rare),
        "no_name_wer_without_list": wer(held_plain, base_plain), "no_name_wer_with_list": wer(held_plain, bias_plain),
        "no_name_wer_rise": round(wer(held_plain, bias_plain) - wer(held_plain, base_plain), 4),
    })
    return out


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
    p.add_argument("--bonuses", default="0,2,4,6,8",
                   help="contact priors of the rescoring pass to tune over, natural log per name")
    p.add_argument("--max-rise", type=float, default=0.005,
                   help="largest tuning rise of the no-name WER a setting may cause (default 0.005)")
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
        out = run_bench_bias(rnnt, corpus, args.contacts, boosts, args.limit, args.max_rise,
                             bonuses=tuple(float(b) for b in args.bonuses.split(",")))
    out.update(model=model, device=args.device)
    for k, v in out.items():
        print(f"  {k:<28} {v}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
