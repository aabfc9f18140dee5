"""PCH builds off the critical path: a due build goes to one background builder thread and the request
compiles without the PCH at once; the requests after its publication use it. Held builds (an event the
test controls) make every "while the build is still queued/running" deterministic, not timed."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.common.settings import VerifierServiceSettings
from services.verifier.core.pch import EAGER_HEADERS, PchCache, PchKey, leading_block
from services.verifier.core.pch_builder import BackgroundBuilder
from services.verifier.core.reward import compute_reward
from services.verifier.core.verify import VerifierConfig, pch_cache, verify_cpp
from services.verifier.service import VerifierService, shipped_header_sets

HEADERS = "#include <stdio.h>\n#include <vector>\n#include <string>\nusing namespace std;\n"
TEST = "#undef NDEBUG\n#include <assert.h>\nint main(){ assert(f({3,1,2}) == 3); }\n"
PROGRAMS = {
    "passes": HEADERS + "int f(vector<int> v){ return v.size(); }\n",
    "fails_test": HEADERS + "int f(vector<int> v){ return v[0]; }\n",
    "warns": HEADERS + "int f(vector<int> v){ int unused; return v.size(); }\n",
    "type_error": HEADERS + "int f(vector<int> v){ string s = v; return 1; }\n",
}
WAIT_S = 120.0  # generous bound of a wait that ends when a build does (seconds on a loaded machine)


def fresh_root() -> Path:
    root = Path(tempfile.mkdtemp(prefix="pch-"))
    root.chmod(0o755)  # the sandbox runs as nobody when root
    return root


def comparable(result: object) -> dict[str, object]:
    d = dataclasses.asdict(result)  # type: ignore[call-overload]
    for volatile in ("compile_s", "run_s", "cached"):
        d.pop(volatile)
    return d


class Held:
    """Wraps a cache's `_build`: each build waits for `release` (then really builds) and is recorded."""

    def __init__(self, cache: PchCache) -> None:
        self.gate = threading.Event()
        self.started = threading.Event()
        self.keys: list[PchKey] = []
        real = cache._build

        def build(key: PchKey, entry: Path) -> object:
            self.keys.append(key)
            self.started.set()
            assert self.gate.wait(WAIT_S), "the test never released the build"
            return real(key, entry)

        cache._build = build  # type: ignore[method-assign]

    def release(self) -> None:
        self.gate.set()


@pytest.fixture
def config() -> Iterator[VerifierConfig]:
    root = fresh_root()
    cfg = dataclasses.replace(
        VerifierConfig.from_settings(),
        pch_root=root,
        use_pch=True,
        pch_min_uses=2,
        pch_background=True,
        pch_eager_when_idle=True,
    )
    yield cfg
    cache = pch_cache(cfg, sandboxed=True)
    assert cache is not None
    cache.close(WAIT_S)
    shutil.rmtree(root, ignore_errors=True)


def test_request_does_not_wait_for_the_build_and_the_next_uses_it(config: VerifierConfig) -> None:
    cache = pch_cache(config, sandboxed=True)
    assert cache is not None
    held = Held(cache)
    code = PROGRAMS["passes"]
    digest = PchKey("c++17", (), leading_block(code).items).digest()
    first = verify_cpp(code, TEST, return_structured=True, config=config)
    # The verdict came back while its header set's build is held: the request did not wait for it.
    assert held.started.wait(WAIT_S) and not held.gate.is_set() and cache.builder.busy_with(digest)
    assert first.compile_ok and first.tests_passed == first.tests_total == 1
    assert cache.hits == 0 and cache.builds == 0 and cache.stats()["pch_bg_queued"] == 1
    held.release()
    assert cache.builder.wait_idle(WAIT_S)
    assert cache.builds == 1 and cache.stats()["pch_bg_done"] == 1
    assert cache.ready("c++17", (), ("stdio.h", "vector", "string"))
    second = verify_cpp(code, TEST, return_structured=True, config=config)
    assert cache.hits == 1, "the request after the build did not use the PCH"
    assert comparable(first) == comparable(second)


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_verdicts_identical_with_and_without(name: str, config: VerifierConfig) -> None:
    cache = pch_cache(config, sandboxed=True)
    assert cache is not None
    assert cache.prebuild("c++17", (), leading_block(HEADERS).headers)
    hits = cache.hits
    a = verify_cpp(PROGRAMS[name], TEST, return_structured=True, config=config)
    assert cache.hits == hits + 1
    b = verify_cpp(PROGRAMS[name], TEST, return_structured=True, config=dataclasses.replace(config, use_pch=False))
    assert comparable(a) == comparable(b)
    assert compute_reward(a) == compute_reward(b)


