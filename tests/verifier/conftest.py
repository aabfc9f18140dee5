"""Fixtures for the verifier tests: every test must leave no temp dir and no live process."""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.verifier.core.cgroups import CGROUP_ROOT, PARENT_NAME
from services.verifier.core.sandbox import NOBODY_UID
from services.verifier.core.verify import TEMP_PREFIX, wait_for_pch_builds

# This session's own temp root: other runs on the machine cannot confuse the leak checks.
SESSION_TMP = tempfile.mkdtemp(prefix="cppforge-tests-")
os.chmod(SESSION_TMP, 0o755)
tempfile.tempdir = SESSION_TMP
# The session fixture below removes it, but only in a run that selects a verifier test (make test-docker
# imports this conftest and deselects them all): remove it at exit in any case.
atexit.register(shutil.rmtree, SESSION_TMP, ignore_errors=True)


def leftover_temp_dirs() -> set[str]:
    return set(glob.glob(os.path.join(SESSION_TMP, TEMP_PREFIX + "*")))


def _proc_state(pid: str) -> str:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "gone"
    return stat.rsplit(")", 1)[1].split()[0]


def leftover_processes() -> list[str]:
    """Live (non-zombie) processes of this session's verifications: they sit in, run from or name
    a cppforge_verify_ dir under the session temp root, or sit in one of this process's cgroups."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        if _proc_state(entry) in ("Z", "X", "gone"):
            continue
        where = []
        for link in ("cwd", "exe"):
            with contextlib.suppress(OSError):
                where.append(os.readlink(f"/proc/{entry}/{link}"))
        with contextlib.suppress(OSError):
            where.append(Path(f"/proc/{entry}/cmdline").read_bytes().decode(errors="replace"))
        if any(SESSION_TMP in w and TEMP_PREFIX in w for w in where):
            found.append(f"{entry}: {where}")
    for controller in ("pids", "memory"):
        base = CGROUP_ROOT / controller / PARENT_NAME
        for procs in glob.glob(str(base / f"run_{os.getpid()}_*" / "cgroup.procs")):
            pids = Path(procs).read_text().split()
            if pids:
                found.append(f"cgroup {procs}: {pids}")
    return found


def assert_clean(before: set[str]) -> None:
    # Killed trees can take a moment to be reaped by the kernel; give them a short grace.
    deadline = time.monotonic() + 2.0
    while True:
        procs = leftover_processes()
        dirs = leftover_temp_dirs() - before
        if (not procs and not dirs) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not dirs, f"temp dirs left behind: {sorted(dirs)}"
    assert not procs, f"processes of the run survived: {procs}"


@pytest.fixture(scope="session", autouse=True)
def session_tmp() -> Iterator[str]:
    yield SESSION_TMP
    leaked = leftover_temp_dirs()
    shutil.rmtree(SESSION_TMP, ignore_errors=True)
    assert not leaked, f"temp dirs left behind: {sorted(leaked)}"


@pytest.fixture
def workdir() -> Iterator[Path]:
    """A work dir the sandbox (as nobody, when root) may use; TEMP_PREFIX, so the leak check
    also looks for processes running from it."""
    path = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX))
    if os.geteuid() == 0:
        os.chown(path, NOBODY_UID, NOBODY_UID)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(autouse=True)
def no_leftovers() -> Iterator[None]:
    before = leftover_temp_dirs()
    yield
    # A test's background PCH builds are its own processes: let them end (a build takes seconds).
    wait_for_pch_builds(60.0)
    assert_clean(before)
