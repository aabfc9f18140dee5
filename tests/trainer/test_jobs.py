"""The job queue and runner with a real subprocess per run (tests/trainer/fake_train.py stands in for
`cppforge train`): FIFO one at a time, cancel (the whole process group dies), failures, restarts."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import time
from pathlib import Path

from services.trainer import procs
from services.trainer.jobs import Job, JobRunner, JobStatus, JobStore, MetricsTail
from tests.trainer.conftest import RunnerFactory, fake_command, wait_for


def _status(runner: JobRunner, job_id: str) -> JobStatus:
    return runner.get(job_id).status


def _gone(pid: int) -> bool:
    stat = procs.proc_stat(pid)
    return stat is None or stat.state in ("Z", "X")


def test_a_job_runs_to_success_with_metrics_visible_while_running(make_runner: RunnerFactory) -> None:
    runner = make_runner(step_s=0.15)
    job = runner.submit("production", {"steps": 6})
    assert job.status == JobStatus.QUEUED and job.seq == 0
    wait_for(lambda: _status(runner, job.id) == JobStatus.RUNNING and runner.rows(job.id), what="a first row")
    seen_running = runner.rows(job.id)
    assert _status(runner, job.id) == JobStatus.RUNNING and 1 <= len(seen_running) < 6
    wait_for(lambda: _status(runner, job.id) == JobStatus.SUCCEEDED, what="success")
    done = runner.get(job.id)
    assert done.exit_code == 0 and done.error is None and done.finished_at is not None
    assert [r["step"] for r in runner.rows(job.id)] == [1, 2, 3, 4, 5, 6]
    assert done.summary == {"method": "gspo", "recipe": "production", "steps": 6, "stopped_early": False}
    assert "overrides {'steps': 6}" in done.stdout_path.read_text()
    # the state on disk says the same
    on_disk = json.loads((done.dir / "job.json").read_text())
    assert on_disk["status"] == "succeeded" and on_disk["exit_code"] == 0


def test_the_launch_command_follows_the_train_contract(tmp_path: Path) -> None:
    runner = JobRunner(JobStore(tmp_path), command=["python", "-m", "services.cli", "train"])
    job = Job("job-x", 0, "grpo", {"steps": 3, "lr": 1e-4}, dir=tmp_path / "job-x")
    out = str(tmp_path / "job-x" / "run")
    expected = ["python", "-m", "services.cli", "train", "--recipe", "grpo", "--out", out]
    expected += ["--overrides-json", '{"steps": 3, "lr": 0.0001}', "--no-progress"]
    assert runner.command_for(job) == expected
    job.resumed = True  # no checkpoint yet: a fresh start, not --resume
    assert runner.command_for(job) == expected
    (job.checkpoint_dir / "step-000002.tmp").mkdir(parents=True)  # killed while writing its first checkpoint
    assert runner.command_for(job) == expected
    (job.checkpoint_dir / "latest").write_text("step-000002")  # a complete one
    assert runner.command_for(job) == [*expected, "--resume"]


def test_fifo_one_at_a_time(make_runner: RunnerFactory) -> None:
    runner = make_runner(step_s=0.05)
    ids = [runner.submit("production", {"steps": 3, "seed": i}).id for i in range(3)]
    assert runner.queued_ids()[-2:] == ids[1:]
    most_running = 0

    def all_done() -> bool:
        nonlocal most_running
        jobs = runner.jobs()
        most_running = max(most_running, sum(j.status == JobStatus.RUNNING for j in jobs))
        return all(j.status == JobStatus.SUCCEEDED for j in jobs)

    wait_for(all_done, timeout_s=20, what="three jobs")
    assert most_running == 1
    jobs = [runner.get(i) for i in ids]
    for before, after in itertools.pairwise(jobs):
        assert before.finished_at is not None and after.started_at is not None
        assert after.started_at >= before.finished_at  # strictly one after the other, in submission order


def test_cancel_a_queued_job(make_runner: RunnerFactory) -> None:
    runner = make_runner(step_s=0.2)
    first = runner.submit("production", {"steps": 50})
    second = runner.submit("production", {"steps": 2})
    cancelled = runner.cancel(second.id)
    assert cancelled.status == JobStatus.CANCELLED and cancelled.started_at is None
    assert second.id not in runner.queued_ids()
    runner.cancel(first.id)
    wait_for(lambda: _status(runner, first.id) == JobStatus.CANCELLED, what="the running job cancelled")
    time.sleep(0.2)
    assert runner.get(second.id).started_at is None and not runner.get(second.id).out_dir.exists()


def test_cancel_a_running_job_kills_its_whole_process_group(make_runner: RunnerFactory) -> None:
    runner = make_runner("--spawn-child", step_s=0.2)
    job = runner.submit("production", {"steps": 100})
    child_pid_file = job.out_dir / "child.pid"
    wait_for(lambda: child_pid_file.exists() and runner.get(job.id).pid, what="the run and its child")
    pid, child = runner.get(job.id).pid, int(child_pid_file.read_text())
    assert pid is not None and not _gone(pid) and not _gone(child)
    assert procs.proc_stat(child) is not None and procs.proc_stat(child).pgrp == pid  # type: ignore[union-attr]
    started = time.monotonic()
    assert runner.cancel(job.id).cancel_requested
    wait_for(lambda: _status(runner, job.id) == JobStatus.CANCELLED, what="cancelled")
    assert time.monotonic() - started < 2  # the run honoured SIGTERM; no wait for the grace period
    assert _gone(pid) and _gone(child) and procs.live_group_members(pid) == []
    done = runner.get(job.id)
    assert done.exit_code == 143 and "checkpoint saved" in done.stderr_path.read_text()


def test_a_run_that_ignores_sigterm_gets_sigkill_after_the_grace(make_runner: RunnerFactory) -> None:
    runner = make_runner("--ignore-term", step_s=0.2, grace_s=0.5)
    job = runner.submit("production", {"steps": 100})
    wait_for(lambda: runner.rows(job.id), what="a first row")
    runner.cancel(job.id)
    wait_for(lambda: _status(runner, job.id) == JobStatus.CANCELLED, what="cancelled")
    done = runner.get(job.id)
    assert done.exit_code == -signal.SIGKILL and done.pid is not None and _gone(done.pid)


def test_a_failed_run_keeps_its_stderr(make_runner: RunnerFactory, tmp_path: Path) -> None:
    runner = make_runner()
    job = runner.submit("production", {"dataset": str(tmp_path / "missing.jsonl")})
    wait_for(lambda: _status(runner, job.id) == JobStatus.FAILED, what="failure")
    done = runner.get(job.id)
    assert done.exit_code == 2
    assert done.error is not None and done.error.startswith("exit code 2: ")
    assert "loading the problem set..." in done.error and "dataset not found" in done.error
    assert done.summary is None


def test_a_launch_failure_fails_the_job_not_the_runner(tmp_path: Path) -> None:
    runner = JobRunner(JobStore(tmp_path), command=[str(tmp_path / "no-such-trainer")], poll_s=0.02)
    runner.start()
    try:
        job = runner.submit("production", {})
        wait_for(lambda: _status(runner, job.id) == JobStatus.FAILED, what="failure")
        assert "could not be started" in (runner.get(job.id).error or "")
        assert runner.alive
    finally:
        runner.close()


def test_a_restart_requeues_the_interrupted_job_with_resume(make_runner: RunnerFactory) -> None:
    first = make_runner(step_s=0.1)
    job = first.submit("production", {"steps": 12})
    behind = first.submit("production", {"steps": 2})
    wait_for(lambda: len(first.rows(job.id)) >= 3, what="three steps")
    first.close()  # the service stops: the run gets SIGTERM and checkpoints
    assert json.loads((job.dir / "job.json").read_text())["status"] == "interrupted"
    assert first.get(behind.id).status == JobStatus.QUEUED

    second = make_runner(step_s=0.02)
    again = second.get(job.id)
    assert again.resumed and again.restarts == 1
    assert second.queued_ids()[:1] == [job.id] or again.status == JobStatus.RUNNING  # ahead of `behind`
    wait_for(lambda: _status(second, behind.id) == JobStatus.SUCCEEDED, timeout_s=20, what="both jobs")
    done = second.get(job.id)
    assert done.status == JobStatus.SUCCEEDED and done.resumed_from_checkpoint
    assert done.finished_at is not None and second.get(behind.id).started_at >= done.finished_at  # type: ignore[operator]
    rows = second.rows(job.id)
    assert [r["step"] for r in rows] == list(range(1, 13))
    assert rows[0].get("resumed_from") is None and rows[-1]["resumed_from"] >= 3


def test_a_run_left_alive_by_a_dead_service_is_stopped_before_it_resumes(
    make_runner: RunnerFactory, tmp_path: Path
) -> None:
    # What a SIGKILLed service leaves: job.json says running, and its run (a new session) still runs.
    store_root = tmp_path / "jobs"  # make_runner's
    job_dir = store_root / "job-orphan"
    out = job_dir / "run"
    out.mkdir(parents=True)
    cmd = [*fake_command(step_s=0.1), "--recipe", "production", "--out", str(out)]
    cmd += ["--overrides-json", '{"steps": 8}', "--no-progress"]
    orphan = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL)
    try:
        wait_for(lambda: (out / "checkpoints" / "latest.json").exists(), what="the orphan's checkpoint")
        job = Job("job-orphan", 5, "production", {"steps": 8}, dir=job_dir, status=JobStatus.RUNNING)
        job.pid, job.pid_ticks = orphan.pid, procs.start_ticks(orphan.pid)
        JobStore(store_root).save(job)
        runner = make_runner(step_s=0.02)
        assert runner.get("job-orphan").resumed
        wait_for(lambda: _status(runner, "job-orphan") == JobStatus.SUCCEEDED, what="the resumed job")
        assert orphan.poll() == 143  # it got SIGTERM and checkpointed before the new run resumed
        assert runner.get("job-orphan").resumed_from_checkpoint
        assert [r["step"] for r in runner.rows("job-orphan")] == list(range(1, 9))
    finally:
        if orphan.poll() is None:
            os.killpg(orphan.pid, signal.SIGKILL)
        orphan.wait()


def test_a_recycled_pid_is_never_signalled() -> None:
    proc = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        ticks = procs.start_ticks(proc.pid)
        assert ticks is not None
        assert procs.group_is_ours(proc.pid, ticks)
        assert not procs.group_is_ours(proc.pid, ticks + 1)  # same number, another process
        assert not procs.stop_group(proc.pid, ticks + 1, grace_s=0.1) and proc.poll() is None
        assert procs.stop_group(proc.pid, ticks, grace_s=1.0)
        assert proc.wait(timeout=5) == -signal.SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_metrics_tail_reads_whole_lines_and_follows_a_resume(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    tail = MetricsTail(path)
    assert tail.read() == []
    path.write_text('{"step": 1, "reward_mean": 0.1}\n{"step": 2, "rew')
    assert [r["step"] for r in tail.read()] == [1]  # the half-written row waits
    with open(path, "a") as fh:
        fh.write('ard_mean": 0.2}\nnot json\n{"step": 3}\n')
    assert [r["step"] for r in tail.read()] == [1, 2, 3]
    with open(path, "a") as fh:  # resumed from the step-1 checkpoint: steps 2.. are written again
        fh.write('{"step": 2, "resumed_from": 1}\n')
    assert tail.read() == [{"step": 1, "reward_mean": 0.1}, {"step": 2, "resumed_from": 1}]
    path.write_text('{"step": 7}\n')  # replaced: read from the start
    assert tail.read() == [{"step": 7}]


def test_a_run_that_finished_while_the_service_was_down_is_not_run_again(
    make_runner: RunnerFactory, tmp_path: Path
) -> None:
    store = JobStore(tmp_path / "jobs")
    done = subprocess.Popen(["true"], start_new_session=True)
    done.wait()
    job = Job("job-done", 0, "production", {"steps": 2}, dir=store.job_dir("job-done"), status=JobStatus.RUNNING)
    job.pid, job.pid_ticks = done.pid, 12345
    job.out_dir.mkdir(parents=True)
    (job.out_dir / "summary.json").write_text('{"steps": 2}')
    store.save(job)
    runner = make_runner()
    wait_for(lambda: _status(runner, "job-done") == JobStatus.SUCCEEDED, what="the job settled")
    assert runner.get("job-done").summary == {"steps": 2} and not job.stdout_path.exists()  # never launched
