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
