"""Precompiled headers for the candidate's leading standard includes, built once and reused.

Exactness first: a PCH is used only when the candidate's code *starts* with exactly the
includes the PCH was built from (same headers, same order, nothing else before them), and it
is built with exactly the compile's own flags. The compiler then sees the same declarations in
the same order as without it, so results (compile_ok, diagnostics, reward) are identical; a
PCH of a larger union would make code that forgot an #include compile, and make names such as
`count` ambiguous where they were not. RL groups share a prompt, hence its includes: the hit
rate is high where the time goes. A header set is due for a build on its `min_uses`-th sighting
(1 for `bits/stdc++.h`, the costliest and most common), so one-off sets cost nothing extra; with
`eager_when_idle`, already on its first one when the builder has nothing else to do.

Off the critical path (`background`, the service's default): a due build goes to one background
builder thread (pch_builder: one build at a time, a bounded queue, one entry per key, at a lower
priority) and the request compiles without a PCH at once; the requests after it is published use
it. Otherwise the request that makes it due builds it and waits (as `prebuild` always does).

Layout on disk: `<root>/<key>/pch.h` and `pch.h.gch`, key = sha256(compiler version, std, flags,
headers); a new g++ gives new keys. The store is bounded in bytes on disk (CPPFORGE_PCH_MAX_MB)
and in entries: least recently used entries that no compile holds are evicted to make room, and
when nothing can be, a new PCH is simply not kept (see PchCache). Sightings are counted for a
bounded number of header sets, so a flood of distinct orderings costs bounded memory too.
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
import logging
import os
import re
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...common.settings import get_verifier_settings
from . import instances
from .compile import BuildLimits, compile_base_command, compile_limits, compiler_version
from .debug_check import DEBUG_FLAGS
from .pch_builder import BackgroundBuilder
from .sandbox import NOBODY_UID, SandboxSpec, run_sandboxed
from .source_shape import leading_block

log = logging.getLogger(__name__)
PCH_HEADER = "pch.h"
EAGER_HEADERS = frozenset({("#include <bits/stdc++.h>",)})
INSTANCES_MIN_HITS = 4  # hand-outs of a PCH before its prebuilt instantiations are queued (see instances.py)
INSTANCES_JOB = "/instances"  # the builder's job id suffix for them
BUILD_PREFIX = "cppforge_verify_pch_"
STALE_BUILD_S = 3600.0  # a build dir this old belongs to a process that died mid-build
MAX_TRACKED = 4096  # header sets whose sightings (and failures) are remembered: bounded under a flood
BUILD_LOCK_STRIPES = 64  # one builder per key, without a lock object per key ever seen
BUILD_QUEUE = 64  # background builds waiting at most: the shipped problem sets' header sets fit


def leading_includes(code: str) -> tuple[str, ...]:
    """The standard headers `code` includes before anything else, read byte-exactly (see
    source_shape.leading_block); empty when the code does not start that way."""
    return leading_block(code).headers


def as_items(headers: Sequence[str]) -> tuple[str, ...]:
    """Header names as the leading block's items (`#include <name>` lines)."""
    return tuple(f"#include <{h}>" for h in headers)


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
    headers: tuple[str, ...]  # the leading block's items: `#include <h>` and safe `#pragma GCC` lines

    def digest(self) -> str:
        # The compile's own debug flags are part of what a PCH must match.
        text = "\0".join([compiler_version(), self.std, *self.flags, *DEBUG_FLAGS, "|", *self.headers])
        return hashlib.sha256(text.encode()).hexdigest()[:24]


class _Outcome(enum.Enum):
    PUBLISHED = "published"
    FAILED = "failed"  # g++ could not build it: remembered, never retried in this process
    NO_ROOM = "no_room"  # the store is full of entries in use: compile without, retry later


@dataclass(frozen=True)
class _Entry:
    path: Path
    bytes: int
    mtime: float


def _disk_bytes(path: Path) -> int:
    """Bytes a file or directory occupies on disk (allocated blocks, not apparent size)."""
    st = path.lstat()
    return st.st_blocks * 512


def entry_bytes(entry: Path) -> int:
    """An entry's footprint: the directory itself and every file in it."""
    total = _disk_bytes(entry)
    with os.scandir(entry) as it:
        for child in it:
            if child.is_dir(follow_symlinks=False):
                total += entry_bytes(Path(child.path))  # inst/: the prebuilt instantiations (instances.py)
            else:
                total += child.stat(follow_symlinks=False).st_blocks * 512
    return total


