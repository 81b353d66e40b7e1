"""Shared host fixtures: small exported RNN-T students (random init, 50% lane-balanced sparse, int4, seeded)."""

import pytest
import torch

from edgeasr.firmware.weight_codec import balanced_prune
from edgeasr.models.export import export_student
from edgeasr.models.rnnt import ModelConfig, Transducer

STUDENT_SEED = 3


def _small_student(enc_layers: int):
    torch.manual_seed(STUDENT_SEED)
    model = Transducer(ModelConfig(enc_hidden=32, enc_layers=enc_layers, embed=16, pred_hidden=32, joint=32))
    with torch.no_grad():
        for m in model.matrices().values():
            m.mask.copy_(torch.from_numpy(balanced_prune(m.weight.numpy(), 0.5, 16) != 0).float())
            m.bias.uniform_(-0.5, 0.5)
    return export_student(model, 4)


@pytest.fixture(scope="session")
def small_student():
    return _small_student(enc_layers=2)


@pytest.fixture(scope="session")
def small_three_layer_student():
    """The same with a third encoder layer (`edgeasr train --student-layers 3`)."""
    return _small_student(enc_layers=3)
