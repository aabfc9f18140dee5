"""Unit tests of `run_sandboxed` on plain commands, and of how verify_cpp picks a sandbox mode."""

from __future__ import annotations

import dataclasses
import os
import signal
from pathlib import Path

import pytest

from services.verifier.core import sandbox as sandbox_mod
from services.verifier.core import verify as verify_mod
from services.verifier.core.sandbox import (
    NOBODY_UID,
    SANDBOX_PATH,
    SandboxLimits,
    SandboxOutcome,
    SandboxSpec,
    SandboxUnavailableError,
    run_sandboxed,
)
from services.verifier.core.verify import VerifierConfig, verify_cpp

SLACK_S = 3.0


def limits(**overrides: object) -> SandboxLimits:
    base: dict[str, object] = {
        "wall_s": 10.0,
        "cpu_s": 10,
        "memory_bytes": 256 << 20,
        "max_processes": 16,
        "file_size_bytes": 64 << 20,
    }
    base.update(overrides)
    return SandboxLimits(**base)  # type: ignore[arg-type]


def sh(
    script: str, workdir: Path, lim: SandboxLimits | None = None, sandboxed: bool = True, **spec: object
) -> SandboxOutcome:
    out = run_sandboxed(
        SandboxSpec(argv=["/bin/sh", "-c", script], workdir=workdir, limits=lim or limits(), **spec),  # type: ignore[arg-type]
        sandboxed=sandboxed,
    )
    assert out.sandbox_error is None, out
    return out


def test_exit_code_and_stdout(workdir: Path) -> None:
    out = sh("echo hi; echo oops >&2; exit 3", workdir)
    assert out.started is True
    assert out.returncode == 3
    assert out.signal is None
    assert out.stdout == b"hi\n"
    assert out.stderr == b"oops\n"
    assert (out.timed_out, out.output_overflow, out.stdout_truncated, out.stderr_truncated) == (
        False,
        False,
        False,
        False,
    )


def test_clean_exit(workdir: Path) -> None:
    out = sh("true", workdir)
    assert (out.returncode, out.signal, out.timed_out) == (0, None, False)


def test_signal_is_reported(workdir: Path) -> None:
    out = sh("kill -TERM $$", workdir)
    assert out.signal == signal.SIGTERM
    assert out.returncode is None
    assert out.timed_out is False


def test_deadline_kills_the_tree(workdir: Path) -> None:
    out = sh("sleep 30 & sleep 30; echo never", workdir, limits(wall_s=1.0))
    assert out.timed_out is True
    assert out.stdout == b""
    assert 0.9 <= out.wall_s < 1.0 + SLACK_S


def test_output_overflow_kills_the_run(workdir: Path) -> None:
    out = sh("yes flood; echo never", workdir, limits(output_cap_bytes=4096))
    assert out.output_overflow is True
    assert out.stdout_truncated is True
    assert out.timed_out is False
    assert len(out.stdout) == 4096
    assert out.stdout.startswith(b"flood\nflood\n")
    assert out.wall_s < 10.0


def test_stderr_overflow_kills_the_run(workdir: Path) -> None:
    out = sh("yes flood >&2", workdir, limits(output_cap_bytes=4096))
    assert out.output_overflow is True
    assert out.stderr_truncated is True
    assert len(out.stderr) == 4096


def test_output_over_the_cap_is_drained_when_not_fatal(workdir: Path) -> None:
    out = sh(
        "head -c 200000 /dev/zero; echo done >&2; exit 0",
        workdir,
        limits(output_cap_bytes=4096, kill_on_output_overflow=False),
    )
    assert (out.returncode, out.signal, out.output_overflow, out.timed_out) == (0, None, False, False)
    assert out.stdout_truncated is True
    assert out.stdout == b"\0" * 4096
    assert out.stderr == b"done\n"


