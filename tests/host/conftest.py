"""Shared host fixtures: a small exported RNN-T student (random init, 50% lane-balanced sparse, int4, seeded)."""

import pytest
import torch

from edgeasr.firmware.weight_codec import balanced_prune
from edgeasr.models.export import export_student
from edgeasr.models.rnnt import ModelConfig, Transducer

STUDENT_SEED = 3


@pytest.fixture(scope="session")
def small_student():
    torch.manual_seed(STUDENT_SEED)
    model = Transducer(ModelConfig(enc_hidden=32, enc_layers=2, embed=16, pred_hidden=32, joint=32))
    with torch.no_grad():
        for m in model.matrices().values():
            m.mask.copy_(torch.from_numpy(balanced_prune(m.weight.numpy(), 0.5, 16) != 0).float())
            m.bias.uniform_(-0.5, 0.5)
    return export_student(model, 4)
