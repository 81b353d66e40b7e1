"""`edgeasr lm build`: the character LM fused in the beam search (`host.char_lm`).

    edgeasr lm build [-o models/artifacts/lm.npz] [--order 8] [--sentences 100000] [--seed N]
                     [--class-fraction F] [--text FILE] [--json]

The text: `--sentences` requests drawn from the corpus grammar's training side only
(`grammar.sentences(..., "train")`: no sentence of the held-out side, which dev, test and rare
are made of, is ever seen; the few short commands and questions are shared by design), or the
lines of `--text` (normalized; a line with digits is refused). With `--class-fraction F` (default
0: the committed LM), that fraction of the contact names in the grammar's requests (drawn per name)
is replaced by the class symbol `$`, so the LM learns where a contact's name may come ("call $ on
speaker") for the search to fill in from a contact list (`host.contact_class`, `transcribe
--context-mode class`), and still spells out the names heard without one. Prints the characters, the n-gram
contexts, the file's size and the perplexity per character on held-out-side requests (and, from
the grammar, requests naming the rare contacts the grammar never uses).
Deterministic: the same options write the same file.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

DEFAULT_ORDER = 8
DEFAULT_SENTENCES = 100_000
DEFAULT_SEED = 20261129
DEFAULT_CLASS_FRACTION = 0.0


def default_lm_path() -> str:
    from ..models.train import ARTIFACTS_DIR
    return os.path.join(ARTIFACTS_DIR, "lm.npz")


def with_class(requests: list[tuple[str, frozenset[int]]], fraction: float, rng) -> list[str]:
    """Requests with their contact-name words (`grammar.contact_slots`) replaced by the class
    symbol, each with probability `fraction` ("what's mary's number" -> "what's $'s number")."""
    from .char_lm import CLASS
    out = []
    for text, slots in requests:
        words = text.split()
        for i in sorted(slots):
            if rng.random() < fraction:
                words[i] = CLASS + ("'s" if words[i].endswith("'s") else "")
        out.append(" ".join(words))
    return out


def _texts(args) -> list[str]:
    import numpy as np
    from ..models.corpus import grammar
    if not args.text:
        rng = np.random.default_rng([args.seed])
        if not args.class_fraction:          # the same requests, each drawn once
            return grammar.sentences(args.sentences, rng, "train")
        return with_class(grammar.contact_slots(args.sentences, rng, "train"), args.class_fraction,
                          np.random.default_rng([args.seed, 2]))
    out = []
    with open(args.text, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if any(ch.isdigit() for ch in line):
                raise ValueError(f"{args.text}:{n}: digits must be spelled out ({line.strip()!r})")
            text = grammar.normalize(line)
            if text:
                out.append(text)
    if not out:
        raise ValueError(f"{args.text}: no text")
    return out


def run_build(args) -> dict:
    import numpy as np
    from ..models.corpus import grammar
    from .char_lm import CharNgramLM
    texts = _texts(args)
    lm = CharNgramLM.train(texts, args.order)
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    lm.save(args.output)
    rng = np.random.default_rng([args.seed, 1])
    probes = {"heldout": grammar.sentences(500, rng, "heldout"), "rare_names": grammar.rare_name_sentences(200, rng)}
    return {"output": args.output, "bytes": os.path.getsize(args.output), "order": args.order,
            "texts": len(texts), "characters": sum(len(t) for t in texts), "contexts": len(lm.tables[-1]),
            "source": args.text or (f"grammar train side, {args.sentences} requests, seed {args.seed}, "
                                    f"class fraction {args.class_fraction}"),
            "class": lm.has_class,
            "perplexity_per_char": {k: round(lm.perplexity(v), 3) for k, v in probes.items()}}


def add_lm_parser(sub, func) -> None:
    p = sub.add_parser("lm", help="`lm build`: the character LM fused in the beam search")
    p.add_argument("action", choices=("build",))
    p.add_argument("-o", "--output", default=None, help="the .npz to write (default models/artifacts/lm.npz)")
    p.add_argument("--order", type=int, default=DEFAULT_ORDER, help=f"n-gram order (default {DEFAULT_ORDER})")
    p.add_argument("--sentences", type=int, default=DEFAULT_SENTENCES,
                   help=f"grammar requests to train on (default {DEFAULT_SENTENCES})")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED)
    p.add_argument("--class-fraction", type=float, default=DEFAULT_CLASS_FRACTION,
                   help="of the contact names in the grammar's requests, the fraction replaced by the contact class "
                        "symbol (default 0: no class; 0.5 for class-based contact biasing)")
    p.add_argument("--text", metavar="FILE", help="train on this text instead (one request per line)")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.set_defaults(func=func)


def run_lm(args) -> int:
    if args.output is None:
        args.output = default_lm_path()
    if args.order < 1 or args.sentences < 1:
        print("edgeasr lm build: --order and --sentences must be at least 1", file=sys.stderr)
        return 2
    if not 0 <= args.class_fraction <= 1:
        print("edgeasr lm build: --class-fraction must lie in [0, 1]", file=sys.stderr)
        return 2
    try:
        out = run_build(args)
    except (OSError, ValueError) as e:
        print(f"edgeasr lm build: {e}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(out))
    else:
        print(f"{out['output']}: order {out['order']}, {out['contexts']} contexts, {out['bytes']} bytes, "
              f"from {out['texts']} requests ({out['characters']} characters; {out['source']})")
        print("perplexity per character: " + ", ".join(f"{k} {v}" for k, v in out["perplexity_per_char"].items()))
    return 0
