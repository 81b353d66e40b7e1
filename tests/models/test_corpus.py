"""The corpus: grammar coverage, held-out separation, voices per split, speech boundaries."""

import dataclasses
import json
import os

import numpy as np
import pytest

from edgeasr.models.corpus import augment, grammar, lexicon, tts
from edgeasr.models.corpus.build import load_split


def test_vocabulary_size():
    assert len(grammar.vocabulary()) >= 800


def test_rare_names_not_in_training_names():
    assert not set(lexicon.RARE_CONTACT_NAMES) & set(lexicon.CONTACT_NAMES)
    rng = np.random.default_rng(0)
    words = set(" ".join(grammar.sentences(3000, rng, "train")).split())
    assert not words & set(lexicon.RARE_CONTACT_NAMES)


def test_tiny_corpus_splits(tiny_corpus):
    train = load_split(tiny_corpus, "train")
    test = load_split(tiny_corpus, "test")
    dev = load_split(tiny_corpus, "dev")
    assert {u.voice["engine"] for u in train} <= set(tts.TRAIN_ENGINES)
    assert {u.voice["engine"] for u in test} == {"flite"}
    assert all(u.voice["name"] in tts.FLITE_VOICES for u in test)
    for u in test + dev:
        assert len(u.text.split()) <= 3 or grammar.sentence_split(u.text) == "heldout", u.text
        assert 0 < u.speech_start_s < u.speech_end_s <= len(u.audio) / 16000
    rare = load_split(tiny_corpus, "rare")
    assert all(set(u.text.split()) & set(lexicon.RARE_CONTACT_NAMES) for u in rare)
    rare_train = load_split(tiny_corpus, "rare_train")          # the same sentences, training voices
    assert len(rare_train) == 8 and {u.voice["engine"] for u in rare_train} <= set(tts.TRAIN_ENGINES)
    assert all(set(u.text.split()) & set(lexicon.RARE_CONTACT_NAMES) for u in rare_train)
    assert all(0 < u.speech_start_s < u.speech_end_s for u in rare_train)
    with open(os.path.join(tiny_corpus, "config.json")) as f:
        assert json.load(f)["name"] == "tiny"


def test_augment_keeps_speech_boundaries():
    rng = np.random.default_rng(5)
    speech = (np.sin(np.arange(16000) * 0.05) * 0.5).astype(np.float32)
    y, s0, s1 = augment.augment(speech, rng, augment.AugmentConfig(noise_prob=0.0, reverb_prob=0.0,
                                                                   pause_prob=0.0, gain_db=(0, 0)))
    i0, i1 = int(s0 * 16000), int(s1 * 16000)
    assert np.abs(y[: i0 - 1]).max() < 0.01 and np.abs(y[i1 + 1:]).max() < 0.01
    assert np.abs(y[i0: i1]).max() > 0.3


def test_plan_and_augmentation_are_deterministic():
    from edgeasr.models.corpus.build import CorpusConfig, _plan
    cfg = CorpusConfig.tiny(seed=11)
    assert _plan(cfg) == _plan(cfg)
    assert _plan(cfg) != _plan(CorpusConfig.tiny(seed=12))
    x = (np.random.default_rng(0).standard_normal(16000) * 0.1).astype(np.float32)
    a = augment.augment(x, np.random.default_rng([1, 2, 3]))
    b = augment.augment(x, np.random.default_rng([1, 2, 3]))
    np.testing.assert_array_equal(a[0], b[0])
    assert a[1:] == b[1:]


def test_voice_set_1_keeps_the_corpus_directories_made_before_voice_sets():
    from edgeasr.models.corpus.build import CorpusConfig
    legacy = {"name": "full", "seed": 0, "train": 9000, "pool": 2500, "dev": 400, "test": 400, "rare": 150}
    assert CorpusConfig.from_dict(legacy).voice_set == 1
    assert CorpusConfig.from_dict(legacy).key() == "full-8861d19d3a"     # the committed model's corpus
    assert CorpusConfig().key() != CorpusConfig(voice_set=1).key()


