"""Rewards come from the real verifier; a sample it could not judge (infrastructure) is dropped and
counted, never scored 0, and steps where every sample is dropped stop the run."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from services.tasks import generate_tasks
from services.trainer.checkpoint import TrainerState
from services.trainer.loop import (
    MAX_ALL_DROPPED_STEPS,
    RLStep,
    VerifierDownError,
    check_verifier_alive,
    seed_everything,
)
from services.trainer.lora import load_policy
from services.trainer.rewards import HttpRewards, LocalRewards, RewardBackend, VerifyOptions
from services.trainer.rollout import LocalRollouts
from services.trainer.stepcoder import CCCSCurriculum
from services.trainer.tasksource import TaskCursor, load_split
from services.verifier.client import VerifierClient

from .runs import tiny_config

UNREACHABLE = "http://127.0.0.1:9"  # the discard port: nothing listens, connections are refused at once


def _unreachable_rewards() -> HttpRewards:
    rewards = HttpRewards(UNREACHABLE, VerifyOptions())
    rewards.client.close()
    rewards.client = VerifierClient(UNREACHABLE, max_retries=1, max_retry_delay_s=0.05)  # fail in ~0.1 s
    return rewards


def test_local_rewards_are_the_verifiers() -> None:
    task = generate_tasks(1, 1)[0]  # divisor_sum(int num); its test asserts and exits 0 when all hold
    programs = [
        task.prompt + task.canonical_solution,  # passes
        task.prompt + "\n    return 0;\n}\n",  # compiles, runs, an assert aborts it
        task.prompt + "\n    return num\n}\n",  # a syntax error
    ]
    rewards = LocalRewards(VerifyOptions(), workers=2)
    try:
        verdicts = rewards.score(programs, task.test)
    finally:
        rewards.close()
    assert [v.reward for v in verdicts] == [pytest.approx(1.0), pytest.approx(0.3), 0.0]
    assert [v.compiled for v in verdicts] == [True, True, False]
    assert [v.passed for v in verdicts] == [True, False, False]
    assert not any(v.dropped for v in verdicts)
    assert "error" in verdicts[2].compile_output and "solution" in verdicts[2].compile_output  # FGO reads this


def test_an_unreachable_verifier_drops_samples_not_zero() -> None:
    rewards = _unreachable_rewards()
    try:
        verdicts = rewards.score(["int f() { return 1; }"] * 3, "int main() {}")
    finally:
        rewards.close()
    assert len(verdicts) == 3
    assert all(v.reward is None and v.dropped and v.infra_error for v in verdicts)
    assert UNREACHABLE.split("//")[1] in (verdicts[0].infra_error or "")


def _rl_step(base_model: Path, rewards: RewardBackend) -> tuple[RLStep, list[torch.nn.Parameter]]:
    """An RLStep on a fresh policy as run_training builds it (seed, one CPU thread, the recipe's AdamW)."""
    cfg = tiny_config(base_model, heldout_tasks=0)
    torch.set_num_threads(1)  # what run_training does on CPU; two threads on two busy cores are several times slower
    seed_everything(cfg.seed)
    policy = load_policy(str(base_model), cfg)
    params = policy.trainable_parameters()
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    cursor = TaskCursor(load_split(cfg).train, cfg.seed)
    return RLStep(cfg, policy, optimizer, LocalRollouts(policy), rewards, cursor, CCCSCurriculum()), params


def test_the_loop_counts_dropped_samples_and_stops_after_all_dropped_steps(base_model: Path) -> None:
    rewards = _unreachable_rewards()
    step, params = _rl_step(base_model, rewards)
    before = [p.detach().clone() for p in params]
    state = TrainerState()
    try:
        for n in range(MAX_ALL_DROPPED_STEPS):
            row = step.run(n)
            # One group of 4, all dropped -> useless -> one refill (dapo_max_refills=1), all dropped too.
            assert row["samples"] == 8 and row["dropped"] == 8 and row["discarded"] == 2, row
            assert row["reward_mean"] is None and row["compile_rate"] is None and not row["updated"]
            if n < MAX_ALL_DROPPED_STEPS - 1:
                check_verifier_alive(row, state)
            else:
                with pytest.raises(VerifierDownError, match="dropped"):
                    check_verifier_alive(row, state)
    finally:
        step.close()
        rewards.close()
    assert state.counters["dropped"] == 8 * MAX_ALL_DROPPED_STEPS
    assert all(torch.equal(p, q) for p, q in zip(params, before, strict=True))  # nothing judged, nothing learnt


def test_a_step_without_a_judged_group_does_not_move_the_weights(base_model: Path) -> None:
    """After a real update AdamW holds momentum: a step whose samples were all dropped must not apply it."""
    local = LocalRewards(VerifyOptions())
    step, params = _rl_step(base_model, local)
    down = _unreachable_rewards()
    try:
        assert step.run(0)["updated"]  # seed 0's first group has reward variance
        trained = [p.detach().clone() for p in params]
        step.rewards = down
        row = step.run(1)
        assert row["dropped"] == row["samples"] > 0 and not row["updated"]
        assert all(torch.equal(p, q) for p, q in zip(params, trained, strict=True))
    finally:
        step.close()
        local.close()
        down.close()


def test_a_judged_sample_resets_the_all_dropped_count() -> None:
    state = TrainerState()
    down = {"samples": 4, "dropped": 4, "discarded": 1}
    partly = {"samples": 4, "dropped": 3, "discarded": 1}
    for _ in range(MAX_ALL_DROPPED_STEPS - 1):
        check_verifier_alive(down, state)
    check_verifier_alive(partly, state)
    for _ in range(MAX_ALL_DROPPED_STEPS - 1):
        check_verifier_alive(down, state)
    with pytest.raises(VerifierDownError):
        check_verifier_alive(down, state)
    assert state.counters["dropped"] == 4 * (2 * MAX_ALL_DROPPED_STEPS - 1) + 3


def _think_hidden_program() -> tuple[str, str]:
    """A completion whose body holds a line that is not C++, wrapped in think tags: g++ rejects it as written."""
    task = generate_tasks(1, 1)[0]
    hidden = task.canonical_solution.replace("\n", "\n<think> this is ))) not C++ </think>\n", 1)
    return task.prompt + hidden, task.test


def test_local_rewards_judge_the_program_as_written_not_think_stripped() -> None:
    program, test = _think_hidden_program()
    rewards = LocalRewards(VerifyOptions(), workers=1)
    try:
        (verdict,) = rewards.score([program], test)
    finally:
        rewards.close()
    assert verdict.reward == 0.0 and not verdict.compiled and not verdict.dropped  # stripped, it would earn 1.0


def test_http_rewards_judge_the_program_as_written_not_think_stripped(tmp_path: Path) -> None:
    from services.common.settings import VerifierServiceSettings
    from services.verifier.app import create_app
    from tests.helpers.servers import serve

    program, test = _think_hidden_program()
    with serve(create_app(VerifierServiceSettings(home=tmp_path / "v", prebuild_pch=False))) as url:
        for shaped in (False, True):
            rewards = HttpRewards(url, VerifyOptions(shaped=shaped))
            try:
                (verdict,) = rewards.score([program], test)
            finally:
                rewards.close()
            assert verdict.reward == 0.0 and not verdict.compiled and not verdict.dropped, shaped


@pytest.mark.parametrize(
    "body", [b"<html>502 Bad Gateway</html>", b'{"results": []}', b'{"results": [], "rewards": [], "unique": 0}']
)
def test_a_2xx_that_is_no_batch_answer_drops_the_samples(body: bytes) -> None:
    """A proxy's page or another schema with status 200: the verifier judged nothing (not exit 2, not 0)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    rewards = HttpRewards(f"http://127.0.0.1:{server.server_port}", VerifyOptions())
    try:
        verdicts = rewards.score(["int f() { return 1; }"] * 2, "int main() {}")
    finally:
        rewards.close()
        server.shutdown()
        server.server_close()
    assert [(v.reward, v.dropped) for v in verdicts] == [(None, True), (None, True)]
