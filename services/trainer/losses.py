"""GRPO-family losses as pure functions on tensors: group advantages, log-probs, k3 KL, clipped surrogate.

One `policy_loss` covers GRPO (token-level ratio, arXiv 2402.03300), GSPO (sequence-level ratio,
arXiv 2507.18071), DAPO's token-sum aggregation (arXiv 2503.14476) and LUSPO's length weighting
(arXiv 2602.05261). Every aggregation matches TRL 1.16's `GRPOTrainer._compute_loss` for one batch
without gradient accumulation (tests/trainer/test_losses_trl.py runs TRL's own code to check it).
Shapes: B sequences, T completion tokens, V vocabulary, G completions per prompt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

Level = Literal["token", "sequence"]
LossType = Literal["grpo", "dapo", "luspo"]


def _grouped(rewards: Tensor, group_size: int) -> Tensor:
    if rewards.dim() != 1 or group_size < 1 or rewards.numel() % group_size:
        raise ValueError(f"rewards must be (groups * {group_size},), got shape {tuple(rewards.shape)}")
    return rewards.view(-1, group_size)  # (B/G, G), the layout is group after group


def zero_variance_groups(rewards: Tensor, group_size: int) -> Tensor:
    """(B/G,) bool: True where every reward of the group is the same (DAPO drops those groups)."""
    grouped = _grouped(rewards, group_size)
    return (grouped == grouped[:, :1]).all(dim=1)


def group_advantages(rewards: Tensor, group_size: int, eps: float = 1e-4) -> Tensor:
    """(B,) advantages (r - group mean) / (group std + eps); a group of equal rewards gets exactly 0.

    The std is the unbiased one (Bessel's n - 1), as TRL's `nanstd` computes it for GRPOTrainer's
    `scale_rewards="group"`; eps 1e-4 is TRL's too. Without the guard a zero-variance group would
    give rounding noise / eps (the mean of equal floats need not equal them exactly).
    """
    grouped = _grouped(rewards, group_size)  # (B/G, G)
    mean = grouped.mean(dim=1, keepdim=True)
    std = grouped.std(dim=1, unbiased=True, keepdim=True) if group_size > 1 else torch.zeros_like(mean)
    advantages = (grouped - mean) / (std + eps)
    flat = zero_variance_groups(rewards, group_size).unsqueeze(1)  # (B/G, 1)
    return torch.where(flat, torch.zeros_like(advantages), advantages).reshape(-1)


def selective_log_probs(logits: Tensor, ids: Tensor, temperature: float = 1.0) -> Tensor:
    """(B, T, V) logits, (B, T) ids -> (B, T) float32 log-probs of `ids` under softmax(logits / temperature).

    Row by row, so at most one (T, V) float32 copy exists at a time, never one of the whole batch
    (bf16 logits of a 512-token, 150k-vocabulary batch would otherwise double in float32).
    Dividing by the sampling temperature is TRL's convention: the ratio then compares the
    distributions the completions were actually drawn from.
    """
    if temperature <= 0:
        raise ValueError("temperature must be > 0")
    if logits.dim() != 3 or ids.shape != logits.shape[:2]:
        raise ValueError(f"logits (B, T, V) and ids (B, T) expected, got {tuple(logits.shape)} and {tuple(ids.shape)}")
    rows = []
    for row_logits, row_ids in zip(logits, ids, strict=True):
        row = row_logits.float()  # (T, V); a no-op for float32 logits
        if temperature != 1.0:
            row = row / temperature
        picked = row.gather(-1, row_ids.unsqueeze(-1)).squeeze(-1)  # (T,)
        rows.append(picked - torch.logsumexp(row, dim=-1))
    if not rows:
        return logits.new_zeros(ids.shape, dtype=torch.float32)
    return torch.stack(rows)  # (B, T)


def kl_k3(logp: Tensor, ref_logp: Tensor) -> Tensor:
    """Per-token k3 estimator of KL(pi || ref): exp(ref - logp) - (ref - logp) - 1 (>= 0, unbiased).

    http://joschu.net/blog/kl-approx.html; GRPO's KL term (arXiv 2402.03300, eq. 4).
    """
    delta = ref_logp - logp
    return torch.exp(delta) - delta - 1


@dataclass
class PolicyLossOutput:
    loss: Tensor  # scalar, differentiable
    kl: float  # masked mean k3 to the reference (0.0 without one)
    clip_frac: float  # share of counted tokens (sequences for level "sequence") where the clip bit
    ratio_mean: float  # mean importance ratio over the same units (1.0 when nothing counts)


def _check_shapes(logp: Tensor, old_logp: Tensor, advantages: Tensor, mask: Tensor, ref_logp: Tensor | None) -> None:
    shapes = {"old_logp": old_logp.shape, "mask": mask.shape}
    if ref_logp is not None:
        shapes["ref_logp"] = ref_logp.shape
    if logp.dim() != 2:
        raise ValueError(f"logp must be (B, T), got {tuple(logp.shape)}")
    for name, shape in shapes.items():
        if shape != logp.shape:
            raise ValueError(f"{name} must have logp's shape {tuple(logp.shape)}, got {tuple(shape)}")
    if advantages.shape != logp.shape[:1]:
        raise ValueError(f"advantages must be (B,) = ({logp.shape[0]},), got {tuple(advantages.shape)}")


def _aggregate(per_token: Tensor, weights: Tensor, loss_type: LossType) -> Tensor:
    """per_token (B, T) or (B, 1), weights (B, T) -> scalar, as TRL 1.16 aggregates each loss_type."""
    summed = (per_token * weights).sum(dim=-1)  # (B,)
    if loss_type == "grpo":  # each sequence's token mean, then the mean over sequences
        return (summed / weights.sum(dim=-1).clamp(min=1.0)).mean()
    if loss_type == "dapo":  # every token of the batch counts once
        return summed.sum() / weights.sum().clamp(min=1.0)
    # luspo: each sequence's loss times its length (a token sum), then the mean over sequences
    return summed.mean()


def _mean(values: Tensor, weights: Tensor, empty: float) -> float:
    total = weights.sum()
    return float((values * weights).sum() / total) if total > 0 else empty


def policy_loss(
    logp: Tensor,
    old_logp: Tensor,
    advantages: Tensor,
    mask: Tensor,
    *,
    level: Level,
    loss_type: LossType,
    clip_low: float,
    clip_high: float,
    ref_logp: Tensor | None = None,
    beta: float = 0.0,
    kl_bias_correction: bool = False,
) -> PolicyLossOutput:
    """Clipped surrogate -min(r A, clip(r, 1 - clip_low, 1 + clip_high) A) plus beta * k3, aggregated by loss_type.

    logp, old_logp, ref_logp, mask: (B, T); advantages: (B,). level "token": r = exp(logp - old_logp)
    per token (GRPO). level "sequence": r = exp(masked mean_t (logp - old_logp)), one per sequence (GSPO),
    kept as a (B, 1) tensor that broadcasts over the tokens exactly as TRL does (no detach: the gradient
    flows through the mean). loss_type: "grpo" token mean per sequence then mean over sequences; "dapo"
    sum over all tokens / number of tokens; "luspo" token sum per sequence (= length x sequence loss)
    then mean over sequences. kl_bias_correction multiplies k3 by r (TRL's `use_bias_correction_kl`,
    default True there, off here: plain k3 is the seed's GRPO). Masked positions may hold anything
    finite or not: they are zeroed before any exp, so an all-masked row adds 0 and no NaN.
    """
    if level not in ("token", "sequence"):
        raise ValueError(f"level must be token or sequence, not {level!r}")
    if loss_type not in ("grpo", "dapo", "luspo"):
        raise ValueError(f"loss_type must be grpo, dapo or luspo, not {loss_type!r}")
    if beta > 0 and ref_logp is None:
        raise ValueError("beta > 0 needs ref_logp (the frozen reference's log-probs)")
    _check_shapes(logp, old_logp, advantages, mask, ref_logp)

    weights = mask.to(logp.dtype)  # (B, T)
    counted = weights != 0
    zero = torch.zeros_like(logp)
    log_ratio = torch.where(counted, logp - old_logp, zero)  # (B, T)
    lengths = weights.sum(dim=-1)  # (B,)
    if level == "token":
        log_weight = log_ratio  # (B, T)
    else:
        log_weight = ((log_ratio * weights).sum(dim=-1) / lengths.clamp(min=1.0)).unsqueeze(-1)  # (B, 1)
    ratio = torch.exp(log_weight)
    adv = advantages.to(logp.dtype).unsqueeze(-1)  # (B, 1)
    clipped_ratio = torch.clamp(ratio, 1 - clip_low, 1 + clip_high)
    per_token = -torch.min(ratio * adv, clipped_ratio * adv)  # (B, T) or (B, 1)

    kl_value = 0.0
    if ref_logp is not None:
        k3 = kl_k3(torch.where(counted, logp, zero), torch.where(counted, ref_logp, zero))  # (B, T), 0 off-mask
        kl_value = _mean(k3.detach(), weights, 0.0)
        if beta > 0:
            per_token = per_token + beta * (k3 * ratio if kl_bias_correction else k3)

    loss = _aggregate(per_token, weights, loss_type)

    # Clipped where the clip changed the objective (TRL's clip_ratio/region_mean): below with A < 0, above with A > 0.
    with torch.no_grad():
        hit = ((ratio < 1 - clip_low) & (adv < 0)) | ((ratio > 1 + clip_high) & (adv > 0))
        # tokens, or (B, 1) one unit per sequence that has a counted token
        unit_weights = weights if level == "token" else (lengths > 0).to(logp.dtype).unsqueeze(-1)
        clip_frac = _mean(hit.to(logp.dtype), unit_weights, 0.0)
        ratio_mean = _mean(ratio, unit_weights, 1.0)
    return PolicyLossOutput(loss=loss, kl=kl_value, clip_frac=clip_frac, ratio_mean=ratio_mean)
