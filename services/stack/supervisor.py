"""One supervised child process: its own session (so a stop reaches whatever it forked), its output to a
log file and, when asked, copied line by line with a `[name] ` prefix.

Stopping: SIGTERM to the child's process group, SIGKILL to what is left after a grace; then any
descendant that had moved to a group of its own (the trainer starts each run in a new session) is
killed too, so nothing the child started outlives the stack. A process that double-forked away from the
child is found by the mark in its environment (CPPFORGE_STACK_CHILD, inherited), provided it re-parented to
this process (`procs.become_subreaper()`, as `cppforge up` does) rather than to init.

If this process dies without a stop (SIGKILL), the kernel sends each child its `death_sig`
(PR_SET_PDEATHSIG). That fires when the *thread* that started the child exits: start children from the
main thread, or one that lives as long as they do.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import BinaryIO, TextIO

from ..trainer import procs

TAIL_LINES = 30
MARK = "CPPFORGE_STACK_CHILD"  # in every child's environment: a token per Child, inherited by what it starts


class Child:
    """`argv` run with `env`, its stdout and stderr (merged) into `log_path` and, if set, `echo`."""

    def __init__(self, name: str, argv: Sequence[str], *, env: Mapping[str, str], log_path: Path,
                 echo: TextIO | None = None, grace_s: float = 10.0,
                 death_sig: signal.Signals = signal.SIGTERM, stdin: bytes | None = None) -> None:  # fmt: skip
        self.name = name
        self.argv = list(argv)
        self.mark = f"{MARK}={name}-{secrets.token_hex(8)}"
        self.env = {**env, MARK: self.mark.split("=", 1)[1]}
        self.death_sig = death_sig
        self.stdin = stdin  # written to the child's stdin, then closed (e.g. a secret kept off the command line)
        self.log_path = log_path
        self.echo = echo
        self.grace_s = grace_s
        self.proc: subprocess.Popen[bytes] | None = None
        self._tail: deque[str] = deque(maxlen=TAIL_LINES)
        self._reader: threading.Thread | None = None
        self._echo_lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "wb")  # noqa: SIM115 (closed by the reader thread)
        try:
            self.proc = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL if self.stdin is None else subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=self.env, start_new_session=True,
                preexec_fn=procs.death_signal(self.death_sig),
            )  # fmt: skip
        except BaseException:
            log.close()
            raise
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError), self.proc.stdin as stdin:  # a child that died at once: its log says
                stdin.write(self.stdin or b"")
        self._reader = threading.Thread(target=self._copy, args=(log,), name=f"log-{self.name}", daemon=True)
        self._reader.start()

    def _copy(self, log: BinaryIO) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        with log, self.proc.stdout as out:
            for raw in out:
                log.write(raw)
                log.flush()
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                self._tail.append(line)
                if self.echo is not None:
                    with self._echo_lock, contextlib.suppress(ValueError, OSError):  # a closed or broken stream
                        self.echo.write(f"[{self.name}] {line}\n")
                        self.echo.flush()

    def exit_code(self) -> int | None:
        """None while it runs."""
        return self.proc.poll() if self.proc is not None else None

    def tail(self) -> str:
        if self._reader is not None and self.exit_code() is not None:
            self._reader.join(timeout=2)  # the last lines of a child that died
        return "\n".join(self._tail)

    def stop(self) -> None:
        """SIGTERM the group, SIGKILL after the grace, then every descendant left elsewhere. Idempotent."""
        if self.proc is None:
            return
        pgid = self.proc.pid
        strays = procs.live_descendants(pgid)  # seen now: once the child is gone they are re-parented
        strays += self._marked(exclude={pgid, *(pid for pid, _ in strays)})
        if self.proc.poll() is None or procs.live_group_members(pgid):
            procs.signal_group(pgid, signal.SIGTERM)
            deadline = time.monotonic() + self.grace_s
            while (self.proc.poll() is None or procs.live_group_members(pgid)) and time.monotonic() < deadline:
                time.sleep(0.05)
            if self.proc.poll() is None or procs.live_group_members(pgid):
                procs.signal_group(pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
        _kill_strays(strays + self._marked(exclude={pgid, *(pid for pid, _ in strays)}), pgid)
        if self._reader is not None:
            self._reader.join(timeout=5)

    def _marked(self, exclude: set[int]) -> list[tuple[int, procs.ProcStat]]:
        """Our descendants (orphans re-parented to us included) that carry this child's mark."""
        return [(pid, stat) for pid, stat in procs.live_descendants(os.getpid())
                if pid not in exclude and procs.environ_has(pid, self.mark)]  # fmt: skip


def _still_alive(strays: list[tuple[int, procs.ProcStat]]) -> list[tuple[int, procs.ProcStat]]:
    """Those of `strays` alive now (the same processes: a recycled pid has another start time)."""
    alive = []
    for pid, stat in strays:
        now = procs.proc_stat(pid)
        if now is not None and now.start_ticks == stat.start_ticks and now.state not in ("Z", "X"):
            alive.append((pid, now))
    return alive


def _kill_strays(strays: list[tuple[int, procs.ProcStat]], pgid: int, wait_s: float = 5.0) -> None:
    """SIGKILL what is still alive of `strays`, with its group, and wait (briefly) until it is gone."""
    left = _still_alive(strays)
    groups = {stat.pgrp for _, stat in left} - {pgid, os.getpgrp()}
    for pid, _ in left:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    for group in groups:
        procs.signal_group(group, signal.SIGKILL)
    deadline = time.monotonic() + wait_s
    while left and time.monotonic() < deadline:  # SIGKILL takes effect asynchronously
        time.sleep(0.02)
        left = _still_alive(left)
    for pid, _ in strays:  # orphans re-parented to us (a subreaper) are ours to reap
        stat = procs.proc_stat(pid)
        if stat is not None and stat.ppid == os.getpid():
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, os.WNOHANG)