def test_voice_set_2_changes_only_the_training_voices():
    from edgeasr.models.corpus.build import CorpusConfig, _plan
    one, two = _plan(dataclasses.replace(CorpusConfig.tiny(seed=3), voice_set=1)), _plan(CorpusConfig.tiny(seed=3))
    for split in ("test", "rare"):
        assert one[split] == two[split]
    for split in ("train", "pool", "dev"):
        assert [u["text"] for u in one[split]] == [u["text"] for u in two[split]]
    rng = np.random.default_rng(0)
    voices = [tts.random_voice(rng, ("festival",), voice_set=2) for _ in range(200)]
    assert {v.name for v in voices} == set(tts.FESTIVAL_VOICE_SETS[2])
    assert all(tts.FESTIVAL_RATE[0] <= v.rate <= tts.FESTIVAL_RATE[1] for v in voices)
    assert all((v.f0_mean > 0) == v.name.endswith("_diphone") for v in voices)
    assert len({v.f0_mean for v in voices}) > 20
    with pytest.raises(ValueError, match="voice set"):
        tts.random_voice(rng, voice_set=9)


def _median_f0_hz(x: np.ndarray, sr: int = 16000) -> float:
    """Median autocorrelation pitch over the loud, clearly periodic 40 ms frames."""
    n, hop, out = int(0.04 * sr), int(0.01 * sr), []
    for i in range(0, len(x) - n, hop):
        s = x[i: i + n] - x[i: i + n].mean()
        ac = np.correlate(s, s, "full")[n - 1:]
        lo, hi = sr // 400, sr // 60
        k = lo + int(np.argmax(ac[lo:hi]))
        if (s ** 2).mean() > 1e-3 * np.max(x ** 2) and ac[k] > 0.4 * ac[0]:
            out.append(sr / k)
    return float(np.median(out))


def test_festival_prosody_sets_pitch_and_rate():
    text = "turn on the kitchen lights"
    own, high, slt, slt_fast = tts.synthesize([
        (text, tts.Voice("festival", "ked_diphone")),
        (text, tts.Voice("festival", "ked_diphone", rate=1.2, f0_mean=190, f0_std=20)),
        (text, tts.Voice("festival", "cmu_us_slt_arctic_hts")),
        (text, tts.Voice("festival", "cmu_us_slt_arctic_hts", rate=1.2))])
    assert _median_f0_hz(own) < 130 < 165 < _median_f0_hz(high)
    assert len(high) < 0.9 * len(own) and len(slt_fast) < 0.9 * len(slt)


def test_an_additive_split_joins_a_finished_corpus_and_changes_nothing_else(tiny_corpus, tmp_path):
    """A corpus built before `rare_train` existed gains it, byte for byte as a fresh build makes it,
    under the same key, and its other splits keep their bytes."""
    import shutil
    from edgeasr.models.corpus.build import ADDITIVE_SPLITS, CorpusConfig, _plan, build_corpus
    cfg = CorpusConfig.tiny(0)
    assert cfg.key() == dataclasses.replace(cfg, rare_train=99).key()
    assert all(_plan(cfg)[s] == _plan(dataclasses.replace(cfg, rare_train=99))[s]
               for s in ("train", "pool", "dev", "test", "rare"))
    old = tmp_path / "corpus" / cfg.key()
    shutil.copytree(tiny_corpus, old)
    for split in ADDITIVE_SPLITS:
        for f in old.glob(f"{split}*"):
            f.unlink()
    before = {f.name: f.read_bytes() for f in old.iterdir()}
    assert build_corpus(cfg, workers=1, data_dir=str(tmp_path), progress=False) == str(old)
    after = {f.name: f.read_bytes() for f in old.iterdir()}
    assert all(after[name] == data for name, data in before.items() if name != "config.json")
    for name in os.listdir(tiny_corpus):
        if name.startswith(ADDITIVE_SPLITS):
            assert after[name] == open(os.path.join(tiny_corpus, name), "rb").read(), name


def test_contact_slots_are_the_same_requests_with_their_name_words_marked():
    import numpy as np
    from edgeasr.models.corpus import grammar
    plain = grammar.sentences(2000, np.random.default_rng([3]))
    marked = grammar.contact_slots(2000, np.random.default_rng([3]))
    assert plain == [text for text, _ in marked]
    named = [(text.split(), slots) for text, slots in marked if slots]
    assert len(named) > 200
    for words, slots in named:
        assert all(words[i].removesuffix("'s") in grammar.lx.CONTACT_NAMES for i in slots)
    assert all(not slots for text, slots in marked if text.startswith("play something by bob dylan"))
