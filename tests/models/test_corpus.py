"""The corpus: grammar coverage, held-out separation, voices per split, speech boundaries."""

import json
import os

import numpy as np

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
