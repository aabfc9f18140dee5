"""services/trainer/losses.py on hand-computed tensors: every term, every aggregation, the edge rows."""

from __future__ import annotations

import math

import pytest
import torch

from services.trainer.losses import (
    group_advantages,
    kl_k3,
    policy_loss,
    selective_log_probs,
    zero_variance_groups,
)

LN = math.log


def t(*rows: object) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float32)


# --------------------------------------------------------------------------- advantages


def test_group_advantages_hand_computed() -> None:
    # group 1: mean 0.25, unbiased std sqrt((0.75^2 + 3 * 0.25^2) / 3) = 0.5; group 2: mean 0.5, std sqrt(0.5)
    rewards = t(1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0)
    adv = group_advantages(rewards, 4)
    a, b = 0.75 / (0.5 + 1e-4), -0.25 / (0.5 + 1e-4)
    c = 0.5 / (math.sqrt(1 / 3) + 1e-4)  # std of (1, 0, 1, 0): sqrt(4 * 0.25 / 3)
    assert adv.tolist() == pytest.approx([a, b, b, b, c, -c, c, -c], rel=1e-6)


def test_group_advantages_zero_variance_is_exactly_zero() -> None:
    # 0.3 is not exact in binary: the group mean may differ from it by an ulp, which / 1e-4 would not be 0
    rewards = torch.tensor([0.3] * 7 + [1.0, 0.0, 0.5, 0.5, 0.5, 0.5, 0.5], dtype=torch.float32)
    adv = group_advantages(rewards, 7)
    assert torch.equal(adv[:7], torch.zeros(7))
    assert adv[7:].abs().sum() > 0 and torch.isfinite(adv).all()
    assert torch.equal(group_advantages(torch.ones(6), 2), torch.zeros(6))


def test_group_advantages_group_of_one_and_bad_shapes() -> None:
    assert torch.equal(group_advantages(t(3.0, -1.0), 1), torch.zeros(2))  # no spread to measure
    with pytest.raises(ValueError):
        group_advantages(t(1.0, 2.0, 3.0), 2)
    with pytest.raises(ValueError):
        group_advantages(torch.zeros(2, 2), 2)


def test_zero_variance_groups() -> None:
    rewards = t(1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.3, 0.3)
    assert zero_variance_groups(rewards, 2).tolist() == [True, False, True, True]
    assert zero_variance_groups(rewards, 4).tolist() == [False, False]


# --------------------------------------------------------------------------- log-probs and KL


def test_selective_log_probs_hand_computed_with_temperature() -> None:
    logits = torch.tensor([[[LN(1), LN(2), LN(3)], [0.0, 0.0, 0.0]]])  # (1, 2, 3)
    ids = torch.tensor([[2, 1]])
    assert selective_log_probs(logits, ids).tolist()[0] == pytest.approx([LN(3 / 6), LN(1 / 3)], abs=1e-6)
    # T = 2: logits / 2 -> weights 1, sqrt 2, sqrt 3
    z = 1 + math.sqrt(2) + math.sqrt(3)
    got = selective_log_probs(logits, ids, temperature=2.0)[0, 0].item()
    assert got == pytest.approx(LN(math.sqrt(3) / z), abs=1e-6)
    with pytest.raises(ValueError):
        selective_log_probs(logits, ids, temperature=0.0)


def test_selective_log_probs_matches_log_softmax_bf16_and_grad() -> None:
    g = torch.Generator().manual_seed(0)
    logits = (3 * torch.randn(3, 5, 11, generator=g)).to(torch.bfloat16).requires_grad_()
    ids = torch.randint(0, 11, (3, 5), generator=g)
    got = selective_log_probs(logits, ids, temperature=0.7)
    assert got.dtype == torch.float32 and got.shape == (3, 5)
    want = (logits.float() / 0.7).log_softmax(-1).gather(-1, ids.unsqueeze(-1)).squeeze(-1)
    assert torch.allclose(got, want, atol=1e-6)
    got.sum().backward()
    assert logits.grad is not None and torch.isfinite(logits.grad.float()).all()


def test_kl_k3_hand_computed() -> None:
    # delta = ln(0.25 / 0.5) -> 0.5 + ln 2 - 1
    assert kl_k3(t(LN(0.5)), t(LN(0.25))).item() == pytest.approx(0.5 + LN(2) - 1, abs=1e-6)
    assert kl_k3(t(-1.3, 0.0), t(-1.3, 0.0)).tolist() == [0.0, 0.0]
    g = torch.Generator().manual_seed(1)
    assert (kl_k3(torch.randn(50, generator=g), torch.randn(50, generator=g)) >= 0).all()


