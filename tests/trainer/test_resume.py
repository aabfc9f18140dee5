"""Resume: a run killed (SIGKILL) mid-way or stopped (SIGTERM) resumes from its latest checkpoint, logs
every step exactly once, and ends with the same weights as a run that was never interrupted."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

from services.trainer.checkpoint import latest_checkpoint, read_state
from services.trainer.run import RunHooks, run_training

from .runs import TINY, metrics_rows, run_cli, start_cli, tiny_config, train_argv, wait_for_rows, wait_for_text

# Compared between an uninterrupted and a resumed run: everything a step computes but its timings.
SAME = ("reward_mean", "reward_std", "compile_rate", "pass_rate", "kl", "loss", "grad_norm", "samples", "dropped",
        "discarded", "task_ids", "completion_len", "fgo_masked_frac", "updated")  # fmt: skip


def _adapter(out: Path) -> dict[str, torch.Tensor]:
    return dict(load_file(str(out / "adapter" / "adapter_model.safetensors")))


def test_sigkill_then_resume_matches_an_uninterrupted_run(tmp_path: Path, base_model: Path) -> None:
    settings: dict[str, Any] = {"checkpoint_every": 2, "heldout_tasks": 1}
    killed = tmp_path / "killed"
    log = tmp_path / "killed.log"
    proc = start_cli(train_argv(killed, base_model, 6, **settings), log)
    try:
        wait_for_rows(proc, killed, 3, log)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    checkpoint = latest_checkpoint(killed)
    assert checkpoint is not None and read_state(checkpoint).step in (2, 4)
    assert not (killed / "summary.json").exists()
    assert "held-out before: compile" in log.read_text()  # --no-progress drops the bar, not the scores
    assert "train:" not in log.read_text()  # no tqdm bar

    done = run_cli(["train", "--resume", str(killed), "--no-progress"])
    assert done.returncode == 0, done.stderr[-3000:]
    assert "held-out after:  compile" in done.stderr
    rows = metrics_rows(killed)
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5, 6]  # steps after the checkpoint were redone, once
    summary = json.loads((killed / "summary.json").read_text())
    assert summary["steps"] == 6 and not summary["stopped_early"]
    assert summary["compile_rate_before"] is not None  # scored before the kill, kept in the checkpoint
    assert read_state(latest_checkpoint(killed) or killed).step == 6

    # The same seed without the interruption: RNG, optimizer, task cursor and CCCS are checkpointed and
    # rollout seeds derive from (seed, step, slot, rank), so every step and the final weights agree.
    whole = tmp_path / "whole"
    reference = run_training(tiny_config(base_model, steps=6, **settings), whole, hooks=RunHooks(progress=None))
    for ours, theirs in zip(rows, metrics_rows(whole), strict=True):
        assert {k: ours[k] for k in SAME} == {k: theirs[k] for k in SAME}, ours["step"]
    assert any(r["updated"] for r in rows)  # otherwise equal weights would prove nothing
    assert summary["compile_rate_before"] == reference["compile_rate_before"]
    assert summary["compile_rate_after"] == reference["compile_rate_after"]
    resumed, uninterrupted = _adapter(killed), _adapter(whole)
    assert resumed.keys() == uninterrupted.keys()
    assert all(torch.equal(resumed[k], uninterrupted[k]) for k in resumed)


def test_sigterm_stops_with_a_checkpoint_and_resumes(tmp_path: Path, base_model: Path) -> None:
    out = tmp_path / "out"
    log = tmp_path / "run.log"
    proc = start_cli(train_argv(out, base_model, 4, heldout_tasks=1), log)  # checkpoint_every 25: none on the way
    try:
        wait_for_rows(proc, out, 1, log)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    text = log.read_text()
    assert proc.returncode == 143, text[-3000:]
    assert "Traceback" not in text
    steps = len(metrics_rows(out))
    assert 1 <= steps < 4
    assert f"stopped at step {steps}; resume with --resume {out}" in text
    checkpoint = latest_checkpoint(out)
    assert checkpoint is not None and read_state(checkpoint).step == steps
    summary = json.loads((out / "summary.json").read_text())
    assert summary["stopped_early"] and summary["steps"] == steps and summary["compile_rate_after"] is None

    done = run_cli(["train", "--resume", str(out), "--no-progress"])
    assert done.returncode == 0, done.stderr[-3000:]
    assert [r["step"] for r in metrics_rows(out)] == [1, 2, 3, 4]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 4 and not summary["stopped_early"] and summary["compile_rate_after"] is not None


def test_a_second_signal_aborts_without_waiting(tmp_path: Path, base_model: Path) -> None:
    """The first signal asks for a stop after the step; a second one aborts at once (exit 130)."""
    out = tmp_path / "out"
    log = tmp_path / "run.log"
    # Longer steps than elsewhere, so that the second signal lands inside one.
    proc = start_cli(train_argv(out, base_model, 50, heldout_tasks=0, group_size=8, max_gen_len=128), log)
    try:
        wait_for_rows(proc, out, 1, log)
        proc.send_signal(signal.SIGTERM)
        wait_for_text(proc, log, "signal again to abort")  # two signals at once would be handled once
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    text = log.read_text()
    assert proc.returncode == 130, text[-3000:]
    assert "stopped at step" not in text and "cppforge: interrupted" in text


def _two_checkpoints(out: Path, base_model: Path) -> Path:
    """A run dir with complete checkpoints at steps 1 and 2 (real adapter, optimizer and RNG files)."""
    from services.trainer.checkpoint import TrainerState, save_checkpoint
    from services.trainer.lora import load_policy

    cfg = tiny_config(base_model, steps=4, heldout_tasks=0)
    (out / "config.json").parent.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps({"recipe": "production", **cfg.to_dict()}))
    policy = load_policy(str(base_model), cfg)
    optimizer = torch.optim.AdamW(policy.trainable_parameters(), lr=cfg.lr)
    for step in (1, 2):
        save_checkpoint(out, policy, optimizer, TrainerState(step=step))
    latest = latest_checkpoint(out)
    assert latest is not None and latest.name == "step-000002"
    return latest


def test_an_unreadable_checkpoint_is_one_clear_line_naming_the_earlier_one(
    tmp_path: Path, base_model: Path, capsys: pytest.CaptureFixture[str], keep_signal_handlers: None
) -> None:
    from services.cli import main

    latest = _two_checkpoints(tmp_path, base_model)
    with open(latest / "optimizer.pt", "r+b") as fh:
        fh.truncate(100)  # torn by a disk or a copy
    capsys.readouterr()
    assert main(["train", "--resume", str(tmp_path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert "optimizer.pt is unreadable" in err and "write step-000001 into" in err


def test_a_checkpoint_missing_its_adapter_weights_is_not_complete(tmp_path: Path, base_model: Path) -> None:
    latest = _two_checkpoints(tmp_path, base_model)
    (latest / "adapter" / "adapter_model.safetensors").unlink()
    assert latest_checkpoint(tmp_path) is None  # resume says 'no complete checkpoint', not a Hub repo-id error


def test_resume_accepts_overrides_that_repeat_the_saved_config(tmp_path: Path) -> None:
    from services.trainer.config import TrainConfig
    from services.trainer.run import resume_config

    saved = TrainConfig(steps=2, group_size=4, max_gen_len=48, model="/m")
    (tmp_path / "config.json").write_text(json.dumps({"recipe": "production", **saved.to_dict()}))
    again = resume_config(tmp_path, {"group_size": "4", "max_gen_len": 48, "model": "/m", "steps": 6})
    assert again.group_size == 4 and again.steps == 6
    with pytest.raises(ValueError, match=r"cannot change: group_size$"):
        resume_config(tmp_path, {"group_size": 8, "max_gen_len": 48})


def test_a_restarted_job_with_overrides_resumes_from_its_checkpoint(tmp_path: Path, base_model: Path) -> None:
    """The runner passes every override of the job again with --resume (with CPPFORGE_JOB_USE_SERVICES every
    job has `model`): the ones that repeat the saved config must not stop the resume."""
    from services.trainer.jobs import JobRunner, JobStatus, JobStore

    from .conftest import wait_for

    overrides = {**TINY, "model": str(base_model), "steps": 4, "checkpoint_every": 1, "heldout_tasks": 0}
    first = JobRunner(JobStore(tmp_path / "jobs"), grace_s=120, poll_s=0.1)
    first.start()
    try:
        job = first.submit("production", overrides)
        wait_for(lambda: latest_checkpoint(job.out_dir) is not None, timeout_s=240, what="a first checkpoint")
    finally:
        first.close()  # the service stops: SIGTERM, the run checkpoints and the job is left interrupted
    assert first.get(job.id).status == JobStatus.INTERRUPTED
    second = JobRunner(JobStore(tmp_path / "jobs"), grace_s=120, poll_s=0.1)
    second.start()
    try:
        wait_for(lambda: second.get(job.id).status not in (JobStatus.QUEUED, JobStatus.RUNNING), timeout_s=240,
                 what="the resumed job")  # fmt: skip
        done = second.get(job.id)
    finally:
        second.close()
    assert done.status == JobStatus.SUCCEEDED, done.error
    assert done.resumed_from_checkpoint and done.summary is not None and done.summary["steps"] == 4
    assert [r["step"] for r in metrics_rows(job.out_dir)] == [1, 2, 3, 4]
