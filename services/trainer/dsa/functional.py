"""DSA math as pure functions on tensors: lightning-indexer scores, top-k key selection, the indexer's KL.

DeepSeek Sparse Attention (DeepSeek-V3.2-Exp tech report, github.com/deepseek-ai/DeepSeek-V3.2-Exp;
DeepSeek-V3.2, arXiv:2512.02556, section 2.1): a lightning indexer scores every preceding key,
`I[t,s] = sum_j w[t,j] * ReLU(q[t,j] . k[s])` (eq. 1), each query attends to its top-k keys only, and the
indexer learns to imitate the main attention through `KL(p[t,:] || softmax(I[t,:]))`, where `p` is the
main attention summed over heads and L1-normalised per query (eq. 3, dense warm-up; eq. 4 restricts both
to the selected keys in the sparse stage).
Shapes: B batch, T queries, S keys, H indexer heads (or Hq attention heads), d indexer head dim.
"""

from __future__ import annotations

import torch
from torch import Tensor


def index_scores(q: Tensor, k: Tensor, w: Tensor) -> Tensor:
    """(B, T, S) index scores `I[b,t,s] = sum_j w[b,t,j] * relu(q[b,t,j] . k[b,s])` (eq. 1).

    q: (B, T, H, d) per-head indexer queries; k: (B, S, d) one indexer key per token (shared by the
    heads); w: (B, T, H) per-query head weights. Causality is the caller's mask, not applied here.
    """
    if q.dim() != 4 or k.dim() != 3 or w.dim() != 3:
        raise ValueError(
            f"want q (B,T,H,d), k (B,S,d), w (B,T,H); got {tuple(q.shape)}, {tuple(k.shape)}, {tuple(w.shape)}"
        )
    dots = torch.einsum("bthd,bsd->bths", q, k)  # (B, T, H, S)
    return torch.einsum("bth,bths->bts", w, torch.relu(dots))  # (B, T, S)


def topk_keys(scores: Tensor, allowed: Tensor, k: int) -> Tensor:
    """(B, T, S) bool: per query, the `k` allowed keys of highest score (every allowed key when fewer).

    `allowed` (B, T, S) is the causal (and padding) mask; the selection never leaves it. Ties go to
    whichever `torch.topk` returns first. The selection is discrete: no gradient flows through it.
    """
    if k < 1:
        raise ValueError(f"topk must be >= 1, got {k}")
    k_eff = min(k, scores.shape[-1])
    masked = scores.detach().masked_fill(~allowed, float("-inf"))  # (B, T, S)
    index = masked.topk(k_eff, dim=-1).indices  # (B, T, k_eff)
    selected = torch.zeros_like(allowed).scatter_(-1, index, True)  # (B, T, S)
    return selected & allowed  # rows with fewer than k allowed keys picked some masked ones: drop them


def attention_target(probs: Tensor, keys: Tensor) -> Tensor:
    """(B, T, S) target distribution: attention probs (B, Hq, T, S) summed over heads, kept on `keys`
    (B, T, S) bool and L1-normalised per query (eq. 3/4's `p[t,:]`). A query with no key is all zeros."""
    summed = probs.sum(dim=1) * keys  # (B, T, S)
    total = summed.sum(dim=-1, keepdim=True)  # (B, T, 1)
    return summed / total.clamp_min(torch.finfo(summed.dtype).tiny)


def indexer_kl(target: Tensor, scores: Tensor, keys: Tensor) -> Tensor:
    """Scalar: mean over queries with at least one key of `KL(target[t] || softmax(scores[t] over keys))`.

    The direction is DeepSeek's (the dense attention is the target, first argument: eq. 3), i.e. the
    indexer's distribution is fitted by forward KL, covering every key the attention uses. The issue's
    wording "KL(indexer || dense)" names the same two distributions; we follow the paper. DeepSeek sums
    over queries; the mean keeps the scale independent of batch and sequence length. `target` is taken
    as given (detach it); 0 * log 0 counts as 0, so keys outside the target's support cost nothing.
    """
    neg = torch.finfo(torch.float32).min  # finite: an all-masked row must not turn into NaN gradients
    log_q = torch.log_softmax(scores.float().masked_fill(~keys, neg), dim=-1)  # (B, T, S)
    log_q = torch.where(keys, log_q, torch.zeros_like(log_q))
    p = target.float()
    log_p = torch.where(p > 0, p.clamp_min(torch.finfo(torch.float32).tiny).log(), torch.zeros_like(p))
    per_query = (p * (log_p - log_q)).sum(dim=-1)  # (B, T)
    rows = keys.any(dim=-1)  # (B, T)
    if not bool(rows.any()):
        return scores.sum() * 0.0  # nothing to fit, but keep the graph (and the device)
    return per_query[rows].mean()


def attention_recall(target: Tensor, selected: Tensor) -> Tensor:
    """Scalar: mean over queries of the target's mass on the selected keys (1.0: top-k keeps all of it).

    target: (B, T, S) head-summed, L1-normalised dense attention; selected: (B, T, S) bool top-k keys.
    """
    mass = (target * selected).sum(dim=-1)  # (B, T)
    rows = target.sum(dim=-1) > 0  # (B, T) queries that attend anywhere
    return mass[rows].mean() if bool(rows.any()) else mass.new_tensor(1.0)
