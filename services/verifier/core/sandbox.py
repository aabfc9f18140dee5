"""Run one command on untrusted input inside bubblewrap, with rlimits, a cgroup and a deadline.

Layers, outermost first:
  the launcher (runtime/launch.cpp: joins the run's cgroups, sets the rlimits, drops to nobody when
  root, then execs; where it cannot be built, `sh` joining, `prlimit` and `setpriv` do it) -> bwrap
  (no network, new PID/IPC/UTS/mount namespaces, its own host name, no /proc unless asked, then
  with host-describing files masked; read-only /usr, only the work dir writable, stdin /dev/null,
  clean environment, optionally a seccomp filter) -> the command.
stdout and stderr are read concurrently with a cap each, so a flood never deadlocks or
buffers without bound. At the deadline the whole tree dies: the process group is killed, bwrap
takes its PID namespace down with it (--die-with-parent), and the cgroup is swept.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import selectors
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ...common.errors import ServiceError
from .cgroups import RunCgroup
from .launcher import launcher_path

NOBODY_UID = 65534
SANDBOX_PATH = "/usr/bin:/bin"
SANDBOX_HOSTNAME = "cppforge"
# Host-describing files under /proc that a sanitizer run's /proc shows empty.
MASKED_PROC_FILES = ("cmdline", "version", "cpuinfo", "meminfo", "mounts", "modules", "kallsyms", "stat", "loadavg")


class SandboxUnavailableError(ServiceError, RuntimeError):
    """bwrap is missing (or broken) and unsandboxed execution was not explicitly allowed."""

    status = 503

    def __init__(self, message: str) -> None:
        super().__init__(message, retry_after_s=30)  # an operator has to act: come back much later


@dataclass(frozen=True)
class SandboxLimits:
    wall_s: float
    cpu_s: int
    memory_bytes: int
    max_processes: int
    file_size_bytes: int
    open_files: int = 256
    stack_bytes: int = 64 << 20
    # RLIMIT_AS; None for sanitizer builds, which reserve terabytes of shadow memory.
    address_space_bytes: int | None = None
    output_cap_bytes: int = 64 * 1024
    kill_on_output_overflow: bool = True


@dataclass(frozen=True)
class SandboxSpec:
    argv: Sequence[str]
    workdir: Path
    limits: SandboxLimits
    # Run with the work dir read-only and a size-capped tmpfs at `workdir/scratch_name` as the
    # only writable place (cwd and TMPDIR); None: the work dir itself is writable.
    scratch_name: str | None = None
    scratch_bytes: int = 16 << 20
    ro_binds: Sequence[Path] = ()
    # Only /dev/null under /dev: g++ needs nothing else, and it keeps `#include "/dev/zero"`
    # from feeding the compiler an endless file.
    minimal_dev: bool = False
    # No /proc by default: neither a compiler nor a program needs it, and without it `/proc/self/fd/N`
    # cannot reopen a pipe and host files such as /proc/cmdline stay out of reach. Sanitizer runs
    # need /proc/self/maps: they get a /proc with the host-describing files masked.
    mount_proc: bool = False
    # An fd to give the command as stdin (default /dev/null), and fds to pass through by number.
    stdin_fd: int | None = None
    pass_fds: Sequence[int] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    # A classic-BPF seccomp program (seccomp.process_filter) bwrap installs right before it execs argv.
    seccomp_program: bytes | None = None
    # Read ends of pipes whose write ends the command holds (via pass_fds): read like stdout, with
    # the same cap, and returned in SandboxOutcome.captured under the same names.
    capture_fds: Mapping[str, int] = field(default_factory=dict)
    # Fds of the caller's that only the command should hold (the write ends of capture pipes): closed
    # here once the command has started, so that their readers see end-of-file when it exits.
    close_after_start: Sequence[int] = ()


@dataclass
class SandboxOutcome:
    started: bool
    returncode: int | None
    signal: int | None
    stdout: bytes
    stderr: bytes
    stdout_truncated: bool
    stderr_truncated: bool
    timed_out: bool
    output_overflow: bool
    memory_exceeded: bool
    wall_s: float
    sandbox_error: str | None = None
    captured: dict[str, bytes] = field(default_factory=dict)


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


def _bwrap_args(spec: SandboxSpec, status_fd: int, seccomp_fd: int | None) -> list[str]:
    work = str(spec.workdir)
    args = [
        "bwrap",
        "--unshare-all",
        "--hostname", SANDBOX_HOSTNAME,
        "--die-with-parent",
        "--new-session",
        "--clearenv",
        "--ro-bind", "/usr", "/usr",
        "--symlink", "usr/lib", "/lib",
        "--symlink", "usr/lib64", "/lib64",
        "--symlink", "usr/bin", "/bin",
        "--symlink", "usr/sbin", "/sbin",
        # /usr/local may hold site-specific tools and secrets; nothing the build needs.
        "--tmpfs", "/usr/local", "--remount-ro", "/usr/local",
    ]  # fmt: skip
    if spec.mount_proc:
        args += ["--proc", "/proc"]
        for name in MASKED_PROC_FILES:
            if os.path.exists(f"/proc/{name}"):
                args += ["--ro-bind", "/dev/null", f"/proc/{name}"]
    if spec.minimal_dev:
        args += ["--tmpfs", "/dev", "--dev-bind", "/dev/null", "/dev/null", "--remount-ro", "/dev"]
    else:
        # Device nodes still work on a read-only /dev; /dev/shm becomes unwritable.
        args += ["--dev", "/dev", "--remount-ro", "/dev"]
    for path in spec.ro_binds:
        args += ["--ro-bind", str(path), str(path)]
    if spec.scratch_name is None:
        cwd = work
        args += ["--bind", work, work]
    else:
        cwd = str(spec.workdir / spec.scratch_name)
        args += ["--ro-bind", work, work, "--size", str(spec.scratch_bytes), "--tmpfs", cwd]
    env = {"PATH": SANDBOX_PATH, "HOME": cwd, "TMPDIR": cwd, "LANG": "C", **spec.env}
    for key, value in env.items():
        args += ["--setenv", key, value]
    # Nothing outside the binds may be written: not /tmp, not the root tmpfs.
    args += ["--remount-ro", "/", "--chdir", cwd, "--json-status-fd", str(status_fd)]
    if seccomp_fd is not None:
        args += ["--seccomp", str(seccomp_fd)]
    return [*args, "--"]


def _prlimit_args(limits: SandboxLimits, nproc: int) -> list[str]:
    args = [
        "prlimit",
        f"--cpu={limits.cpu_s}",
        f"--fsize={limits.file_size_bytes}",
        f"--nofile={limits.open_files}",
        f"--stack={limits.stack_bytes}",
        f"--nproc={nproc}",
        "--core=0",
    ]
    if limits.address_space_bytes is not None:
        args.append(f"--as={limits.address_space_bytes}")
    return [*args, "--"]


def _user_process_count(uid: int) -> int:
    count = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if entry.stat().st_uid == uid:
                    count += 1
    return count


def _nproc_limit(limits: SandboxLimits, cgroup: RunCgroup | None, drop_to_nobody: bool) -> int:
    if cgroup is not None:
        # The pids cgroup is the real per-run cap; RLIMIT_NPROC is shared by every run of the
        # same uid, so it only backstops here.
        return 4096
    uid = NOBODY_UID if drop_to_nobody else os.getuid()
    # RLIMIT_NPROC counts every process of the uid, the caller's own included.
    return _user_process_count(uid) + limits.max_processes


def _rlimits(limits: SandboxLimits, nproc: int) -> list[tuple[int, int]]:
    """The launcher's (resource, soft and hard value) pairs: exactly _prlimit_args's limits."""
    pairs = [
        (resource.RLIMIT_CPU, limits.cpu_s),
        (resource.RLIMIT_FSIZE, limits.file_size_bytes),
        (resource.RLIMIT_NOFILE, limits.open_files),
        (resource.RLIMIT_STACK, limits.stack_bytes),
        (resource.RLIMIT_NPROC, nproc),
        (resource.RLIMIT_CORE, 0),
    ]
    if limits.address_space_bytes is not None:
        pairs.append((resource.RLIMIT_AS, limits.address_space_bytes))
    return pairs


def build_command(
    spec: SandboxSpec, cgroup: RunCgroup | None, sandboxed: bool, status_fd: int, seccomp_fd: int | None = None
) -> tuple[list[str], bool]:
    """The full argv for one run, and whether it drops to the nobody uid."""
    drop = os.geteuid() == 0
    launcher = launcher_path()
    if launcher is not None:
        # One process joins the cgroups (before anything can fork), sets the rlimits, drops to
        # nobody, then execs bwrap: what the sh, prlimit and setpriv chain below does in three.
        argv = [launcher]
        for procs in cgroup.procs_files if cgroup is not None else ():
            argv += ["-j", procs]
        for res, value in _rlimits(spec.limits, _nproc_limit(spec.limits, cgroup, drop)):
            argv += ["-l", f"{res}={value}"]
        if drop:
            argv += ["-u", f"{NOBODY_UID}:{NOBODY_UID}"]
        bwrap = _bwrap_args(spec, status_fd, seccomp_fd) if sandboxed else []
        return [*argv, "--", *bwrap, *spec.argv], drop
    inner: list[str] = []
    if drop:
        inner += ["setpriv", f"--reuid={NOBODY_UID}", f"--regid={NOBODY_UID}", "--clear-groups", "--"]
    if sandboxed:
        inner += _bwrap_args(spec, status_fd, seccomp_fd)
    argv = _prlimit_args(spec.limits, _nproc_limit(spec.limits, cgroup, drop)) + inner + list(spec.argv)
    if cgroup is not None:
        # Join the cgroups before anything can fork, then exec: nothing escapes the count.
        join = 'for f in "$1" "$2"; do echo $$ > "$f" || exit 97; done; shift 2; exec "$@"'
        argv = ["/bin/sh", "-c", join, "cppforge-join", *cgroup.procs_files, *argv]
    return argv, drop


class _CappedReader:
    """Reads stdout, stderr and the bwrap status pipe without blocking, keeping at most `cap`."""

    def __init__(self, streams: dict[str, int], cap: int) -> None:
        self.cap = cap
        self.data: dict[str, bytearray] = {name: bytearray() for name in streams}
        self.truncated: dict[str, bool] = dict.fromkeys(streams, False)
        self.selector = selectors.DefaultSelector()
        for name, fd in streams.items():
            os.set_blocking(fd, False)
            self.selector.register(fd, selectors.EVENT_READ, name)

    @property
    def open_count(self) -> int:
        return len(self.selector.get_map())

    def poll(self, timeout: float) -> None:
        for key, _ in self.selector.select(timeout):
            name = key.data
            fd = key.fd
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                continue
            if not chunk:
                self.selector.unregister(fd)
                continue
            buf = self.data[name]
            room = self.cap - len(buf)
            if len(chunk) > room:
                self.truncated[name] = True
                chunk = chunk[: max(room, 0)]
            buf += chunk

    def close(self) -> None:
        self.selector.close()


def _parse_status(raw: bytes) -> tuple[bool, int | None]:
    """bwrap's --json-status-fd stream: whether the child started, and its exit code."""
    started = False
    exit_code: int | None = None
    for chunk in raw.decode(errors="replace").replace("}{", "}\n{").splitlines():
        chunk = chunk.strip()
        if not chunk:
            continue
        with contextlib.suppress(json.JSONDecodeError):
            doc = json.loads(chunk)
            if "child-pid" in doc:
                started = True
            if "exit-code" in doc:
                exit_code = int(doc["exit-code"])
    return started, exit_code


