"""Held-out scoring on the real bootstrap model: plain prompts, and a verifier outage is no score, never 0%."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from services.lm.model import load_model
from services.tasks import held_out_tasks
from services.trainer.heldout import HeldoutScore, score_heldout
from services.trainer.rewards import LocalRewards, RewardBackend, Verdict, VerifyOptions

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


def test_progress_comes_as_chunks_are_judged_not_all_at_the_end(base_model: Path) -> None:
    events: list[str] = []

    class Recording:
        """The real in-process verifier, noting when each task's programs are sent to it."""

        def __init__(self) -> None:
            self.inner = LocalRewards(VerifyOptions(), workers=1)

        def score(self, programs: Sequence[str], test: str) -> list[Verdict]:
            events.append("score")
            return self.inner.score(programs, test)

        def close(self) -> None:
            self.inner.close()

    rewards = Recording()
    loaded = load_model(str(base_model), dtype="float32", device="cpu")
    try:
        with torch.no_grad():
            score = score_heldout(loaded.model, loaded.tokenizer, held_out_tasks(3, 4242), rewards, samples=1,
                                  temperature=1.0, max_tokens=16, seed=0, chunk=1,
                                  progress=lambda done, total: events.append(f"{done}/{total}"))  # fmt: skip
    finally:
        rewards.close()
    assert score.tasks == 3
    # Task 1 is reported once task 2 has been generated (and sent), before task 3 is: not all at the end.
    assert events == ["score", "score", "1/3", "score", "2/3", "3/3"]
