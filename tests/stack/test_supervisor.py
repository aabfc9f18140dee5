"""Child: output to a log file and, prefixed, to a stream; a stop reaches the whole group, a child that
ignores SIGTERM, and what it started in a session of its own (as the trainer starts its runs)."""

from __future__ import annotations

import io
import os
import sys
import time
from pathlib import Path

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