def test_first_sighting_queues_only_when_the_builder_is_idle(config: VerifierConfig) -> None:
    limits = config.build_limits
    cache = PchCache(fresh_root(), limits, min_uses=2, background=True, eager_when_idle=True)
    held = Held(cache)
    assert cache.header_for("#include <vector>\nint x;\n", "c++17", ()) is None  # idle: queued at once
    assert held.started.wait(WAIT_S)
    assert cache.header_for("#include <map>\nint x;\n", "c++17", ()) is None  # busy: not on a first sighting
    assert cache.builder.queued == 1
    assert cache.header_for("#include <map>\nint y;\n", "c++17", ()) is None  # its min_uses-th: queued
    assert cache.builder.queued == 2
    held.release()
    assert cache.builder.wait_idle(WAIT_S) and cache.builds == 2
    assert [k.headers for k in held.keys] == [("#include <vector>",), ("#include <map>",)]
    lazy = PchCache(fresh_root(), limits, min_uses=2, background=True, eager_when_idle=False)
    assert lazy.header_for("#include <vector>\nint x;\n", "c++17", ()) is None
    assert lazy.builder.queued == 0  # idle, but eagerness is off: the min_uses-th sighting decides
    assert lazy.stats()["pch_bg_queued"] == 0
    for c in (cache, lazy):
        assert c.close(WAIT_S)
        shutil.rmtree(c.root, ignore_errors=True)


def test_a_header_set_is_queued_once(config: VerifierConfig) -> None:
    cache = PchCache(fresh_root(), config.build_limits, min_uses=1, background=True)
    held = Held(cache)
    code = "#include <vector>\n#include <map>\nint x;\n"
    for _ in range(5):  # one running...
        assert cache.header_for(code, "c++17", ()) is None
    assert held.started.wait(WAIT_S)
    other = "#include <set>\nint x;\n"
    for _ in range(5):  # ...and one queued behind it
        assert cache.header_for(other, "c++17", ()) is None
    assert cache.builder.queued == 2 and cache.builder.dropped == 0
    held.release()
    assert cache.builder.wait_idle(WAIT_S)
    assert cache.builds == 2 and len(held.keys) == 2
    assert cache.header_for(code, "c++17", ()) is not None and cache.builder.queued == 2  # published: a hit
    assert cache.close(WAIT_S)
    shutil.rmtree(cache.root, ignore_errors=True)


def test_the_queue_is_bounded_and_deduplicated() -> None:
    gate, ran = threading.Event(), []

    def work(key: str, job: int) -> None:
        assert gate.wait(WAIT_S)
        ran.append((key, job))

    builder: BackgroundBuilder[int] = BackgroundBuilder(work, max_queued=3, name="test-builder")
    assert builder.submit("a", 0)
    deadline = time.monotonic() + WAIT_S
    while builder.stats()["pending"] and time.monotonic() < deadline:  # "a" leaves the queue: running
        time.sleep(0.01)
    assert builder.busy_with("a") and builder.submit("a", 1)  # running: deduplicated
    assert all(builder.submit(k, 0) for k in "bcd") and builder.submit("c", 1)  # queued: deduplicated
    assert not builder.submit("e", 0)  # full
    assert builder.stats() == {"queued": 4, "done": 0, "dropped": 1, "pending": 3}
    gate.set()
    assert builder.wait_idle(WAIT_S)
    assert ran == [("a", 0), ("b", 0), ("c", 0), ("d", 0)]
    assert builder.submit("e", 0) and builder.wait_idle(WAIT_S)  # room again
    assert builder.close(WAIT_S)


