"""The verifier's temp dirs: a process killed mid-verification leaves its dir, the next sweep removes it;
a run interrupted by an exception leaves no process behind, with or without a cgroup."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.verifier.core import sandbox as sandbox_mod
from services.verifier.core import workdirs
from services.verifier.core.sandbox import NOBODY_UID, SandboxLimits, SandboxSpec, run_sandboxed
from services.verifier.core.workdirs import LAUNCH_PREFIX, TEMP_PREFIX, owner_tag, sweep_stale

from .conftest import leftover_processes

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def root() -> Iterator[Path]:
    """A temp root of the test's own (the sandbox, as nobody, must reach dirs under it)."""
    path = Path(tempfile.mkdtemp(prefix="sweep-"))
    os.chmod(path, 0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def _hostile_tree(path: Path) -> None:
    """What a sandboxed build or run can leave: files of nobody's, an unreadable dir, a 0111 program."""
    locked = path / "locked"
    locked.mkdir(parents=True)
    (locked / "inner").write_text("x")
    (path / "prog").write_bytes(b"\x7fELF")
    os.chmod(path / "prog", 0o111)
    if os.geteuid() == 0:
        for p in (path, locked, locked / "inner", path / "prog"):
            os.chown(p, NOBODY_UID, NOBODY_UID)
    os.chmod(locked, 0)


def test_sweep_removes_only_dirs_whose_owner_is_gone(root: Path) -> None:
    me = os.getpid()
    dead = root / f"{TEMP_PREFIX}{_dead_pid()}_1_abc"
    dead_kind = root / f"{TEMP_PREFIX}pristine_{_dead_pid()}_1_abc"
    reused = root / f"{TEMP_PREFIX}{me}_1_abc"  # our pid, another start time: a reused pid
    mine = root / f"{TEMP_PREFIX}{owner_tag()}_abc"
    legacy_young, legacy_old = root / f"{TEMP_PREFIX}young", root / f"{TEMP_PREFIX}old"
    for d in (dead, dead_kind, reused, mine, legacy_young, legacy_old):
        _hostile_tree(d)
    old = time.time() - workdirs.LEGACY_AGE_S - 60
    os.utime(legacy_old, (old, old))
    # A link under the prefix is never followed, and its target is never touched.
    target = root / "target"
    target.mkdir()
    (target / "keep").write_text("x")
    link = root / f"{TEMP_PREFIX}{_dead_pid()}_1_link"
    os.symlink(target, link)

    removed = sweep_stale(str(root), force=True)

    assert sorted(removed) == sorted(str(d) for d in (dead, dead_kind, reused, legacy_old))
    assert all(not d.exists() for d in (dead, dead_kind, reused, legacy_old))
    assert mine.exists() and legacy_young.exists()
    assert (target / "keep").exists() and link.is_symlink()
    assert sweep_stale(str(root)) == []  # rate-limited: the next call within the interval does nothing


def test_workdir_names_its_owner_and_is_removed(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    with workdirs.workdir("tidy") as tmp:
        assert Path(tmp).name.startswith(f"{TEMP_PREFIX}tidy_{owner_tag()}_")
        assert re.fullmatch(r"cppforge_verify_\w+", Path(tmp).name)  # what tools match a work dir by
        _hostile_tree(Path(tmp) / "sub")
        os.chmod(Path(tmp) / "sub" / "locked", 0o700)  # TemporaryDirectory's own cleanup handles the rest
    assert list(root.iterdir()) == []


_KILLED_MID_RUN = textwrap.dedent(
    """
    import sys
    from services.verifier.core.verify import verify_cpp
    verify_cpp("#include <cstdio>\\nint main() { std::puts(\\"up\\"); for (;;) {} }\\n", timeout=60)
    """
)


def test_a_verifier_killed_mid_run_leaves_a_dir_that_the_next_sweep_removes(root: Path) -> None:
    env = {**os.environ, "TMPDIR": str(root), "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_MID_RUN], env=env, cwd=REPO)
    try:
        deadline = time.monotonic() + 60
        while not list(root.glob(f"{TEMP_PREFIX}*/prog")):  # linked: the run is under way
            assert proc.poll() is None and time.monotonic() < deadline, "the verification never got to run"
            time.sleep(0.05)
        time.sleep(0.3)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    leaked = list(root.glob(f"{TEMP_PREFIX}*"))
    assert len(leaked) == 1, "a killed verifier leaves its work dir (the bug this sweep exists for)"
    assert leaked[0].name.startswith(f"{TEMP_PREFIX}{proc.pid}_")
    # bwrap dies with its parent: nothing of the candidate runs on.
    deadline = time.monotonic() + 5
    while _processes_under(root) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _processes_under(root)
    # The dead process's sandbox launcher dir goes too (launcher.py builds one per process).
    launch_dirs = [str(p) for p in root.glob(f"{LAUNCH_PREFIX}{proc.pid}_*")]
    assert sorted(sweep_stale(str(root), force=True)) == sorted([str(leaked[0]), *launch_dirs])
    assert list(root.iterdir()) == []


def _processes_under(root: Path) -> list[str]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if str(root) in os.readlink(f"/proc/{entry}/cwd"):
                    found.append(entry)
            except OSError:
                pass
    return found


@pytest.mark.parametrize("with_cgroup", [True, False])
def test_an_exception_mid_run_leaves_no_process(
    with_cgroup: bool, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not with_cgroup:
        monkeypatch.setattr(sandbox_mod.RunCgroup, "create", classmethod(lambda cls, *a: None))
    calls = []

    def interrupted(self: object, timeout: float) -> None:
        calls.append(timeout)
        if len(calls) > 3:
            raise KeyboardInterrupt  # what a job timeout's exception does to the loop
        time.sleep(0.05)

    monkeypatch.setattr(sandbox_mod._CappedReader, "poll", interrupted)
    lim = SandboxLimits(wall_s=30, cpu_s=30, memory_bytes=256 << 20, max_processes=16, file_size_bytes=1 << 20)
    spec = SandboxSpec(argv=["/bin/sh", "-c", "sleep 30 & sleep 30"], workdir=workdir, limits=lim)
    with pytest.raises(KeyboardInterrupt):
        run_sandboxed(spec)
    deadline = time.monotonic() + 2
    while leftover_processes() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not leftover_processes()