class PchCache:
    """Thread-safe PCH store; see the module docstring for the policy.

    `max_bytes` (default: the CPPFORGE_PCH_MAX_MB setting) caps the published entries' bytes on
    disk, `max_entries` their number. An entry is evictable when no compile of this process holds
    it (`use`) and nobody has handed it out for `idle_s` seconds (default: the compile deadline +
    a minute; handing out touches the entry's mtime, which also covers other processes sharing the
    root). To publish a new PCH, evictable entries go least recently used first; when that cannot
    make room, the new PCH is not published (the build is skipped up front when the store cannot
    fit even the smallest PCH built so far): the compile proceeds without one. A PCH is only a cache;
    no verdict depends on it. Builds in progress are not counted (at most one per concurrent
    compile, each bounded by g++'s file-size limit), nor is what another process publishes
    between our checks.
    """

    def __init__(
        self,
        root: Path,
        limits: BuildLimits,
        sandboxed: bool = True,
        min_uses: int = 2,
        max_entries: int = 32,
        max_bytes: int | None = None,
        idle_s: float | None = None,
        instances: bool = False,
        background: bool = False,
        eager_when_idle: bool = False,
    ) -> None:
        self.root = root
        self.instances = instances  # also build the entry's prebuilt instantiations (instances.py)
        self.limits = limits
        self.sandboxed = sandboxed
        self.min_uses = min_uses
        self.max_entries = max_entries
        self.max_bytes = max_bytes if max_bytes is not None else get_verifier_settings().pch_max_mb << 20
        self.idle_s = idle_s if idle_s is not None else limits.timeout_s + 60.0
        self.background = background
        self.eager_when_idle = eager_when_idle
        # Always there (its thread starts on the first job): `queue_build` uses it in either mode.
        self.builder: BackgroundBuilder[PchKey] = BackgroundBuilder(
            self._build_queued, max_queued=BUILD_QUEUE, name=f"pch-builder:{root.name}"
        )
        self._lock = threading.Lock()  # guards the dicts below and every check-then-act on disk
        self._build_locks = [threading.Lock() for _ in range(BUILD_LOCK_STRIPES)]
        self._sightings: OrderedDict[str, int] = OrderedDict()
        self._failed: OrderedDict[str, None] = OrderedDict()
        self._pins: dict[str, int] = {}
        self._hits: OrderedDict[str, int] = OrderedDict()  # hand-outs per entry, for the instances' policy
        self._instances_tried: OrderedDict[str, None] = OrderedDict()
        self._smallest_built = 0  # bytes of the smallest PCH built so far: a store that cannot fit it is full
        self.builds = 0
        self.hits = 0
        self.evictions = 0
        self.skipped = 0  # builds not kept for lack of room

    # -- handing out -------------------------------------------------------------------------
    def header_for(self, code: str, std: str, flags: Sequence[str]) -> Path | None:
        """The pch.h to `-include` for this code, building it when the policy says so. Protected
        from eviction for `idle_s` only: prefer `use`, which holds it until the compile is done."""
        return self._acquire(code, std, flags, pin=False)

    @contextlib.contextmanager
    def use(self, code: str, std: str, flags: Sequence[str]) -> Iterator[Path | None]:
        """`header_for`, with the entry held (never evicted by this process) inside the block."""
        header = self._acquire(code, std, flags, pin=True)
        try:
            yield header
        finally:
            if header is not None:
                self._unpin(header.parent.name)

    def _acquire(self, code: str, std: str, flags: Sequence[str], *, pin: bool) -> Path | None:
        headers = leading_block(code).items
        if not headers:
            return None
        key = PchKey(std, tuple(flags), headers)
        digest = key.digest()
        entry = self.root / digest
        header = self._take(entry, pin)
        if header is None:
            with self._lock:
                if digest in self._failed:
                    return None
                seen = _bump(self._sightings, digest)
            due = seen >= (1 if headers in EAGER_HEADERS else self.min_uses)
            if self.background:
                if due or (self.eager_when_idle and self.builder.idle()):
                    self.builder.submit(digest, key)
                return None  # compile without it now; the requests after its publication use it
            if not due:
                return None
            with self._build_lock(digest):  # one builder per key; the others wait and then reuse it
                header = self._take(entry, pin)
                if header is None:
                    outcome = self._build_remembered(key, entry)
                    header = self._take(entry, pin) if outcome is _Outcome.PUBLISHED else None
        if header is not None:
            self.hits += 1
            if self.instances:
                self._maybe_queue_instances(digest, key, entry)
        return header

    def _maybe_queue_instances(self, digest: str, key: PchKey, entry: Path) -> None:
        """Queue the entry's prebuilt instantiations (instances.py) in the background once the set has been
        handed out INSTANCES_MIN_HITS times (an RL group of 8 gets there at once; a one-off set never
        pays the build)."""
        if instances.ready(entry) is not None or not instances.worth_building("\n".join(key.headers)):
            return
        with self._lock:
            if digest in self._instances_tried:
                return
            hits = _bump(self._hits, digest)
        if hits >= INSTANCES_MIN_HITS and self.builder.submit(digest + INSTANCES_JOB, key):
            with self._lock:  # (a full queue: asked for again at a later hand-out)
                _remember(self._instances_tried, digest, None)

    def _take(self, entry: Path, pin: bool) -> Path | None:
        """The entry's header if it is published, touched (and pinned) atomically with respect to
        this process's eviction."""
        with self._lock:
            if not (entry / (PCH_HEADER + ".gch")).exists():
                return None
            with contextlib.suppress(OSError):
                os.utime(entry)
            if pin:
                self._pins[entry.name] = self._pins.get(entry.name, 0) + 1
        return entry / PCH_HEADER

    def _unpin(self, digest: str) -> None:
        with self._lock:
            left = self._pins.get(digest, 0) - 1
            if left > 0:
                self._pins[digest] = left
            else:
                self._pins.pop(digest, None)

    def _build_lock(self, digest: str) -> threading.Lock:
        return self._build_locks[int(digest[:8], 16) % BUILD_LOCK_STRIPES]

    def prebuild(self, std: str, flags: Sequence[str], headers: Sequence[str]) -> bool:
        key = PchKey(std, tuple(flags), as_items(headers))
        entry = self.root / key.digest()
        with self._build_lock(key.digest()):
            return self._take(entry, pin=False) is not None or self._build(key, entry) is _Outcome.PUBLISHED

    def queue_build(self, std: str, flags: Sequence[str], items: Sequence[str]) -> bool:
        """Hand the PCH of a leading block's `items` (`#include <h>` lines) to the background builder; False
        when it is published already, failed before, or the queue is full."""
        key = PchKey(std, tuple(flags), tuple(items))
        digest = key.digest()
        with self._lock:
            if digest in self._failed:
                return False
        if (self.root / digest / (PCH_HEADER + ".gch")).exists():
            return False
        return self.builder.submit(digest, key)

    def close(self, timeout: float | None = None) -> bool:
        """Drop the queued builds and wait for the running one: then nothing writes under `root`."""
        return self.builder.close(timeout)

    def ready(self, std: str = "c++17", flags: Sequence[str] = (), headers: Sequence[str] = ("bits/stdc++.h",)) -> bool:
        key = PchKey(std, tuple(flags), as_items(headers))
        return (self.root / key.digest() / (PCH_HEADER + ".gch")).exists()

    # -- building ----------------------------------------------------------------------------
    def _build_queued(self, digest: str, key: PchKey) -> None:
        """The background builder's job: build and publish unless that happened since it was queued."""
        if digest.endswith(INSTANCES_JOB):
            entry = self.root / digest.removesuffix(INSTANCES_JOB)
            with self._build_lock(entry.name):
                if not (entry / (PCH_HEADER + ".gch")).exists():
                    return
                with self._lock:  # the byte cap covers them too: about the size of the entry's own PCH
                    room = self._make_room(entry_bytes(entry))
                if room:
                    instances.build_instances(entry, key.std, key.flags, self.limits, self.sandboxed)
                else:
                    self.skipped += 1
            return
        entry = self.root / digest
        with self._build_lock(digest):
            if not (entry / (PCH_HEADER + ".gch")).exists():
                self._build_remembered(key, entry)

    def _build_remembered(self, key: PchKey, entry: Path) -> _Outcome:
        """`_build`, with a failure remembered: g++ is not asked again in this process."""
        outcome = self._build(key, entry)
        if outcome is _Outcome.FAILED:
            with self._lock:
                _remember(self._failed, entry.name, None)
        return outcome

    def _build(self, key: PchKey, entry: Path) -> _Outcome:
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o755)
        with self._lock:
            if not self._room_for(self._smallest_built):  # hopeless: do not spend the build
                self.skipped += 1
                return _Outcome.NO_ROOM
        text = "".join(f"{item}\n" for item in key.headers)
        # ignore_cleanup_errors: on success the directory is renamed into place, nothing to clean.
        with tempfile.TemporaryDirectory(prefix=BUILD_PREFIX, dir=self.root, ignore_cleanup_errors=True) as tmp:
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
                return _Outcome.FAILED
            instances.publish_as_owner(work)  # nobody (the builder) must not be able to swap the PCH
            size = entry_bytes(work)
            with self._lock:
                self._smallest_built = min(self._smallest_built, size) if self._smallest_built else size
                if not self._make_room(size):
                    self.skipped += 1
                    log.info("PCH store full of entries in use (cap %d bytes): not keeping %s", self.max_bytes, key)
                    return _Outcome.NO_ROOM
                with contextlib.suppress(OSError):
                    os.rename(work, entry)  # atomic publish; a concurrent publisher may win, fine
            if not entry.exists():
                return _Outcome.FAILED
        self.builds += 1
        return _Outcome.PUBLISHED

    # -- the byte cap (callers hold self._lock) ------------------------------------------------
    def _entries(self) -> list[_Entry]:
        """Published entries; leftovers of builds that died long ago are removed on the way."""
        found: list[_Entry] = []
        if not self.root.is_dir():
            return found
        now = time.time()
        for path in self.root.iterdir():
            try:
                if not path.is_dir() or path.is_symlink():
                    continue
                mtime = path.stat().st_mtime
                if path.name.startswith(BUILD_PREFIX):
                    if now - mtime > STALE_BUILD_S:
                        shutil.rmtree(path, ignore_errors=True)
                    continue
                found.append(_Entry(path, entry_bytes(path), mtime))
            except OSError:
                continue  # removed under us (another process): not ours to count
        return found

    def _evictable(self, entries: list[_Entry]) -> list[_Entry]:
        idle_before = time.time() - self.idle_s
        free = [e for e in entries if e.path.name not in self._pins and e.mtime <= idle_before]
        return sorted(free, key=lambda e: e.mtime)  # least recently used first

    def _room_for(self, new_bytes: int) -> bool:
        """Could `new_bytes` more be published, evicting what may be evicted? (Evicts nothing.)"""
        entries = self._entries()
        evictable = set(self._evictable(entries))
        keep = [e for e in entries if e not in evictable]
        return sum(e.bytes for e in keep) + new_bytes <= self.max_bytes and len(keep) < self.max_entries

    def _make_room(self, new_bytes: int) -> bool:
        """Evict least recently used idle entries until `new_bytes` more fit; False if they can't."""
        entries = self._entries()
        total, count = sum(e.bytes for e in entries), len(entries)
        for victim in self._evictable(entries):
            if total + new_bytes <= self.max_bytes and count < self.max_entries:
                break
            shutil.rmtree(victim.path, ignore_errors=True)
            total, count = total - victim.bytes, count - 1
            self.evictions += 1
        return total + new_bytes <= self.max_bytes and count < self.max_entries

    def stats(self) -> dict[str, int]:
        return {
            "pch_builds": self.builds,
            "pch_hits": self.hits,
            "pch_evictions": self.evictions,
            "pch_skipped": self.skipped,
            "pch_bg_queued": self.builder.queued,
            "pch_bg_done": self.builder.done,
            "pch_bg_dropped": self.builder.dropped,
        }


def _bump(counts: OrderedDict[str, int], key: str) -> int:
    """Count one more sighting of `key`, forgetting the least recently seen beyond MAX_TRACKED."""
    seen = counts.pop(key, 0) + 1
    _remember(counts, key, seen)
    return seen


def _remember(table: OrderedDict[str, Any], key: str, value: Any) -> None:
    table[key] = value
    table.move_to_end(key)
    while len(table) > MAX_TRACKED:
        table.popitem(last=False)
