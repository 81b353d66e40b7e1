"""Gradual, lane-balanced sparsification.

The target sparsity follows the cubic schedule of Zhu & Gupta (2017):
    s(step) = s_final * (1 - (1 - p)**3),  p = clip((step - start) / (end - start), 0, 1),
so it rises quickly then settles, and equals s_final exactly from `end` on. At each update the
mask comes from `weight_codec.balanced_prune` (the NEP's lane-group geometry): every lane's group
of a (row, segment) keeps the same count of largest-magnitude weights, so the lanes stay equally
busy. Pruned weights are set to zero and kept there (the mask multiplies the weight in the forward
pass and masks its gradient); since zeros rank lowest, a later, higher target never revives them.
"""

import dataclasses

import numpy as np
import torch

from ..firmware.weight_codec import balanced_prune

NEP_LANES = 16


@dataclasses.dataclass(frozen=True)
class SparsitySchedule:
    final: float = 0.5
    start_step: int = 0
    end_step: int = 1000

    def target(self, step: int) -> float:
        if self.end_step <= self.start_step:
            return self.final if step >= self.start_step else 0.0
        p = min(max((step - self.start_step) / (self.end_step - self.start_step), 0.0), 1.0)
        return self.final * (1.0 - (1.0 - p) ** 3)


def balanced_mask(weight: torch.Tensor, sparsity: float, lanes: int = NEP_LANES) -> torch.Tensor:
    """0/1 mask of `weight`'s shape keeping, per lane group, the largest magnitudes.

    `balanced_prune` is given |w| + 1 so that no entry is zero: the kept count per group is then
    exact, and previously pruned weights (|w| + 1 = 1) still rank below every surviving one.
    """
    w = weight.detach().abs().double().cpu().numpy() + 1.0
    kept = balanced_prune(w, sparsity, lanes) != 0
    return torch.from_numpy(kept.astype(np.float32)).to(weight.device)


def sparsity_of(weight: torch.Tensor) -> float:
    return float((weight == 0).float().mean())