def test_environment_is_clean(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CPPFORGE_SECRET_PROBE", "topsecret")
    out = sh("env", workdir, env={"EXTRA_VAR": "given"})
    env = dict(line.split("=", 1) for line in out.stdout.decode().splitlines() if "=" in line)
    assert env["PATH"] == SANDBOX_PATH
    assert env["EXTRA_VAR"] == "given"
    assert env["HOME"] == env["TMPDIR"] == str(workdir)
    assert "topsecret" not in out.stdout.decode()
    assert "CPPFORGE_SECRET_PROBE" not in env
    assert set(env) <= {"PATH", "HOME", "TMPDIR", "LANG", "EXTRA_VAR", "PWD", "SHLVL", "_"}, env


def test_stdin_is_dev_null(workdir: Path) -> None:
    out = sh("readlink /proc/self/fd/0; wc -c", workdir, mount_proc=True)
    assert out.returncode == 0
    assert out.stdout.split() == [b"/dev/null", b"0"]


def test_runs_as_nobody_when_root(workdir: Path) -> None:
    out = sh("id -u", workdir)
    expected = NOBODY_UID if os.geteuid() == 0 else os.getuid()
    assert out.stdout.strip() == str(expected).encode()


def test_workdir_writable_usr_and_tmp_not(workdir: Path) -> None:
    script = (
        "echo data > ./f && echo work-ok; "
        "touch /usr/cppforge_sandbox_probe 2>/dev/null && echo usr-writable; "
        "touch /tmp/cppforge_sandbox_probe 2>/dev/null && echo tmp-writable; "
        "exit 0"
    )
    out = sh(script, workdir)
    assert out.stdout == b"work-ok\n"
    assert (workdir / "f").read_text() == "data\n"
    assert not Path("/usr/cppforge_sandbox_probe").exists()
    assert not Path("/tmp/cppforge_sandbox_probe").exists()


def test_no_network(workdir: Path) -> None:
    # sh has no /dev/tcp; ask the kernel for routes instead: a new network namespace has none.
    out = sh("wc -l < /proc/net/route; cat /proc/net/dev", workdir, mount_proc=True)
    lines = out.stdout.decode().splitlines()
    assert lines[0].strip() == "1", out  # the header only: no routes at all
    interfaces = {ln.split(":")[0].strip() for ln in lines[3:] if ":" in ln}
    assert interfaces <= {"lo"}, out


def test_scratch_dir_is_the_only_writable_place(workdir: Path) -> None:
    (workdir / "scratch").mkdir()
    script = (
        'pwd; echo "$TMPDIR"; '
        "echo x > ../in_workdir 2>/dev/null && echo workdir-writable; "
        "echo x > ./small && echo scratch-ok; "
        "head -c 4194304 /dev/zero > ./big 2>/dev/null || echo big-failed; "
        "exit 0"
    )
    out = sh(script, workdir, scratch_name="scratch", scratch_bytes=1 << 20)
    scratch = str(workdir / "scratch")
    assert out.stdout.decode().splitlines() == [scratch, scratch, "scratch-ok", "big-failed"], out
    assert not (workdir / "in_workdir").exists()
    # The scratch dir was a tmpfs inside the sandbox: nothing of it reaches the host dir.
    assert list((workdir / "scratch").iterdir()) == []


def test_file_size_limit_raises_sigxfsz(workdir: Path) -> None:
    out = sh("head -c 3000000 /dev/zero > ./f", workdir, limits(file_size_bytes=1 << 20))
    assert out.signal == signal.SIGXFSZ, out


def test_process_cap(workdir: Path) -> None:
    # 40 background sleeps against a cap of 16: the extra forks fail, and the sleepers die with
    # the run instead of holding it open.
    # dash exits when fork fails, so the forking happens in a child shell; the count uses
    # only builtins, as the cap leaves no room for another process.
    script = (
        "sh -c 'i=0; while [ $i -lt 40 ]; do sleep 5 & i=$((i+1)); done' 2>/dev/null; "
        "set -- /proc/[0-9]*; echo $#; exit 0"
    )
    out = sh(script, workdir, limits(max_processes=16, wall_s=8.0), mount_proc=True)
    assert (out.returncode, out.timed_out) == (0, False), out
    in_namespace = int(out.stdout.split()[-1])
    assert 1 < in_namespace <= 16, out
    assert out.wall_s < 5.0


def test_run_sandboxed_without_bwrap_raises(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox_mod.shutil, "which", lambda *a, **k: None)
    with pytest.raises(SandboxUnavailableError):
        run_sandboxed(SandboxSpec(argv=["/bin/true"], workdir=workdir, limits=limits()))


def _no_bwrap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verify_mod, "bwrap_path", lambda: None)
    monkeypatch.setattr(sandbox_mod, "bwrap_path", lambda: None)


def test_verify_cpp_refuses_without_bwrap(monkeypatch: pytest.MonkeyPatch) -> None:
    _no_bwrap(monkeypatch)
    config = dataclasses.replace(VerifierConfig.from_settings(), allow_unsandboxed=False)
    with pytest.raises(SandboxUnavailableError, match="CPPFORGE_ALLOW_UNSANDBOXED"):
        verify_cpp("int main() { return 0; }", return_structured=True, config=config)


def test_verify_cpp_unsandboxed_when_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    _no_bwrap(monkeypatch)
    config = dataclasses.replace(VerifierConfig.from_settings(), allow_unsandboxed=True)
    r = verify_cpp(
        '#include <cstdio>\nint main() { std::puts("unsandboxed"); return 0; }\n',
        return_structured=True,
        config=config,
    )
    assert (r.error_class, r.compile_ok, r.run_ok, r.ran, r.infra_error) == ("none", True, True, True, None)
    assert r.stdout.strip() == "unsandboxed"
