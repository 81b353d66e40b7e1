"""A few training steps on the tiny slice lower the loss (float, 4-bit weight QAT, and 4-bit QAT with
every activation quantized as the device does)."""

import pytest
import torch

from edgeasr.models.corpus.build import load_split
from edgeasr.models.data import epoch_batches
from edgeasr.models.rnnt import ModelConfig, TIME_REDUCTION, Transducer
from edgeasr.models.rnnt_loss import rnnt_loss


@pytest.mark.parametrize("bits,activations", [(None, False), (4, False), (4, True)])
def test_few_steps_lower_the_loss(tiny_corpus, bits, activations):
    torch.manual_seed(0)
    utts = load_split(tiny_corpus, "train")[:8]
    batch = next(epoch_batches([u.audio for u in utts], [u.text for u in utts], 8, seed=0, epoch=0, stream=0))
    m = Transducer(ModelConfig(enc_hidden=32, enc_layers=2, embed=32, pred_hidden=32, joint=32))
    if bits:
        m.set_qat(bits, activations=activations)      # True: the exact, device-equal forward pass
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    losses = []
    for _ in range(12):
        logits, _ = m(batch.feats, batch.targets)
        loss = rnnt_loss(logits, batch.targets, batch.frames // TIME_REDUCTION, batch.labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0], losses
