"""Build (or load from cache) the synthetic corpus: `build_corpus(cfg)` -> directory.

Layout under `data/corpus/<name>-<hash of config>/`:
  `<split>.jsonl`   one utterance per line: id, text, voice, chunk, offset, n_samples and, for
                    pre-augmented splits, speech_start_s / speech_end_s.
  `<split>_<k>.npy` int16 waveforms of chunk k, concatenated (offset/n_samples index them).
  `config.json`     the config that made it; `DONE` marks a complete build.
Splits: train (training sentences, training voices; clean, augmented afresh each epoch by the
trainer), pool (same, transcripts never used: teacher-student distillation), dev (held-out
sentences, training voices, augmented once), test (held-out sentences, flite voices, augmented
once), rare (sentences naming `RARE_CONTACT_NAMES`, flite voices, augmented once), rare_train (the
same kind of sentences spoken by the training voices, augmented once: context biasing measured
apart from the held-out voices). The voice set changes only the training voices: test and rare are
the same for every set.
Every split draws from its own seeded generators, so a split added later (`ADDITIVE_SPLITS`) leaves
the others' bytes alone: it is left out of the corpus key, and `build_corpus` adds it to a finished
corpus that lacks it.
The same config and seed give the same bytes whatever the worker count.
"""

import dataclasses
import hashlib
import json
import multiprocessing
import os
import shutil

import numpy as np
from tqdm import tqdm

from . import augment as aug
from . import grammar, tts

DATA_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                        "data")
CHUNK = 40
SPLITS = ("train", "pool", "dev", "test", "rare", "rare_train")     # the order fixes each split's seed
AUGMENTED_SPLITS = ("dev", "test", "rare", "rare_train")
ADDITIVE_SPLITS = ("rare_train",)


@dataclasses.dataclass(frozen=True)
class CorpusConfig:
    name: str = "full"
    seed: int = 0
    train: int = 9000
    pool: int = 2500
    dev: int = 400
    test: int = 400
    rare: int = 150
    rare_train: int = 150
    voice_set: int = 2           # `tts.FESTIVAL_VOICE_SETS`; corpora made before it existed used 1

    @classmethod
    def tiny(cls, seed: int = 0) -> "CorpusConfig":
        return cls(name="tiny", seed=seed, train=48, pool=16, dev=16, test=16, rare=8, rare_train=8)

    @classmethod
    def from_dict(cls, d: dict) -> "CorpusConfig":
        """A saved config; one saved before `voice_set` existed was made with voice set 1, and one
        saved before an additive split existed gets that split at its default size."""
        return cls(**{"voice_set": 1, **d})

    def key(self) -> str:
        """name-hash of the config; voice set 1 and the additive splits are left out of the hash,
        so the corpora made before these fields existed keep their directories."""
        d = dataclasses.asdict(self)
        if d["voice_set"] == 1:
            del d["voice_set"]
        for split in ADDITIVE_SPLITS:
            del d[split]
        h = hashlib.sha1(json.dumps(d, sort_keys=True).encode()).hexdigest()
        return f"{self.name}-{h[:10]}"


def _plan(cfg: CorpusConfig) -> dict[str, list[dict]]:
    """Texts and voices for every split, drawn from per-split seeded generators."""
    plan = {}
    for si, split in enumerate(SPLITS):
        n = getattr(cfg, split)
        rng = np.random.default_rng([cfg.seed, si])
        if split in ("rare", "rare_train"):
            texts = grammar.rare_name_sentences(n, rng)
        else:
            texts = grammar.sentences(n, rng, "train" if split in ("train", "pool") else "heldout")
        engines = tts.TEST_ENGINES if split in ("test", "rare") else tts.TRAIN_ENGINES
        plan[split] = [{"id": f"{split}-{i:06d}", "text": t,
                        "voice": dataclasses.asdict(tts.random_voice(rng, engines, voice_set=cfg.voice_set))}
                       for i, t in enumerate(texts)]
    return plan