def _seccomp_pipe(program: bytes) -> int:
    """A pipe's read end holding the whole BPF program (far below the pipe's capacity)."""
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, program)
    finally:
        os.close(write_end)
    return read_end


def _host_env(spec: SandboxSpec, sandboxed: bool) -> dict[str, str]:
    base = {"PATH": SANDBOX_PATH, "LANG": "C"}
    if sandboxed:
        return base  # bwrap clears it and sets the child's own (see _bwrap_args)
    work = str(spec.workdir)
    return {**base, "HOME": work, "TMPDIR": work, **spec.env}


def _kill_tree(proc: subprocess.Popen[bytes], cgroup: RunCgroup | None) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    if cgroup is not None:
        cgroup.kill_all()


def run_sandboxed(spec: SandboxSpec, sandboxed: bool = True) -> SandboxOutcome:
    """Run `spec.argv` confined as the module docstring says; never raises for the child's sake."""
    if sandboxed and bwrap_path() is None:
        raise SandboxUnavailableError("bubblewrap (bwrap) is not installed")
    limits = spec.limits
    cgroup = RunCgroup.create(limits.max_processes, limits.memory_bytes)
    status_r, status_w = os.pipe()
    seccomp_fd = _seccomp_pipe(spec.seccomp_program) if sandboxed and spec.seccomp_program else None
    extra_fds = () if seccomp_fd is None else (seccomp_fd,)
    argv, _ = build_command(spec, cgroup, sandboxed, status_w, seccomp_fd)
    started_at = time.monotonic()
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL if spec.stdin_fd is None else spec.stdin_fd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(status_w, *extra_fds, *spec.pass_fds),
            start_new_session=True,
            env=_host_env(spec, sandboxed),
            cwd=str(spec.workdir),
        )
    except OSError as exc:
        os.close(status_r)
        os.close(status_w)
        for fd in (seccomp_fd, *spec.close_after_start):
            if fd is not None:
                os.close(fd)
        if cgroup is not None:
            cgroup.remove()
        return SandboxOutcome(
            started=False, returncode=None, signal=None, stdout=b"", stderr=b"",
            stdout_truncated=False, stderr_truncated=False, timed_out=False,
            output_overflow=False, memory_exceeded=False, wall_s=0.0,
            sandbox_error=f"could not start the sandbox: {exc}",
        )  # fmt: skip
    os.close(status_w)
    if seccomp_fd is not None:
        os.close(seccomp_fd)
    for fd in spec.close_after_start:
        os.close(fd)
    assert proc.stdout is not None and proc.stderr is not None
    streams = {"stdout": proc.stdout.fileno(), "stderr": proc.stderr.fileno(), "status": status_r}
    reader = _CappedReader({**streams, **spec.capture_fds}, limits.output_cap_bytes)
    watched = ("stdout", "stderr", *spec.capture_fds)
    deadline = started_at + limits.wall_s
    timed_out = False
    overflow = False
    try:
        while True:
            now = time.monotonic()
            if now >= deadline:
                timed_out = proc.poll() is None
                break
            if reader.open_count == 0 and proc.poll() is not None:
                break
            reader.poll(min(0.05, deadline - now))
            if limits.kill_on_output_overflow and any(reader.truncated[name] for name in watched):
                overflow = True
                break
            if reader.open_count == 0:
                # Pipes closed but the process lingers: wait for it within the deadline.
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=max(0.0, min(0.05, deadline - time.monotonic())))
        _kill_tree(proc, cgroup)
        proc.wait()
        # Drain whatever the dead tree left in the pipes (bounded by the cap).
        drain_until = time.monotonic() + 0.5
        while reader.open_count and time.monotonic() < drain_until:
            reader.poll(0.02)
    finally:
        if proc.poll() is None:
            # An exception got here first (a job's timeout, KeyboardInterrupt): nothing of the run
            # may outlive this call, with or without a cgroup, nor write into a dir being removed.
            _kill_tree(proc, cgroup)
            proc.wait()
        wall = time.monotonic() - started_at
        reader.close()
        os.close(status_r)
        proc.stdout.close()
        proc.stderr.close()
        memory_exceeded = cgroup.memory_exceeded() if cgroup is not None else False
        if cgroup is not None:
            cgroup.remove()
    outcome = _outcome(proc, reader, sandboxed, timed_out, overflow, memory_exceeded, wall)
    outcome.captured = {name: bytes(reader.data[name]) for name in spec.capture_fds}
    return outcome


