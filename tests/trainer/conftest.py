"""Trainer test fixtures: a stand-in trainer (fake_train.py) and job runners on a temporary jobs dir
for the jobs tests (child processes, or containers of the local base image with the stand-in mounted);
the bootstrap model (built once, then cached) and the test process's signal handlers
for the real runs."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from services.trainer.jobs import JobRunner, JobStore

FAKE = Path(__file__).with_name("fake_train.py")
BASE_IMAGE = "cppforge-base:bookworm"  # debian + python3, imported locally (no registry needed)
STAND_IN = "/cppforge-stand-in"  # where tests/trainer is mounted inside a job container


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


@pytest.fixture(scope="session")
def docker_client() -> Any:
    """A client of the local docker daemon that has the base image; skipped without one unless
    CPPFORGE_REQUIRE_DOCKER=1, which makes that a failure."""
    from services.trainer.containers import check_daemon

    try:
        client = check_daemon(None)
        client.images.get(BASE_IMAGE)
    except Exception as exc:  # no daemon, or no base image
        if os.environ.get("CPPFORGE_REQUIRE_DOCKER") == "1":
            pytest.fail(f"CPPFORGE_REQUIRE_DOCKER=1 but docker is not usable: {exc}")
        pytest.skip(f"no docker daemon with {BASE_IMAGE} ({exc}); CPPFORGE_REQUIRE_DOCKER=1 makes this fail")
    return client


def container_command(*flags: str, step_s: float = 0.05) -> list[str]:
    """The stand-in trainer's launch prefix inside a job container."""
    return ["python3", f"{STAND_IN}/fake_train.py", "--step-s", str(step_s), *flags]


@pytest.fixture
def make_container_runner(tmp_path: Path, docker_client: Any) -> Iterator[Callable[..., JobRunner]]:
    """Started runners whose jobs run in containers of the base image, on one jobs dir (a second runner is the
    first one's restart). Teardown closes them and removes every container labelled with their instance."""
    from services.trainer.containers import ContainerLauncher, ContainerSpec

    started: list[JobRunner] = []
    jobs_root = tmp_path / "jobs"

    def make(*flags: str, step_s: float = 0.05, grace_s: float = 5.0, memory_mb: int | None = 256) -> JobRunner:
        spec = ContainerSpec(
            image=BASE_IMAGE, jobs_root=jobs_root, mounts=(f"{FAKE.parent}:{STAND_IN}:ro",), memory_mb=memory_mb,
            cpus=1.0, pids_limit=256, gpus="none", network="none",
            user=f"{os.getuid()}:{os.getgid()}",  # as the service does on a bind-mounted jobs dir (no caps inside)
        )  # fmt: skip
        runner = JobRunner(
            JobStore(jobs_root), command=container_command(*flags, step_s=step_s), grace_s=grace_s, poll_s=0.05,
            launcher=ContainerLauncher(docker_client, spec),
        )  # fmt: skip
        runner.start()
        started.append(runner)
        return runner

    yield make
    for runner in started:
        runner.close()
    remove_labelled(docker_client, jobs_root)


def remove_labelled(client: Any, jobs_root: Path) -> None:
    from services.trainer.containers import SERVICE_LABEL, service_instance

    label = f"{SERVICE_LABEL}={service_instance(jobs_root)}"
    for container in client.containers.list(all=True, filters={"label": label}):
        container.remove(force=True)
