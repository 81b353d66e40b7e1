import pytest
import torch

# One thread: on the shared 2-core machine two torch threads spin-wait on each other under load.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_corpus():
    """The CI slice of the corpus (cached under data/ keyed by its config and seed)."""
    from edgeasr.models.corpus.build import CorpusConfig, build_corpus
    return build_corpus(CorpusConfig.tiny(0), progress=False)
