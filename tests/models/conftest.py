import pytest
import torch


@pytest.fixture(scope="session")
def tiny_corpus():
    """The CI slice of the corpus (cached under data/ keyed by its config and seed)."""
    from edgeasr.models.corpus.build import CorpusConfig, build_corpus
    torch.set_num_threads(2)
    return build_corpus(CorpusConfig.tiny(0), progress=False)
