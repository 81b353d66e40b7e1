"""The context-biasing benchmark's measures: name errors by alignment, the contact list."""

import pytest

from edgeasr.host.bench_bias import contact_list, name_errors
from edgeasr.models.corpus.lexicon import CONTACT_NAMES, RARE_CONTACT_NAMES


def test_name_errors_count_substituted_and_deleted_names_only():
    names = {"godfrey", "xanthe"}
    refs = ["call godfrey now", "text xanthe and godfrey", "turn on the lights", "call xanthe"]
    hyps = ["call godfrey now", "text santa and godfrey", "turn the lights", "call"]
    assert name_errors(refs, hyps, names) == (2, 4)        # xanthe substituted once, deleted once
    assert name_errors(["call godfrey"], [""], names) == (1, 1)


def test_contact_list_holds_every_rare_name_and_training_names():
    names = contact_list(100)
    assert len(names) == len(set(names)) == 100
    assert set(RARE_CONTACT_NAMES) <= set(names)
    assert set(names) - set(RARE_CONTACT_NAMES) <= set(CONTACT_NAMES)
    assert contact_list(100) == names                      # seeded
    with pytest.raises(ValueError, match="rare names"):
        contact_list(10)


def test_bench_tunes_mode_and_boost_within_the_no_name_budget(small_student):
    from edgeasr.host.bench_bias import run_bench_bias
    from edgeasr.host.reference_rnnt import ReferenceRnnt
    from edgeasr.models.corpus.build import CorpusConfig, build_corpus
    corpus = build_corpus(CorpusConfig.tiny(0), progress=False)
    out = run_bench_bias(ReferenceRnnt(small_student), corpus, boosts=(1.0, 4.0), max_rise=0.0, progress=False,
                         bonuses=(0.0, 3.0), ilm_weights=(0.0, 1.0))
    rows = {(r["mode"], r["boost"], r["ilm_weight"]): r for r in out["tuning"]}
    off = ("open", 0.0, 0.0)
    assert set(rows) == {off, ("open", 1.0, 0.0), ("open", 4.0, 0.0), ("carriers", 1.0, 0.0), ("carriers", 4.0, 0.0),
                         ("rescore", 0.0, 0.0), ("rescore", 3.0, 0.0), ("rescore", 0.0, 1.0), ("rescore", 3.0, 1.0)}
    base = rows[off]["no_name_wer"]
    allowed = [k for k, r in rows.items() if k != off and r["no_name_wer"] <= base]
    if not allowed:
        assert out["mode"] is None and "error" in out
        return
    best = min(allowed, key=lambda k: (rows[k]["name_wer"], k[1], k[2]))
    assert (out["mode"], out["boost"], out["ilm_weight"]) == best
    assert out["no_name_utterances"] > 0 and 0 <= out["name_wer_with_list"] <= 1


def test_an_lm_with_the_contact_class_adds_the_class_settings(small_student):
    import numpy as np
    from edgeasr.host.beam_search import BeamSearchConfig
    from edgeasr.host.bench_bias import run_bench_bias
    from edgeasr.host.char_lm import CLASS, CharNgramLM
    from edgeasr.host.lm_cli import with_class
    from edgeasr.host.reference_rnnt import ReferenceRnnt
    from edgeasr.models.corpus import grammar
    from edgeasr.models.corpus.build import CorpusConfig, build_corpus
    corpus = build_corpus(CorpusConfig.tiny(0), progress=False)
    texts = with_class(grammar.contact_slots(2000, np.random.default_rng([1])), 1.0, np.random.default_rng([2]))
    assert any(CLASS in t for t in texts)
    lm = CharNgramLM.train(texts, order=5)
    out = run_bench_bias(ReferenceRnnt(small_student), corpus, boosts=(1.0,), progress=False, bonuses=(0.0,),
                         ilm_weights=(0.0,), class_ilm_weights=(1.0,), search=BeamSearchConfig(beam=2, lm_weight=0.3),
                         lm=lm, limit=6, max_rise=1.0)
    rows = {(r["mode"], r["boost"], r["ilm_weight"]): r for r in out["tuning"]}
    assert ("class", 0.0, 1.0) in rows and 0 <= rows[("class", 0.0, 1.0)]["name_wer"] <= 1
    assert out["mode"] is not None and 0 <= out["name_wer_with_list"] <= 1
