"""Gradual lane-balanced sparsification: exact targets, balanced lane groups, zeros stay zero."""

import numpy as np
import torch

from edgeasr.firmware.weight_codec import lane_groups
from edgeasr.models.sparsity import NEP_LANES, SparsitySchedule, balanced_mask


def test_schedule_hits_target_exactly():
    s = SparsitySchedule(final=0.5, start_step=10, end_step=110)
    assert s.target(0) == 0.0 and s.target(10) == 0.0
    assert s.target(110) == 0.5 and s.target(10_000) == 0.5
    t = [s.target(k) for k in range(0, 200)]
    assert all(b >= a for a, b in zip(t, t[1:]))


def test_balanced_mask_is_exact_per_lane_group_and_monotone():
    rng = np.random.default_rng(0)
    rows, cols = 40, 480           # the student's widest matrix; cols a multiple of 2 * lanes
    w = torch.tensor(rng.standard_normal((rows, cols)), dtype=torch.float32)
    sched = SparsitySchedule(final=0.5, start_step=0, end_step=10)
    mask = torch.ones_like(w)
    for step in range(0, 12):
        new = balanced_mask(w * mask, sched.target(step), NEP_LANES)
        assert torch.all(new <= mask), f"step {step}: a pruned weight came back"
        mask = new
    assert float((mask == 0).float().mean()) == 0.5
    m = mask.numpy()
    for seg in lane_groups(cols, NEP_LANES):
        for cols_of_lane in seg:
            np.testing.assert_array_equal(m[:, cols_of_lane].sum(1), len(cols_of_lane) // 2)