def _work(job):
    """Synthesize one chunk; returns (split, k, records, int16 audio)."""
    split, k, items, seed, si = job
    waves = tts.synthesize([(it["text"], tts.Voice(**it["voice"])) for it in items])
    recs, parts, off = [], [], 0
    for j, (it, w) in enumerate(zip(items, waves)):
        w = aug.peak_normalize(aug.trim(w))
        rec = dict(it)
        if split in AUGMENTED_SPLITS:
            rng = np.random.default_rng([seed, si, k * CHUNK + j, 7])
            w, s0, s1 = aug.augment(w, rng)
            rec["speech_start_s"], rec["speech_end_s"] = round(s0, 4), round(s1, 4)
        q = np.clip(np.round(w * 32767), -32768, 32767).astype(np.int16)
        rec.update(chunk=k, offset=off, n_samples=len(q))
        off += len(q)
        recs.append(rec)
        parts.append(q)
    return split, k, recs, np.concatenate(parts)


def build_corpus(cfg: CorpusConfig, workers: int = 2, data_dir: str = DATA_DIR,
                 progress: bool = True) -> str:
    """The corpus directory for `cfg`, synthesizing it first unless it is cached (a cached corpus
    without one of the `ADDITIVE_SPLITS` gets it)."""
    out = os.path.join(data_dir, "corpus", cfg.key())
    plan = _plan(cfg)
    if os.path.exists(os.path.join(out, "DONE")):
        missing = [s for s in ADDITIVE_SPLITS if not os.path.exists(os.path.join(out, f"{s}.jsonl"))]
        if missing:
            _synthesize(cfg, {s: plan[s] for s in missing}, out, workers, progress)
            _write_config(cfg, out)
        return out
    tmp = out + ".partial"
    os.makedirs(tmp, exist_ok=True)
    _synthesize(cfg, plan, tmp, workers, progress)
    _write_config(cfg, tmp)
    open(os.path.join(tmp, "DONE"), "w").close()
    if os.path.exists(out):
        shutil.rmtree(out)
    os.rename(tmp, out)
    return out


def _synthesize(cfg: CorpusConfig, plan: dict[str, list[dict]], into: str, workers: int, progress: bool) -> None:
    """The planned splits as chunk files and `<split>.jsonl` in `into` (chunks already there are kept:
    an interrupted build resumes)."""
    jobs = []
    for split, items in plan.items():
        si = SPLITS.index(split)
        for k in range(0, len(items), CHUNK):
            if not os.path.exists(os.path.join(into, f"{split}_{k // CHUNK}.json")):
                jobs.append((split, k // CHUNK, items[k: k + CHUNK], cfg.seed, si))
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        for split, k, recs, audio in tqdm(pool.imap_unordered(_work, jobs), total=len(jobs),
                                          desc=f"corpus {cfg.key()}", unit="chunk",
                                          disable=not progress):
            np.save(os.path.join(into, f"{split}_{k}.npy"), audio)
            with open(os.path.join(into, f"{split}_{k}.json"), "w") as f:
                json.dump(recs, f)
    for split, items in plan.items():
        with open(os.path.join(into, f"{split}.jsonl.tmp"), "w") as f:
            for k in range(0, -(-len(items) // CHUNK)):
                for rec in json.load(open(os.path.join(into, f"{split}_{k}.json"))):
                    f.write(json.dumps(rec) + "\n")
        os.replace(os.path.join(into, f"{split}.jsonl.tmp"), os.path.join(into, f"{split}.jsonl"))
        for k in range(0, -(-len(items) // CHUNK)):
            os.remove(os.path.join(into, f"{split}_{k}.json"))


def _write_config(cfg: CorpusConfig, into: str) -> None:
    with open(os.path.join(into, "config.json"), "w") as f:
        json.dump(dataclasses.asdict(cfg), f, indent=1)


@dataclasses.dataclass
class Utterance:
    id: str
    text: str
    voice: dict
    audio: np.ndarray                 # float32, 16 kHz
    speech_start_s: float | None = None
    speech_end_s: float | None = None


def load_split(corpus_dir: str, split: str) -> list[Utterance]:
    """All utterances of one split, audio as float32."""
    chunks: dict[int, np.ndarray] = {}
    out = []
    with open(os.path.join(corpus_dir, f"{split}.jsonl")) as f:
        for line in f:
            r = json.loads(line)
            if r["chunk"] not in chunks:
                chunks[r["chunk"]] = np.load(os.path.join(corpus_dir, f"{split}_{r['chunk']}.npy"))
            a = chunks[r["chunk"]][r["offset"]: r["offset"] + r["n_samples"]]
            out.append(Utterance(r["id"], r["text"], r["voice"], a.astype(np.float32) / 32767,
                                 r.get("speech_start_s"), r.get("speech_end_s")))
    return out
