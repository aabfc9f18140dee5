"""Held-out scoring on the real bootstrap model: plain prompts, and a verifier outage is no score, never 0%."""

from __future__ import annotations

from pathlib import Path

import torch

from services.lm.model import load_model
from services.tasks import held_out_tasks
from services.trainer.heldout import HeldoutScore, score_heldout
from services.trainer.rewards import LocalRewards, RewardBackend, VerifyOptions

from .test_rewards import _unreachable_rewards


def _score(base_model: Path, rewards: RewardBackend) -> HeldoutScore:
    torch.set_num_threads(1)
    loaded = load_model(str(base_model), dtype="float32", device="cpu")
    with torch.no_grad():
        return score_heldout(loaded.model, loaded.tokenizer, held_out_tasks(2, 4242), rewards, samples=1,
                             temperature=1.0, max_tokens=24, seed=0)  # fmt: skip


def test_an_unreachable_verifier_gives_no_heldout_rate_not_zero(base_model: Path) -> None:
    rewards = _unreachable_rewards()
    try:
        score = _score(base_model, rewards)
    finally:
        rewards.close()
    assert score.dropped == 4 and score.sampled_n == 0
    assert score.compile_rate is None and score.pass_rate is None
    assert score.greedy_compile_rate is None and score.greedy_pass_rate is None


def test_a_judged_heldout_has_rates(base_model: Path) -> None:
    rewards = LocalRewards(VerifyOptions(), workers=1)
    try:
        score = _score(base_model, rewards)
    finally:
        rewards.close()
    assert score.dropped == 0 and score.sampled_n == 2
    for rate in (score.compile_rate, score.pass_rate, score.greedy_compile_rate, score.greedy_pass_rate):
        assert rate is not None and 0.0 <= rate <= 1.0