# --------------------------------------------------------------------------- token and sequence ratios, clipping


def _loss(log_ratio: list[list[float]], adv: list[float], **kw: object) -> tuple[torch.Tensor, object]:
    logp = torch.tensor(log_ratio, requires_grad=True)
    old = torch.zeros_like(logp)
    mask = kw.pop("mask", torch.ones_like(logp))
    out = policy_loss(logp, old, torch.tensor(adv), mask, **kw)  # type: ignore[arg-type]
    out.loss.backward()
    return logp.grad, out  # type: ignore[return-value]


def test_token_ratio_clipping_positive_advantage() -> None:
    # ratios 1.5 and 0.5, A = +1, clip 0.2: min(1.5, 1.2) = 1.2 (clipped, no gradient), min(0.5, 0.8) = 0.5
    grad, out = _loss([[LN(1.5), LN(0.5)]], [1.0], level="token", loss_type="grpo", clip_low=0.2, clip_high=0.2)
    assert out.loss.item() == pytest.approx(-(1.2 + 0.5) / 2, abs=1e-6)
    assert grad.tolist()[0] == pytest.approx([0.0, -0.5 / 2], abs=1e-6)  # d(-r A)/dlogp = -r, / 2 tokens
    assert out.clip_frac == pytest.approx(0.5)  # only the high side counts for A > 0
    assert out.ratio_mean == pytest.approx(1.0)


def test_token_ratio_clipping_negative_advantage_asymmetric() -> None:
    # A = -1, clip low 0.2 / high 0.28: ratio 1.5 -> min(-1.5, -1.28) = -1.5; ratio 0.5 -> min(-0.5, -0.8) = -0.8
    grad, out = _loss([[LN(1.5), LN(0.5)]], [-1.0], level="token", loss_type="grpo", clip_low=0.2, clip_high=0.28)
    assert out.loss.item() == pytest.approx((1.5 + 0.8) / 2, abs=1e-6)
    assert grad.tolist()[0] == pytest.approx([1.5 / 2, 0.0], abs=1e-6)
    assert out.clip_frac == pytest.approx(0.5)  # the low side, A < 0
    # ratio 1.25 with A > 0 sits inside 1 + 0.28 but outside 1 + 0.2
    _, inside = _loss([[LN(1.25)]], [1.0], level="token", loss_type="grpo", clip_low=0.2, clip_high=0.28)
    _, outside = _loss([[LN(1.25)]], [1.0], level="token", loss_type="grpo", clip_low=0.2, clip_high=0.2)
    assert (inside.loss.item(), inside.clip_frac) == (pytest.approx(-1.25), 0.0)
    assert (outside.loss.item(), outside.clip_frac) == (pytest.approx(-1.2), 1.0)


def test_sequence_ratio_is_exp_of_mean_log_ratio() -> None:
    # s = exp((ln 1.5 + ln 0.5) / 2) = sqrt(0.75); inside 1 +- 0.2
    s = math.sqrt(0.75)
    grad, out = _loss([[LN(1.5), LN(0.5)]], [1.0], level="sequence", loss_type="grpo", clip_low=0.2, clip_high=0.2)
    assert out.loss.item() == pytest.approx(-s, abs=1e-6)
    assert grad.tolist()[0] == pytest.approx([-s / 2, -s / 2], abs=1e-6)  # ds/dlogp_t = s / L for every token
    assert out.ratio_mean == pytest.approx(s) and out.clip_frac == 0.0
    # clip 0.1: s < 0.9; A > 0 keeps s (min), A < 0 takes the clipped 0.9 and loses the gradient
    grad, out = _loss([[LN(1.5), LN(0.5)]], [1.0], level="sequence", loss_type="grpo", clip_low=0.1, clip_high=0.1)
    assert out.loss.item() == pytest.approx(-s, abs=1e-6) and out.clip_frac == 0.0
    grad, out = _loss([[LN(1.5), LN(0.5)]], [-1.0], level="sequence", loss_type="grpo", clip_low=0.1, clip_high=0.1)
    assert out.loss.item() == pytest.approx(0.9, abs=1e-6) and out.clip_frac == 1.0
    assert grad.abs().sum().item() == 0.0


