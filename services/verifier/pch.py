"""Precompiled headers for the candidate's leading standard includes, built once and reused.

Exactness first: a PCH is used only when the candidate's code *starts* with exactly the
includes the PCH was built from (same headers, same order, nothing else before them), and it
is built with exactly the compile's own flags. The compiler then sees the same declarations in
the same order as without it, so results (compile_ok, diagnostics, reward) are identical; a
PCH of a larger union would make code that forgot an #include compile, and make names such as
`count` ambiguous where they were not. RL groups share a prompt, hence its includes: the hit
rate is high where the time goes. A header set is built on its `min_uses`-th sighting (1 for
`bits/stdc++.h`, the costliest and most common), so one-off sets cost nothing extra.

Layout on disk: `<root>/<key>/pch.h` and `pch.h.gch`, key = sha256(compiler version, std, flags,
headers); a new g++ gives new keys. Entries beyond `max_entries` are evicted oldest-used first.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .compile import BuildLimits, compile_base_command, compile_limits, compiler_version
from .sandbox import NOBODY_UID, SandboxSpec, run_sandboxed
from .source_shape import leading_block

log = logging.getLogger(__name__)
PCH_HEADER = "pch.h"
EAGER_HEADERS = frozenset({("bits/stdc++.h",)})


def leading_includes(code: str) -> tuple[str, ...]:
    """The standard headers `code` includes before anything else, read byte-exactly (see
    source_shape.leading_block); empty when the code does not start that way."""
    return leading_block(code).headers


_PCH_LOCATION = re.compile(r"\bpch\.h:(\d+)")


def remap_pch_locations(text: str, code: str) -> str:
    """Include-chain notes say `from pch.h:N` under a PCH; without it they say
    `from solution.cpp:L`, L the line of the N-th leading include. Make them say the latter."""
    lines = leading_block(code).lines

    def swap(m: re.Match[str]) -> str:
        n = int(m.group(1))
        return f"solution.cpp:{lines[n - 1]}" if 0 < n <= len(lines) else m.group(0)

    return _PCH_LOCATION.sub(swap, text)


def default_pch_root(home: Path) -> Path:
    """The sandbox drops to `nobody` when root, and nobody cannot traverse /root: keep the PCH
    cache in a world-traversable place then."""
    if os.geteuid() == 0 and not str(home).startswith(("/tmp/", "/var/")):
        return Path("/var/tmp/cppforge-pch")
    return home / "pch"


@dataclass(frozen=True)
class PchKey:
    std: str
    flags: tuple[str, ...]
    headers: tuple[str, ...]

    def digest(self) -> str:
        text = "\0".join([compiler_version(), self.std, *self.flags, "|", *self.headers])
        return hashlib.sha256(text.encode()).hexdigest()[:24]


class PchCache:
    """Thread-safe PCH store; see the module docstring for the policy."""

    def __init__(
        self,
        root: Path,
        limits: BuildLimits,
        sandboxed: bool = True,
        min_uses: int = 2,
        max_entries: int = 32,
    ) -> None:
        self.root = root
        self.limits = limits
        self.sandboxed = sandboxed
        self.min_uses = min_uses
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}
        self._sightings: dict[str, int] = {}
        self._failed: set[str] = set()
        self.builds = 0
        self.hits = 0

    def header_for(self, code: str, std: str, flags: Sequence[str]) -> Path | None:
        """The pch.h to `-include` for this code, building it when the policy says so."""
        headers = leading_includes(code)
        if not headers:
            return None
        key = PchKey(std, tuple(flags), headers)
        digest = key.digest()
        entry = self.root / digest
        if (entry / (PCH_HEADER + ".gch")).exists():
            self._touch(entry)
            self.hits += 1
            return entry / PCH_HEADER
        with self._lock:
            if digest in self._failed:
                return None
            seen = self._sightings.get(digest, 0) + 1
            self._sightings[digest] = seen
            key_lock = self._key_locks.setdefault(digest, threading.Lock())
        needed = 1 if headers in EAGER_HEADERS else self.min_uses
        if seen < needed:
            return None
        with key_lock:  # one builder per key; the others wait and then reuse it
            if not (entry / (PCH_HEADER + ".gch")).exists() and not self._build(key, entry):
                with self._lock:
                    self._failed.add(digest)
                return None
        self.hits += 1
        return entry / PCH_HEADER

    def prebuild(self, std: str, flags: Sequence[str], headers: Sequence[str]) -> bool:
        key = PchKey(std, tuple(flags), tuple(headers))
        entry = self.root / key.digest()
        with self._lock:
            key_lock = self._key_locks.setdefault(key.digest(), threading.Lock())
        with key_lock:
            return (entry / (PCH_HEADER + ".gch")).exists() or self._build(key, entry)

    def ready(self, std: str = "c++17", flags: Sequence[str] = (), headers: Sequence[str] = ("bits/stdc++.h",)) -> bool:
        key = PchKey(std, tuple(flags), tuple(headers))
        return (self.root / key.digest() / (PCH_HEADER + ".gch")).exists()

    def _build(self, key: PchKey, entry: Path) -> bool:
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o755)
        text = "".join(f"#include <{h}>\n" for h in key.headers)
        # ignore_cleanup_errors: on success the directory is renamed into place, nothing to clean.
        with tempfile.TemporaryDirectory(
            prefix="cppforge_verify_pch_", dir=self.root, ignore_cleanup_errors=True
        ) as tmp:
            work = Path(tmp)
            if os.geteuid() == 0:
                os.chown(work, NOBODY_UID, NOBODY_UID)
            (work / PCH_HEADER).write_text(text)
            cmd = [*compile_base_command(key.std, key.flags, self.limits.max_errors), "-x", "c++-header"]
            cmd += [PCH_HEADER, "-o", PCH_HEADER + ".gch"]
            out = run_sandboxed(
                SandboxSpec(
                    argv=cmd, workdir=work, limits=compile_limits(self.limits), minimal_dev=True, mount_proc=False
                ),
                sandboxed=self.sandboxed,
            )
            if out.returncode != 0 or not (work / (PCH_HEADER + ".gch")).exists():
                detail = out.sandbox_error or out.stderr.decode(errors="replace").strip()[-300:]
                log.warning("PCH build for %s failed (compiling without it): %s", ",".join(key.headers), detail)
                return False
            os.chmod(work, 0o755)
            for name in (PCH_HEADER, PCH_HEADER + ".gch"):
                os.chmod(work / name, 0o644)
            with contextlib.suppress(OSError):
                os.rename(work, entry)  # atomic publish; a concurrent publisher may win, fine
            if not entry.exists():
                return False
        self.builds += 1
        self._evict()
        return True

    def _touch(self, entry: Path) -> None:
        with contextlib.suppress(OSError):
            os.utime(entry)

    def _evict(self) -> None:
        entries = [p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("cppforge_verify_")]
        if len(entries) <= self.max_entries:
            return
        entries.sort(key=lambda p: p.stat().st_mtime)
        # Only entries idle for a minute: one handed out a moment ago may be about to be read.
        idle_before = time.time() - 60
        for old in entries[: len(entries) - self.max_entries]:
            if old.stat().st_mtime < idle_before:
                shutil.rmtree(old, ignore_errors=True)

    def stats(self) -> dict[str, int]:
        return {"pch_builds": self.builds, "pch_hits": self.hits}
