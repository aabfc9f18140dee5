"""The sandbox launcher (runtime/launch.cpp) does exactly what `sh` joining the cgroups, `prlimit` and
`setpriv` did: the same limits, ids, groups and capabilities inside the sandbox, and nothing runs when
a step fails."""

from __future__ import annotations

import multiprocessing
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from services.verifier.core import launcher
from services.verifier.core.sandbox import NOBODY_UID, SandboxLimits, SandboxSpec, run_sandboxed

PROBE = (
    "cat /proc/self/limits; grep -E '^(Uid|Gid|Groups|Cap|NoNewPrivs|Seccomp)' /proc/self/status; cat /proc/self/cgroup"
)


def _probe(workdir: Path, monkeypatch: pytest.MonkeyPatch, use_launcher: bool) -> str:
    with monkeypatch.context() as m:
        if not use_launcher:
            m.setattr("services.verifier.core.sandbox.launcher_path", lambda: None)
        lim = SandboxLimits(
            wall_s=10, cpu_s=7, memory_bytes=256 << 20, max_processes=16, file_size_bytes=3 << 20,
            open_files=64, stack_bytes=16 << 20, address_space_bytes=1 << 30,
        )  # fmt: skip
        out = run_sandboxed(SandboxSpec(argv=["/bin/sh", "-c", PROBE], workdir=workdir, limits=lim, mount_proc=True))
    assert out.returncode == 0 and out.sandbox_error is None, out
    return out.stdout.decode()


def test_the_sandbox_sees_the_same_limits_ids_and_groups(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert launcher.launcher_path() is not None
    with_launcher = _probe(workdir, monkeypatch, use_launcher=True)
    with_tools = _probe(workdir, monkeypatch, use_launcher=False)
    assert with_launcher == with_tools
    assert re.search(r"Max cpu time\s+7\s+7", with_launcher)
    assert re.search(r"Max address space\s+1073741824\s+1073741824", with_launcher)
    if os.geteuid() == 0:
        assert f"Uid:\t{NOBODY_UID}\t{NOBODY_UID}\t{NOBODY_UID}\t{NOBODY_UID}" in with_launcher
        assert re.search(r"Groups:\s*\n", with_launcher)
        assert "CapEff:\t0000000000000000" in with_launcher


def test_the_launcher_lives_in_a_private_dir() -> None:
    path = launcher.launcher_path()
    assert path is not None
    parent = os.stat(Path(path).parent)
    assert parent.st_uid == os.geteuid() and stat.S_IMODE(parent.st_mode) == 0o700


def test_a_failed_step_runs_nothing(tmp_path: Path) -> None:
    path = launcher.launcher_path()
    assert path is not None
    marker = tmp_path / "ran"
    cases = {
        97: ["-j", str(tmp_path / "no-such-cgroup.procs")],
        98: ["-l", "0=many"],
        99: ["-u", "0:0"],
        2: ["-x", "1"],
    }
    for code, args in cases.items():
        out = subprocess.run([path, *args, "--", "touch", str(marker)], capture_output=True, check=False)
        assert out.returncode == code, (args, out)
        assert not marker.exists()
    assert not (tmp_path / "no-such-cgroup.procs").exists()  # never created


def _child_launcher(queue: multiprocessing.Queue[str | None]) -> None:
    queue.put(launcher.launcher_path())


def test_a_forked_child_builds_its_own_and_leaves_the_parents_alone() -> None:
    mine = launcher.launcher_path()
    assert mine is not None
    ctx = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue[str | None] = ctx.Queue()
    child = ctx.Process(target=_child_launcher, args=(queue,))
    child.start()
    theirs = queue.get(timeout=120)
    child.join(timeout=120)
    assert theirs is not None and theirs != mine
    assert os.path.exists(mine)  # the child's exit removed its own dir only
    shutil.rmtree(Path(theirs).parent, ignore_errors=True)  # a fork's child exits without atexit


def test_a_removed_launcher_is_built_again() -> None:
    first = launcher.launcher_path()
    assert first is not None
    shutil.rmtree(Path(first).parent)
    again = launcher.launcher_path()
    assert again is not None and os.path.exists(again)