def test_a_failed_build_is_remembered(config: VerifierConfig) -> None:
    cache = PchCache(fresh_root(), config.build_limits, min_uses=1, background=True)
    code = "#include <no_such_header_cppforge>\nint x;\n"
    assert cache.header_for(code, "c++17", ()) is None
    assert cache.builder.wait_idle(WAIT_S) and cache.builder.done == 1 and cache.builds == 0
    for _ in range(3):
        assert cache.header_for(code, "c++17", ()) is None
    assert cache.builder.queued == 1  # never queued again
    assert not cache.queue_build("c++17", (), leading_block(code).items)
    assert cache.close(WAIT_S)
    shutil.rmtree(cache.root, ignore_errors=True)


def test_close_drops_the_queue_and_waits_for_the_running_build(config: VerifierConfig) -> None:
    root = fresh_root()
    cache = PchCache(root, config.build_limits, min_uses=1, background=True)
    held = Held(cache)
    for h in ("vector", "map", "set"):
        assert cache.queue_build("c++17", (), (f"#include <{h}>",))
    assert held.started.wait(WAIT_S)
    closed: list[bool] = []
    closer = threading.Thread(target=lambda: closed.append(cache.close(WAIT_S)))
    closer.start()
    time.sleep(0.05)
    assert closer.is_alive()  # waits for the running build
    held.release()
    closer.join(WAIT_S)
    assert closed == [True] and len(held.keys) == 1  # the queued two were dropped
    assert not any(t.name == cache.builder.name for t in threading.enumerate())
    shutil.rmtree(root)
    time.sleep(0.2)
    assert not root.exists()  # nothing builds into the removed store
    # A later job starts the builder again (a new service in the same process).
    root.mkdir()
    root.chmod(0o755)
    assert cache.queue_build("c++17", (), ("#include <map>",)) and cache.builder.wait_idle(WAIT_S)
    assert cache.ready("c++17", (), ("map",))
    assert cache.close(WAIT_S)
    shutil.rmtree(root, ignore_errors=True)


def test_shipped_header_sets_most_frequent_first(tmp_path: Path) -> None:
    rows = [{"prompt": "#include <map>\nint f();\n"}] * 1 + [{"prompt": "#include <set>\nint f();\n"}] * 3
    rows += [{"prompt": "int f();\n"}, {"other": 1}]
    (tmp_path / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "b.jsonl").write_text(json.dumps({"prompt": "#include <map>\nint g();\n"}) + "\n")
    assert shipped_header_sets(tmp_path) == [*EAGER_HEADERS, ("#include <set>",), ("#include <map>",)]
    real = shipped_header_sets()
    assert len(real) >= 16 and len(set(real)) == len(real)


def test_start_queues_the_shipped_sets_without_waiting(config: VerifierConfig) -> None:
    settings = VerifierServiceSettings(redis_url="", prebuild_pch=True, self_test=False)
    service = VerifierService(settings, config)
    cache = pch_cache(config, sandboxed=True)
    assert cache is not None
    held = Held(cache)
    expected = shipped_header_sets()

    async def start() -> None:
        await service.start()  # returns at once: nothing is built on the way
        assert not held.gate.is_set() and cache.builds == 0

    asyncio.run(start())
    deadline = time.monotonic() + WAIT_S
    while cache.builder.queued < len(expected) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert cache.builder.queued == len(expected)
    assert service.readiness()["status"] in ("ready", "degraded")  # no Redis here: degraded
    assert held.started.wait(WAIT_S) and held.keys[0].headers == next(iter(EAGER_HEADERS))
    # Stop the prebuild: close drops the rest of the queue and waits for the running build.
    held.release()
    service.close()
    assert cache.builder.wait_idle(0.0) and cache.builder.done <= len(expected)


def test_a_forked_child_gets_a_builder_of_its_own() -> None:
    gate, ran = threading.Event(), []

    def work(key: str, job: int) -> None:
        if key == "held":
            assert gate.wait(WAIT_S)
        ran.append(key)

    builder: BackgroundBuilder[int] = BackgroundBuilder(work, max_queued=4, name="test-fork-builder")
    assert builder.submit("held", 0)
    pid = os.fork()
    if pid == 0:  # the child: its copy of the parent's builder thread does not exist
        ok = builder.submit("child", 0) and builder.wait_idle(30.0) and ran == ["child"]
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    gate.set()
    assert builder.wait_idle(WAIT_S) and ran == ["held"]
    assert os.waitstatus_to_exitcode(status) == 0
    assert builder.close(WAIT_S)
