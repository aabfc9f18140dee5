"""What bench/train_step.py relies on: in-process rewards verify each distinct program of a group once,
and a step's metrics row puts verification time under verify_wait_s with overlap on or off."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
import torch

from services.tasks import generate_tasks
from services.trainer import rewards as rewards_module
from services.trainer.config import recipe_config
from services.trainer.loop import RLStep, seed_everything
from services.trainer.lora import load_policy
from services.trainer.rewards import LocalRewards, Verdict, VerifyOptions
from services.trainer.rollout import LocalRollouts
from services.trainer.stepcoder import CCCSCurriculum
from services.trainer.tasksource import TaskCursor


def test_local_rewards_verify_each_distinct_program_once(monkeypatch: pytest.MonkeyPatch) -> None:
    task = generate_tasks(1, 3)[0]
    good = task.prompt + task.canonical_solution
    bad = task.prompt + "  return undeclared_name;\n}"
    calls: list[str] = []
    real = rewards_module.verify_cpp

    def counting(code: str, *args: object, **kwargs: object) -> object:
        calls.append(code)
        return real(code, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(rewards_module, "verify_cpp", counting)
    backend = LocalRewards(VerifyOptions(), workers=2)
    try:
        verdicts = backend.score([good, bad, good, good, bad], task.test)
    finally:
        backend.close()
    assert sorted(calls) == sorted([good, bad])
    assert [v.passed for v in verdicts] == [True, False, True, True, False]
    assert [v.compiled for v in verdicts] == [True, False, True, True, False]
    assert verdicts[0] == verdicts[2] == verdicts[3] and verdicts[0].reward == 1.0
    assert verdicts[1] == verdicts[4] and verdicts[1].reward == 0.0


class _TimedRewards(LocalRewards):
    """The real in-process verifier, recording how long each group's verification took."""

    def __init__(self) -> None:
        super().__init__(VerifyOptions(), workers=2)
        self.seconds: list[float] = []

    def score(self, programs: Sequence[str], test: str) -> list[Verdict]:
        import time

        started = time.perf_counter()
        try:
            return super().score(programs, test)
        finally:
            self.seconds.append(time.perf_counter() - started)


@pytest.mark.parametrize("overlap", [False, True])
def test_step_row_counts_verification_as_verify_wait(tiny_model_dir: Path, overlap: bool) -> None:
    torch.set_num_threads(1)
    cfg = recipe_config("production", cccs=False, fgo=False, dapo_discard=False, max_gen_len=24, group_size=4,
                        prompts_per_step=2, device="cpu", overlap=overlap, heldout_tasks=0)  # fmt: skip
    seed_everything(cfg.seed)
    policy = load_policy(str(tiny_model_dir), cfg)
    optimizer = torch.optim.AdamW(policy.trainable_parameters(), lr=cfg.lr)
    rewards = _TimedRewards()
    cursor = TaskCursor(generate_tasks(8, 1), cfg.seed)
    step = RLStep(cfg, policy, optimizer, LocalRollouts(policy), rewards, cursor, CCCSCurriculum())
    try:
        row = step.run(0)
    finally:
        step.close()
        rewards.close()
    assert len(rewards.seconds) == 2 and row["samples"] == 8
    parts = row["gen_s"] + row["verify_wait_s"] + row["train_s"]
    assert parts <= row["step_s"] + 1e-6
    assert row["step_s"] - parts < 0.05 * row["step_s"] + 0.05  # nothing slow happens outside the phases
    if not overlap:
        # Nothing overlaps verification: the whole of it is waited for.
        assert row["verify_wait_s"] >= sum(rewards.seconds) - 0.01
