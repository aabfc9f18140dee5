"""Child: output to a log file and, prefixed, to a stream; a stop reaches the whole group, a child that
ignores SIGTERM, and what it started in a session of its own (as the trainer starts its runs)."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.stack.supervisor import Child
from services.trainer import procs
from tests.trainer.conftest import wait_for

# Prints two lines, starts a `sleep` in a new session (out of the child's group), writes its pid, waits.
SCRIPT = """
import os, signal, subprocess, sys, time
if "--ignore-term" in sys.argv:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("hello", flush=True)
print("world", file=sys.stderr, flush=True)
stray = subprocess.Popen(["sleep", "300"], start_new_session=True)
open(sys.argv[1], "w").write(str(stray.pid))
time.sleep(300)
"""


def _child(tmp_path: Path, *flags: str, echo: io.StringIO | None = None, grace_s: float = 5.0) -> tuple[Child, Path]:
    pid_file = tmp_path / "stray.pid"
    argv = [sys.executable, "-c", SCRIPT, str(pid_file), *flags]
    child = Child("demo", argv, env=dict(os.environ), log_path=tmp_path / "logs" / "demo.log", echo=echo,
                  grace_s=grace_s)  # fmt: skip
    child.start()
    wait_for(lambda: pid_file.exists() and pid_file.read_text(), what="the stray's pid")
    return child, pid_file


def _alive(pid: int) -> bool:
    stat = procs.proc_stat(pid)
    return stat is not None and stat.state not in ("Z", "X")


def test_logs_and_stop_leave_nothing(tmp_path: Path) -> None:
    echo = io.StringIO()
    child, pid_file = _child(tmp_path, echo=echo)
    stray = int(pid_file.read_text())
    assert child.pid is not None and procs.proc_stat(child.pid).pgrp == child.pid  # type: ignore[union-attr]
    assert procs.proc_stat(stray).pgrp == stray  # type: ignore[union-attr]  # out of the child's group
    wait_for(lambda: "world" in echo.getvalue(), what="the echoed lines")
    assert child.exit_code() is None
    child.stop()
    assert child.exit_code() is not None and not _alive(child.pid) and not _alive(stray)
    assert sorted(echo.getvalue().splitlines()) == ["[demo] hello", "[demo] world"]
    assert sorted((tmp_path / "logs" / "demo.log").read_text().splitlines()) == ["hello", "world"]
    assert child.tail().splitlines() == echo.getvalue().replace("[demo] ", "").splitlines()
    child.stop()  # idempotent


def test_sigterm_ignored_means_sigkill_after_the_grace(tmp_path: Path) -> None:
    child, pid_file = _child(tmp_path, "--ignore-term", grace_s=1.0)
    started = time.monotonic()
    child.stop()
    assert child.exit_code() == -9 and time.monotonic() - started >= 1.0
    assert not _alive(int(pid_file.read_text()))


# Starts a daemon as a service might: a new session, then a double fork (the middle process exits at once).
DAEMON = """
import os, sys, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        open(sys.argv[1] + ".tmp", "w").write(str(os.getpid()))
        os.rename(sys.argv[1] + ".tmp", sys.argv[1])
        time.sleep(300)
    os._exit(0)
time.sleep(300)
"""


@pytest.fixture
def subreaper() -> Iterator[None]:
    """This (test) process collects orphans below it, as `cppforge up` does."""
    procs.become_subreaper()
    yield
    procs.become_subreaper(False)


def test_a_double_forked_daemon_is_stopped_too(tmp_path: Path, subreaper: None) -> None:
    pid_file = tmp_path / "daemon.pid"
    child = Child("demo", [sys.executable, "-c", DAEMON, str(pid_file)], env=dict(os.environ),
                  log_path=tmp_path / "demo.log")  # fmt: skip
    child.start()
    try:
        wait_for(pid_file.exists, what="the daemon's pid")
        daemon = int(pid_file.read_text())
        # Re-parented to us (its parent exited), in a session and group of its own.
        wait_for(lambda: getattr(procs.proc_stat(daemon), "ppid", None) == os.getpid(), what="the re-parenting")
        assert os.getsid(daemon) != os.getsid(child.pid or 0) and os.getpgid(daemon) != child.pid
    finally:
        child.stop()
    assert not _alive(daemon)


# Starts a Child and prints its pid; then waits to be killed.
OWNER = """
import os, sys, time
from pathlib import Path
from services.stack.supervisor import Child
child = Child("sleeper", ["sleep", "300"], env=dict(os.environ), log_path=Path(sys.argv[1]))
child.start()
print(child.pid, flush=True)
time.sleep(300)
"""


def test_a_child_dies_with_its_owner(tmp_path: Path) -> None:
    """SIGKILL leaves no stop to run: the kernel's death signal (SIGTERM here) ends the child."""
    owner = subprocess.Popen([sys.executable, "-c", OWNER, str(tmp_path / "s.log")], stdout=subprocess.PIPE,
                             env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})  # fmt: skip
    assert owner.stdout is not None
    pid = int(owner.stdout.readline())
    assert _alive(pid)
    owner.send_signal(signal.SIGKILL)
    owner.wait()
    owner.stdout.close()
    wait_for(lambda: not _alive(pid), timeout_s=10, what="the child's end")
