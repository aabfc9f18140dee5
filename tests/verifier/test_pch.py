"""Precompiled headers: used only for an exact leading-include match, and results are identical."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

import pytest

from services.verifier.pch import PchCache, PchKey, leading_includes
from services.verifier.reward import compute_reward
from services.verifier.verify import VerifierConfig, pch_cache, verify_cpp

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
    base = dataclasses.replace(VerifierConfig.from_settings(), pch_root=root, pch_min_uses=1, use_pch=True)
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
