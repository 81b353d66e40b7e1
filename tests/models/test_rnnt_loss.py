"""The vectorized RNN-T loss against a brute-force sum over every alignment."""

import itertools

import numpy as np
import pytest
import torch

from edgeasr.models.rnnt_loss import rnnt_loss


def brute_force_nll(logits: np.ndarray, target: list[int], blank: int = 0) -> float:
    """-log of the sum over all alignments: T blanks and U labels, the last step a blank."""
    T, U1, _ = logits.shape
    U = U1 - 1
    lp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    total = 0.0
    for label_steps in itertools.combinations(range(T + U - 1), U):
        t = u = 0
        logp = 0.0
        for step in range(T + U):
            if step in label_steps:
                logp += lp[t, u, target[u]]
                u += 1
            else:
                logp += lp[t, u, blank]
                t += 1
        assert (t, u) == (T, U)
        total += np.exp(logp)
    return -np.log(total)


@pytest.mark.parametrize("seed", range(4))
def test_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    B, T, U, V = 3, 4, 3, 5
    logits = rng.standard_normal((B, T, U + 1, V)) * 2
    frames = np.array([4, 3, 2])
    labels = np.array([3, 2, 1])
    targets = rng.integers(1, V, size=(B, U))
    got = rnnt_loss(torch.tensor(logits), torch.tensor(targets), torch.tensor(frames),
                    torch.tensor(labels), reduction="none").numpy()
    for b in range(B):
        want = brute_force_nll(logits[b, : frames[b], : labels[b] + 1], list(targets[b, : labels[b]]))
        np.testing.assert_allclose(got[b], want, rtol=1e-5, err_msg=f"seed={seed} b={b}")


def test_gradient_is_finite_and_padding_is_ignored():
    rng = np.random.default_rng(7)
    logits = torch.tensor(rng.standard_normal((2, 6, 4, 6)), requires_grad=True)
    targets = torch.tensor([[1, 2, 3], [4, 5, 0]])
    loss = rnnt_loss(logits, targets, torch.tensor([6, 4]), torch.tensor([3, 2]))
    loss.backward()
    assert torch.isfinite(logits.grad).all()
    assert torch.all(logits.grad[1, 4:] == 0) and torch.all(logits.grad[1, :, 3:] == 0)