def test_sequence_ratio_ignores_masked_tokens_and_clip_frac_counts_sequences() -> None:
    # row 0 counts tokens 0 and 1 only (the third holds garbage), row 1 has ratio e^0.5 and A > 0: clipped
    mask = t([1.0, 1.0, 0.0], [1.0, 1.0, 1.0])
    log_ratio = [[LN(1.5), LN(0.5), 50.0], [0.5, 0.5, 0.5]]
    kw = {"level": "sequence", "loss_type": "grpo", "clip_low": 0.2, "clip_high": 0.2}
    _, out = _loss(log_ratio, [1.0, 1.0], mask=mask, **kw)
    assert out.loss.item() == pytest.approx(-(math.sqrt(0.75) + 1.2) / 2, abs=1e-6)
    assert out.clip_frac == pytest.approx(0.5)
    assert out.ratio_mean == pytest.approx((math.sqrt(0.75) + math.exp(0.5)) / 2, abs=1e-6)


# --------------------------------------------------------------------------- aggregation by loss_type


@pytest.mark.parametrize(
    ("loss_type", "want"),
    [
        ("grpo", (-1.0 + 2.0) / 2),  # token mean per sequence, then mean over the 2 sequences
        ("dapo", (-3.0 + 2.0) / 4),  # sum over the 4 tokens / 4
        ("luspo", (-3.0 + 2.0) / 2),  # token sum per sequence (length x mean), then mean over sequences
    ],
)
@pytest.mark.parametrize("level", ["token", "sequence"])
def test_aggregation(loss_type: str, want: float, level: str) -> None:
    # ratio 1 everywhere, so per-token loss = -A: row 0 has 3 tokens with A = 1, row 1 one token with A = -2
    mask = t([1.0, 1.0, 1.0], [1.0, 0.0, 0.0])
    kw = {"level": level, "loss_type": loss_type, "clip_low": 0.2, "clip_high": 0.2}
    _, out = _loss([[0.0] * 3, [0.0] * 3], [1.0, -2.0], mask=mask, **kw)
    assert out.loss.item() == pytest.approx(want, abs=1e-6)


def test_kl_term_and_metric() -> None:
    # A = 0 leaves only beta * k3; k3 = 0.5 + ln 2 - 1 on the first token, 0 on the second
    logp = torch.tensor([[LN(0.5), -1.0]])
    ref = torch.tensor([[LN(0.25), -1.0]])
    k = 0.5 + LN(2) - 1
    kw = {"level": "token", "loss_type": "grpo", "clip_low": 0.2, "clip_high": 0.2}
    out = policy_loss(logp, logp, torch.zeros(1), torch.ones(1, 2), ref_logp=ref, beta=0.1, **kw)  # type: ignore[arg-type]
    assert out.loss.item() == pytest.approx(0.1 * k / 2, abs=1e-7)
    assert out.kl == pytest.approx(k / 2, abs=1e-6)
    no_beta = policy_loss(logp, logp, torch.zeros(1), torch.ones(1, 2), ref_logp=ref, **kw)  # type: ignore[arg-type]
    assert no_beta.loss.item() == 0.0 and no_beta.kl == pytest.approx(k / 2, abs=1e-6)  # logged, not in the loss
    assert policy_loss(logp, logp, torch.zeros(1), torch.ones(1, 2), **kw).kl == 0.0  # type: ignore[arg-type]
    # TRL's bias correction weights k3 by the ratio (here 2 on the first token)
    corrected = policy_loss(
        logp, logp - t([LN(2), 0.0]), torch.zeros(1), torch.ones(1, 2), ref_logp=ref, beta=0.1,
        kl_bias_correction=True, **kw,  # type: ignore[arg-type]
    )  # fmt: skip
    assert corrected.loss.item() == pytest.approx(0.1 * 2 * k / 2, abs=1e-6)
    with pytest.raises(ValueError, match="ref_logp"):
        policy_loss(logp, logp, torch.zeros(1), torch.ones(1, 2), beta=0.1, **kw)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- edge rows and gradients


