"""Trainer test fixtures: a stand-in trainer (fake_train.py) and job runners on a temporary jobs dir
for the jobs tests; the bootstrap model (built once, then cached) and the test process's signal handlers
for the real runs."""

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


@pytest.fixture(scope="session")
def base_model() -> Path:
    """The bootstrap model directory (built on first use, then cached under $CPPFORGE_HOME)."""
    from services.lm.bootstrap import ensure_bootstrap_model

    return ensure_bootstrap_model()


@pytest.fixture
def keep_signal_handlers() -> Iterator[None]:
    """`cmd_train` installs SIGTERM/SIGINT handlers; give the test process its own back afterwards."""
    import signal

    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)
