"""Fixtures of the jobs tests: a stand-in trainer (fake_train.py) and runners on a temporary jobs dir."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from services.trainer.jobs import JobRunner, JobStore

FAKE = Path(__file__).with_name("fake_train.py")


def fake_command(*flags: str, step_s: float = 0.05) -> list[str]:
    """The launch prefix of the stand-in trainer; the runner appends --recipe ... --no-progress."""
    return [sys.executable, str(FAKE), "--step-s", str(step_s), *flags]


def wait_for(predicate: Callable[[], object], timeout_s: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(0.02)


RunnerFactory = Callable[..., JobRunner]


@pytest.fixture
def make_runner(tmp_path: Path) -> Iterator[RunnerFactory]:
    """Started runners on one jobs dir (so a second one is the first one's restart); closed at teardown."""
    started: list[JobRunner] = []

    def make(*flags: str, step_s: float = 0.05, grace_s: float = 2.0) -> JobRunner:
        runner = JobRunner(
            JobStore(tmp_path / "jobs"), command=fake_command(*flags, step_s=step_s), grace_s=grace_s, poll_s=0.02
        )
        runner.start()
        started.append(runner)
        return runner

    yield make
    for runner in started:
        runner.close()