@pytest.mark.parametrize("loss_type", ["grpo", "dapo", "luspo"])
@pytest.mark.parametrize("level", ["token", "sequence"])
def test_all_masked_row_gives_no_nan(level: str, loss_type: str) -> None:
    logp = torch.tensor([[-1.0, -2.0], [float("-inf"), float("nan")]], requires_grad=True)
    old = torch.tensor([[-1.2, -1.9], [float("-inf"), 3.0]])
    ref = torch.tensor([[-1.1, -2.1], [float("nan"), 0.0]])
    mask = torch.tensor([[True, True], [False, False]])
    out = policy_loss(
        logp, old, t(1.0, -1.0), mask, level=level, loss_type=loss_type,  # type: ignore[arg-type]
        clip_low=0.2, clip_high=0.28, ref_logp=ref, beta=0.1,
    )  # fmt: skip
    out.loss.backward()
    assert torch.isfinite(out.loss) and logp.grad is not None and torch.isfinite(logp.grad).all()
    assert logp.grad[1].abs().sum() == 0
    assert all(math.isfinite(v) for v in (out.kl, out.clip_frac, out.ratio_mean))
    # the empty row adds 0 to the loss: same as the first row alone, scaled by how TRL divides
    alone = policy_loss(
        logp[:1].detach(), old[:1], t(1.0), mask[:1], level=level, loss_type=loss_type,  # type: ignore[arg-type]
        clip_low=0.2, clip_high=0.28, ref_logp=ref[:1], beta=0.1,
    )  # fmt: skip
    scale = 1.0 if loss_type == "dapo" else 0.5  # dapo divides by tokens, grpo/luspo by sequences (2 here)
    assert out.loss.item() == pytest.approx(alone.loss.item() * scale, abs=1e-6)


def test_everything_masked() -> None:
    logp = torch.zeros(2, 3, requires_grad=True)
    out = policy_loss(
        logp, logp.detach(), t(1.0, -1.0), torch.zeros(2, 3), level="sequence", loss_type="dapo",
        clip_low=0.2, clip_high=0.2,
    )  # fmt: skip
    out.loss.backward()
    assert out.loss.item() == 0.0 and (out.kl, out.clip_frac, out.ratio_mean) == (0.0, 0.0, 1.0)


def test_bool_and_float_masks_agree() -> None:
    g = torch.Generator().manual_seed(2)
    logp, old = torch.randn(3, 4, generator=g), torch.randn(3, 4, generator=g)
    mask = torch.rand(3, 4, generator=g) > 0.3
    kw = {"level": "token", "loss_type": "dapo", "clip_low": 0.2, "clip_high": 0.28}
    a = policy_loss(logp, old, t(1.0, -1.0, 0.5), mask, **kw)  # type: ignore[arg-type]
    b = policy_loss(logp, old, t(1.0, -1.0, 0.5), mask.float(), **kw)  # type: ignore[arg-type]
    assert a.loss.item() == b.loss.item() and a.clip_frac == b.clip_frac


@pytest.mark.parametrize("loss_type", ["grpo", "dapo", "luspo"])
@pytest.mark.parametrize("level", ["token", "sequence"])
def test_gradients_finite_and_nonzero(level: str, loss_type: str) -> None:
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(4, 6, 16, generator=g, requires_grad=True)
    ids = torch.randint(0, 16, (4, 6), generator=g)
    logp = selective_log_probs(logits, ids)
    old = logp.detach() + 0.3 * torch.randn(4, 6, generator=g)
    ref = logp.detach() + 0.3 * torch.randn(4, 6, generator=g)
    mask = torch.tensor([[1] * 6, [1] * 3 + [0] * 3, [1] + [0] * 5, [0] * 6])
    out = policy_loss(
        logp, old, t(1.0, -0.5, 0.7, -1.2), mask, level=level, loss_type=loss_type,  # type: ignore[arg-type]
        clip_low=0.2, clip_high=0.28, ref_logp=ref, beta=0.1,
    )  # fmt: skip
    out.loss.backward()
    assert logits.grad is not None and torch.isfinite(logits.grad).all()
    assert logits.grad[:3].abs().sum() > 0 and logits.grad[3].abs().sum() == 0


def test_bad_arguments() -> None:
    logp = torch.zeros(2, 3)
    kw = {"level": "token", "loss_type": "grpo", "clip_low": 0.2, "clip_high": 0.2}
    with pytest.raises(ValueError, match="advantages"):
        policy_loss(logp, logp, torch.zeros(3), torch.ones(2, 3), **kw)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="mask"):
        policy_loss(logp, logp, torch.zeros(2), torch.ones(2, 2), **kw)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="loss_type"):
        policy_loss(logp, logp, torch.zeros(2), torch.ones(2, 3), **{**kw, "loss_type": "bnpo"})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="level"):
        policy_loss(logp, logp, torch.zeros(2), torch.ones(2, 3), **{**kw, "level": "word"})  # type: ignore[arg-type]