def _outcome(
    proc: subprocess.Popen[bytes],
    reader: _CappedReader,
    sandboxed: bool,
    timed_out: bool,
    overflow: bool,
    memory_exceeded: bool,
    wall: float,
) -> SandboxOutcome:
    stderr = bytes(reader.data["stderr"])
    if sandboxed:
        started, code = _parse_status(bytes(reader.data["status"]))
    else:
        started, code = True, proc.returncode
    error = None
    if not started and not timed_out:
        # bwrap failed before the child ran: our infrastructure, never the candidate's fault.
        error = "sandbox failed to start: " + stderr.decode(errors="replace").strip()[:500]
    sig: int | None = None
    if code is not None and code < 0:
        sig, code = -code, None
    elif code is not None and sandboxed and 128 < code < 128 + 65:
        # bwrap reports a child killed by signal N as 128+N (the shell convention).
        sig, code = code - 128, None
    elif code is None and started and not timed_out and not overflow and proc.returncode is not None:
        # The tree died without bwrap reporting an exit (e.g. OOM-killed bwrap's reaper).
        sig = -proc.returncode if proc.returncode < 0 else None
    return SandboxOutcome(
        started=started,
        returncode=code,
        signal=sig,
        stdout=bytes(reader.data["stdout"]),
        stderr=stderr,
        stdout_truncated=reader.truncated["stdout"],
        stderr_truncated=reader.truncated["stderr"],
        timed_out=timed_out,
        output_overflow=overflow,
        memory_exceeded=memory_exceeded,
        wall_s=wall,
        sandbox_error=error,
    )
