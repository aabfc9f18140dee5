"""Precompiled headers: used only for an exact leading-include match, and results are identical."""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import itertools
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.common.settings import get_verifier_settings
from services.verifier.core import pch as pch_module
from services.verifier.core.pch import BUILD_PREFIX, PchCache, PchKey, entry_bytes, leading_includes
from services.verifier.core.reward import compute_reward
from services.verifier.core.verify import VerifierConfig, pch_cache, verify_cpp

HEADERS = "#include<stdio.h>\n#include<vector>\n#include<string>\n#include<algorithm>\nusing namespace std;\n"
TEST = "#undef NDEBUG\n#include<assert.h>\nint main(){ assert(f({3,1,2}) == 1); }\n"

PROGRAMS = {
    "passes": HEADERS + "int f(vector<int> v){ sort(v.begin(), v.end()); return v[0]; }\n",
    "fails_test": HEADERS + "int f(vector<int> v){ return v[0]; }\n",
    "warns": HEADERS + "int f(vector<int> v){ int unused; sort(v.begin(), v.end()); return v[0]; }\n",
    "type_error": HEADERS + "int f(vector<int> v){ string s = v; return 1; }\n",
    "undeclared": HEADERS + "int f(vector<int> v){ return missing(v); }\n",
    # Needs <numeric>, which the header block lacks: must fail with and without the PCH alike.
    "missing_include": HEADERS + "int f(vector<int> v){ return accumulate(v.begin(), v.end(), 0) - 5; }\n",
    # A global named like a std algorithm next to `using namespace std;`.
    "name_clash": HEADERS + "int count = 0;\nint f(vector<int> v){ return count + v.size() - 2; }\n",
}


@pytest.fixture(scope="module")
def configs() -> tuple[VerifierConfig, VerifierConfig]:
    # Under the session temp root (0755): the sandbox runs as nobody and must reach it.
    root = Path(tempfile.mkdtemp(prefix="pch-"))
    root.chmod(0o755)
    # The request builds what it needs and waits (the exactness checked here holds in both modes;
    # test_pch_background.py covers the background builder's).
    base = dataclasses.replace(
        VerifierConfig.from_settings(), pch_root=root, pch_min_uses=1, use_pch=True, pch_background=False
    )
    return base, dataclasses.replace(base, use_pch=False)


def _comparable(result: object) -> dict[str, object]:
    d = dataclasses.asdict(result)  # type: ignore[call-overload]
    for volatile in ("compile_s", "run_s", "cached"):
        d.pop(volatile)
    return d


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_results_identical_with_and_without_pch(name: str, configs: tuple[VerifierConfig, VerifierConfig]) -> None:
    with_pch, without = configs
    cache = pch_cache(with_pch, sandboxed=True)
    assert cache is not None
    hits = cache.hits
    a = verify_cpp(PROGRAMS[name], TEST, return_structured=True, config=with_pch)
    assert cache.hits == hits + 1, "the PCH was not used"
    b = verify_cpp(PROGRAMS[name], TEST, return_structured=True, config=without)
    assert _comparable(a) == _comparable(b)
    assert compute_reward(a) == compute_reward(b)


def test_pch_is_built_and_hit(configs: tuple[VerifierConfig, VerifierConfig]) -> None:
    with_pch, _ = configs
    cache = pch_cache(with_pch, sandboxed=True)
    assert cache is not None
    verify_cpp(PROGRAMS["passes"], TEST, config=with_pch)
    hits = cache.hits
    verify_cpp(PROGRAMS["fails_test"], TEST, config=with_pch)
    assert cache.hits == hits + 1
    assert cache.ready("c++17", (), ("stdio.h", "vector", "string", "algorithm"))


def test_leading_includes() -> None:
    assert leading_includes("// hi\n#include <vector>\n\n#include<map>\nint x;\n#include <set>\n") == ("vector", "map")
    assert leading_includes("#define int long long\n#include <vector>\n") == ()
    assert leading_includes('#include "local.h"\n#include <vector>\n') == ()
    assert leading_includes("#include <../../etc/passwd>\n") == ()
    assert leading_includes("#include <bits/stdc++.h>\nusing namespace std;\n") == ("bits/stdc++.h",)


def test_key_depends_on_flags_std_and_order() -> None:
    k = PchKey("c++17", (), ("vector", "map")).digest()
    assert k != PchKey("c++20", (), ("vector", "map")).digest()
    assert k != PchKey("c++17", ("-O2",), ("vector", "map")).digest()
    assert k != PchKey("c++17", (), ("map", "vector")).digest()


def test_min_uses_policy(configs: tuple[VerifierConfig, VerifierConfig]) -> None:
    root = Path(tempfile.mkdtemp(prefix="pch-"))
    root.chmod(0o755)
    cache = PchCache(root, configs[0].build_limits, min_uses=2)
    code = "#include <map>\nint x;\n"
    assert cache.header_for(code, "c++17", ()) is None  # first sighting: no build
    header = cache.header_for(code, "c++17", ())
    assert header is not None and header.with_suffix(".h.gch").exists()
    assert cache.builds == 1


# -- the byte cap -----------------------------------------------------------------------------
SMALL_HEADERS = ("cstddef", "climits", "cstdint", "cfloat")  # ~2.3 MB of PCH each, ~0.05 s to build
CAP_MB = 8


def disk_bytes(root: Path, published_only: bool = False) -> int:
    """Bytes on disk under root (what `du` counts), optionally only the published entries."""
    total = 0
    for entry in root.iterdir():
        if published_only and entry.name.startswith(BUILD_PREFIX):
            continue
        with contextlib.suppress(OSError):
            total += entry_bytes(entry) if entry.is_dir() else entry.lstat().st_blocks * 512
    return total


