"""Vectorized RNN-T loss in plain PyTorch (torchaudio does not import beside torch 2.13 here).

The forward variable alpha[t, u] (log-probability of having emitted u labels by frame t) obeys
    alpha[t, u] = logaddexp(alpha[t-1, u] + blank[t-1, u], alpha[t, u-1] + emit[t, u-1]).
For a fixed t the second term is a running sum along u, so one frame is a single `logcumsumexp`:
    alpha[t, u] = E[u] + logcumsumexp_k(a[k] - E[k]),  a = alpha[t-1] + blank[t-1],  E[u] = sum_{j<u} emit[t, j].
The loop runs over T only; gradients come from autograd. Padded frames and labels beyond a
sequence's own lengths never feed back into its loss (alpha depends only on smaller t and u).
"""

import torch


def rnnt_loss_from_logprobs(blank_lp: torch.Tensor, emit_lp: torch.Tensor,
                            frames: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per-sequence negative log-likelihood, shape (B,).

    blank_lp: (B, T, U+1) log P(blank | t, u); emit_lp: (B, T, U) log P(y[u] | t, u);
    frames, labels: (B,) int lengths (1 <= frames <= T, 0 <= labels <= U).
    """
    assert blank_lp.ndim == 3 and emit_lp.ndim == 3, (blank_lp.shape, emit_lp.shape)
    B, T, U1 = blank_lp.shape
    assert emit_lp.shape == (B, T, U1 - 1), (blank_lp.shape, emit_lp.shape)
    zero = blank_lp.new_zeros(B, 1)
    E = torch.cat([blank_lp.new_zeros(B, T, 1), torch.cumsum(emit_lp, dim=2)], dim=2)          # (B, T, U+1)
    neg_inf = torch.finfo(blank_lp.dtype).min / 4
    a = torch.cat([zero, blank_lp.new_full((B, U1 - 1), neg_inf)], dim=1)  # "alpha[-1] + blank"
    alphas = []
    for t in range(T):
        alpha = E[:, t] + torch.logcumsumexp(a - E[:, t], dim=1)
        alphas.append(alpha)
        a = alpha + blank_lp[:, t]
    alphas = torch.stack(alphas, dim=1)                                   # (B, T, U+1)
    b = torch.arange(B, device=blank_lp.device)
    final = alphas[b, frames - 1, labels] + blank_lp[b, frames - 1, labels]
    return -final


def rnnt_loss(logits: torch.Tensor, targets: torch.Tensor, frames: torch.Tensor,
              labels: torch.Tensor, blank: int = 0, reduction: str = "mean") -> torch.Tensor:
    """RNN-T loss from joint logits (B, T, U+1, V) and targets (B, U) (padding: any valid index).

    reduction: "none" (B,), "sum", or "mean" (sum / B).
    """
    assert logits.ndim == 4, logits.shape
    lp = torch.log_softmax(logits.float(), dim=-1)
    blank_lp = lp[..., blank]
    U = targets.shape[1]
    idx = targets[:, None, :, None].expand(-1, lp.shape[1], U, 1)
    emit_lp = torch.gather(lp[:, :, :U], 3, idx).squeeze(3)
    nll = rnnt_loss_from_logprobs(blank_lp, emit_lp, frames, labels)
    if reduction == "none":
        return nll
    if reduction == "sum":
        return nll.sum()
    if reduction == "mean":
        return nll.mean()
    raise ValueError(f"reduction: expected none, sum or mean, got {reduction!r}")