def fresh_root() -> Path:
    root = Path(tempfile.mkdtemp(prefix="pch-"))
    root.chmod(0o755)
    return root


def ordering_program(order: tuple[str, ...], right: bool) -> str:
    includes = "".join(f"#include <{h}>\n" for h in order)
    body = "return INT32_MAX == INT_MAX ? 7 : 0;" if right else "return 0;"
    return includes + f"int f() {{ {body} }}\n"


@pytest.fixture
def capped_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """CPPFORGE_PCH_MAX_MB for the caches built in this test (the setting reaches PchCache)."""
    monkeypatch.setenv("CPPFORGE_PCH_MAX_MB", str(CAP_MB))
    get_verifier_settings.cache_clear()
    yield
    monkeypatch.delenv("CPPFORGE_PCH_MAX_MB")
    get_verifier_settings.cache_clear()


def test_flood_of_header_orderings_stays_under_the_byte_cap(capped_settings: None) -> None:
    """Distinct orderings, each built on first sight, from 3 threads at once: the published
    entries never pass the cap, the directory is under it after every call, verdicts are right."""
    root = fresh_root()
    config = dataclasses.replace(
        VerifierConfig.from_settings(), pch_root=root, pch_min_uses=1, use_pch=True, pch_background=False
    )
    cache = pch_cache(config, sandboxed=True)
    assert cache is not None and cache.max_bytes == CAP_MB << 20
    orders = list(itertools.permutations(SMALL_HEADERS))[:12]
    test = "#undef NDEBUG\n#include <assert.h>\nint main() { assert(f() == 7); }\n"
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, disk_bytes(root, published_only=True))
            time.sleep(0.005)

    def judge(i: int) -> tuple[int, float, int]:
        result = verify_cpp(ordering_program(orders[i], right=i % 2 == 0), test, config=config)
        return i, compute_reward(result), disk_bytes(root, published_only=True)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            outcomes = list(pool.map(judge, range(len(orders))))
    finally:
        done.set()
        sampler.join()
    cap = CAP_MB << 20
    assert [reward for _, reward, _ in outcomes] == [1.0 if i % 2 == 0 else pytest.approx(0.3) for i in range(12)]
    assert max(size for _, _, size in outcomes) <= cap and peak <= cap, (peak, cap)
    assert disk_bytes(root) <= cap  # nothing left over from builds either
    assert cache.builds >= 1 and cache.skipped >= 1  # it filled up, then refused to grow
    assert cache.hits >= cache.builds


def test_lru_eviction_spares_entries_in_use(
    configs: tuple[VerifierConfig, VerifierConfig], monkeypatch: pytest.MonkeyPatch
) -> None:
    builds: list[object] = []
    real_run = pch_module.run_sandboxed
    monkeypatch.setattr(pch_module, "run_sandboxed", lambda *a, **k: builds.append(a) or real_run(*a, **k))
    root = fresh_root()
    cache = PchCache(root, configs[0].build_limits, min_uses=1, max_bytes=1, idle_s=0.0)
    with cache.use(ordering_program(SMALL_HEADERS, True), "c++17", ()) as probe:
        assert probe is None and cache.skipped == 1  # a 1-byte store keeps nothing
    other = ordering_program(SMALL_HEADERS[::-1], True)
    assert cache.header_for(other, "c++17", ()) is None and cache.skipped == 2
    assert len(builds) == 1 and not list(root.iterdir())  # nor builds again, now it knows a PCH's size
    probe_cache = PchCache(fresh_root(), configs[0].build_limits, min_uses=1, max_bytes=1 << 30)
    header = probe_cache.header_for(ordering_program(SMALL_HEADERS, True), "c++17", ())
    assert header is not None
    entry_size = entry_bytes(header.parent)
    # Room for two entries (small headers' PCHs differ by a few percent).
    cache = PchCache(root, configs[0].build_limits, min_uses=1, max_bytes=int(entry_size * 2.5), idle_s=0.0)
    a, b, c, d, e = (ordering_program(o, True) for o in itertools.islice(itertools.permutations(SMALL_HEADERS), 5))
    with cache.use(a, "c++17", ()) as held_a:
        assert held_a is not None
        header_b = cache.header_for(b, "c++17", ())
        header_c = cache.header_for(c, "c++17", ())  # B is evicted (least recently used), A is held
        assert header_b is not None and header_c is not None
        assert held_a.exists() and header_c.exists() and not header_b.exists()
    header_d = cache.header_for(d, "c++17", ())  # now A, released and least recently used, goes
    assert header_d is not None and header_d.exists() and header_c.exists() and not held_a.exists()
    with cache.use(c, "c++17", ()) as held_c, cache.use(d, "c++17", ()) as held_d:
        assert held_c is not None and held_d is not None
        assert cache.header_for(e, "c++17", ()) is None  # both held: no room, the new one is not kept
        assert held_c.exists() and held_d.exists()
    assert len([p for p in root.iterdir() if not p.name.startswith(BUILD_PREFIX)]) == 2
    assert disk_bytes(root) <= cache.max_bytes
    assert cache.evictions == 2 and cache.skipped >= 1


def test_sighting_counters_are_bounded(
    configs: tuple[VerifierConfig, VerifierConfig], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pch_module, "MAX_TRACKED", 50)
    cache = PchCache(fresh_root(), configs[0].build_limits, min_uses=3)
    for i in range(500):
        assert cache.header_for(f"#include <h{i}>\nint x;\n", "c++17", ()) is None
    assert len(cache._sightings) == 50
