"""Prebuilt instantiations (instances.py): used where eligible, and every result identical without them."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from services.tasks import Task, load_bench_tasks
from services.verifier.core import instances
from services.verifier.core import pch as pch_module
from services.verifier.core.pch import PchKey, leading_includes
from services.verifier.core.source_shape import leading_block
from services.verifier.core.verify import VerifierConfig, pch_cache, verify_cpp
from tests.verifier.corpus import CORPUS
from tests.verifier.test_pch import HEADERS, PROGRAMS, TEST
from tests.verifier.test_pch import _comparable as _fields

SETS = HEADERS.replace("using", "#include<map>\n#include<set>\n#include<unordered_map>\nusing")
CLASSES = SETS + (
    'int f(vector<int> v){ vector<string> s{"a"}; vector<vector<int>> g{v}; vector<bool> b(3);\n'
    "  map<int,int> m; set<int> t(v.begin(), v.end()); unordered_map<int,int> u; vector<long long> w{1};\n"
    "  m[1] = 2; u[3] = 4; b[1] = true; sort(v.begin(), v.end());\n"
    "  return v[0] + (int)s.size() + (int)g.size() + b[1] - 3 + m[1] - 2 + (int)t.size() - 3 + u[3] - 4\n"
    "    + (int)w[0] - 1; }\n"
)
ELIGIBLE = {**PROGRAMS, "classes": CLASSES}
# Built again without the instances (needs_plain_build): refused, unlinkable, or in namespace std.
RETRIED = {
    "refused": HEADERS + "int f(vector<int> v){ return __builtin_frame_address(0) != nullptr ? v[0] : 0; }\n",
    "refused_runtime": HEADERS + 'extern "C" int abs(int x) { return x; }\nint f(vector<int> v){ return abs(v[0]); }\n',
    "unlinkable": HEADERS + "int helper(int);\nint f(vector<int> v){ return helper(v[0]); }\n",
}
# Never given them: the word `template` (even spliced, or in the test), a directive, a sanitizer.
NOT_ELIGIBLE = {
    "template": HEADERS
    + "template class std::vector<int>;\nint f(vector<int> v){ return *min_element(v.begin(), v.end()); }\n",
    "spliced": HEADERS + "int temp\\\nlate_x = 0;\nint f(vector<int> v){ return *min_element(v.begin(), v.end()); }\n",
    "directive": HEADERS + "#define ONE 1\nint f(vector<int> v){ return *min_element(v.begin(), v.end()) * ONE; }\n",
    "opens_std": HEADERS + "namespace std { int extra(int x) { return x; } }\nint f(vector<int> v){ return v[0]; }\n",
    "opens_std_broken": HEADERS
    + "namespace std { int extra(int x) { return y; } }\nint f(vector<int> v){ return 0; }\n",
    "library_macro_namespace": HEADERS
    + "namespace _GLIBCXX_STD_C { struct injected { int x; }; }\n"
    + "int f(vector<int> v){ std::injected i{v[0]}; return 1; }\n",
}


@pytest.fixture(scope="module")
def configs() -> Iterator[tuple[VerifierConfig, VerifierConfig]]:
    root = Path(tempfile.mkdtemp(prefix="inst-"))
    root.chmod(0o755)
    on = dataclasses.replace(VerifierConfig.from_settings(), pch_root=root, pch_min_uses=1, use_instances=True)
    off = dataclasses.replace(on, use_instances=False)
    yield on, off


_WORKDIR = re.compile(r"cppforge_verify_[A-Za-z0-9_]+")


def _comparable(result: object) -> dict[str, object]:
    """Every field, with the per-run work dir's name (linker messages name it) made the same."""
    return json.loads(_WORKDIR.sub("cppforge_verify_X", json.dumps(_fields(result))))


def prepare(config: VerifierConfig, code: str, std: str = "c++17", flags: tuple[str, ...] = ()) -> Path:
    """The code's PCH entry, with its instances built (synchronously, for the test)."""
    cache = pch_cache(config, sandboxed=True)
    assert cache is not None
    assert cache.prebuild(std, flags, leading_includes(code))
    entry = config.pch_root / PchKey(std, flags, leading_block(code).items).digest()  # type: ignore[operator]
    instances.build_instances(entry, std, flags, config.build_limits, sandboxed=True)
    return entry


def test_eligibility_rules() -> None:
    assert instances.eligible("int f();", None, (), False)
    assert not instances.eligible("int f();", None, (), True)  # a directive may follow
    assert not instances.eligible("template <class T> T f();", None, (), False)
    assert not instances.eligible("int temp\\\nlate;", None, (), False)
    assert not instances.eligible("int temp??/\nlate;", None, (), False)
    assert not instances.eligible("int f();", "template <> int g<int>();", (), False)
    assert not instances.eligible("int f();", None, ("-fsanitize=address",), False)
    # Optimised builds inline what is only declared (warnings, UB) and -D reaches every line: never.
    assert not instances.eligible("int f();", None, ("-O2",), False)
    assert instances.eligible("int f();", None, ("-O2", "-O0"), False)
    assert not instances.eligible("int f();", None, ("-DN=3",), False)
    # A namespace opened through a library macro escapes -Wnamespaces: any `namespace` but a using-directive.
    assert instances.eligible("using namespace std;\nint f();", None, (), False)
    assert not instances.eligible("namespace _GLIBCXX_STD_C { struct s {}; }", None, (), False)
    assert not instances.eligible("namespace mine { int f(); }", None, (), False)
    assert not instances.eligible("name\\\nspace x {}", None, (), False)


def test_entry_holds_archive_and_declarations(configs: tuple[VerifierConfig, VerifierConfig]) -> None:
    entry = prepare(configs[0], CLASSES)
    inst = instances.ready(entry)
    assert inst is not None
    text = (inst / "pch.h").read_text()
    assert text.startswith((entry / "pch.h").read_text())  # the entry's own leading block first
    for spelling in ("std::vector<int>", "std::map<int, int>", "std::set<int>", "std::unordered_map<int, int>"):
        assert f"extern template class {spelling};" in text
    symbols = subprocess.run(["nm", "-C", str(inst / "instances.a")], capture_output=True, text=True, check=True)
    assert "std::vector<int, std::allocator<int> >::push_back(int const&)" in symbols.stdout
    # Headers that declare no map leave the map instances out.
    plain = instances.ready(prepare(configs[0], PROGRAMS["passes"]))
    assert plain is not None and "std::map" not in (plain / "pch.h").read_text()


@pytest.mark.parametrize("name", sorted(ELIGIBLE))
def test_eligible_results_identical(name: str, configs: tuple[VerifierConfig, VerifierConfig]) -> None:
    on, off = configs
    code = ELIGIBLE[name]
    prepare(on, code)
    used = instances.STATS["used"]
    with_them = verify_cpp(code, TEST, return_structured=True, config=on)
    assert instances.STATS["used"] == used + 1
    assert _comparable(with_them) == _comparable(verify_cpp(code, TEST, return_structured=True, config=off))
    if name in ("passes", "classes"):
        assert with_them.tests_passed == with_them.tests_total == 1


@pytest.mark.parametrize("name", sorted(RETRIED))
def test_refused_or_unlinkable_builds_are_redone_without(
    name: str, configs: tuple[VerifierConfig, VerifierConfig]
) -> None:
    on, off = configs
    code = RETRIED[name]
    prepare(on, code)
    retried = instances.STATS["retried"]
    with_them = verify_cpp(code, TEST, return_structured=True, config=on)
    assert instances.STATS["retried"] == retried + 1
    assert _comparable(with_them) == _comparable(verify_cpp(code, TEST, return_structured=True, config=off))
    assert not with_them.run_ok


@pytest.mark.parametrize("name", sorted(NOT_ELIGIBLE))
def test_ineligible_code_is_built_without(name: str, configs: tuple[VerifierConfig, VerifierConfig]) -> None:
    on, off = configs
    code = NOT_ELIGIBLE[name]
    prepare(on, code)
    used = instances.STATS["used"]
    with_them = verify_cpp(code, TEST, return_structured=True, config=on)
    assert instances.STATS["used"] == used
    assert _comparable(with_them) == _comparable(verify_cpp(code, TEST, return_structured=True, config=off))


def broken(body: str) -> str:
    """A body that surely fails to compile: a call of an undeclared function before its last brace."""
    cut = body.rstrip().rfind("}")
    return body[:cut] + "cppforge_undeclared_call();\n" + body[cut:]


def _verdicts(problems: list[Task], config: VerifierConfig, flags: tuple[str, ...]) -> list[dict[str, object]]:
    jobs = [
        (p, body) for p in problems for body in (p.canonical_solution, p.wrong_solution, broken(p.canonical_solution))
    ]

    def one(job: tuple[Task, str]) -> dict[str, object]:
        p, body = job
        return _comparable(
            verify_cpp(p.prompt + body, p.test, extra_flags=flags, return_structured=True, config=config)
        )

    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(one, jobs))


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("flags", [()], ids=["O0"])  # (optimised builds never get them: see eligible)
def test_bench_corpus_identical_with_and_without(
    flags: tuple[str, ...], configs: tuple[VerifierConfig, VerifierConfig]
) -> None:
    """The whole bench corpus, each problem's correct, wrong and broken completion, and the verifier's own
    corpus (every error class): every field of every result the same with the instances as without."""
    on, off = configs
    problems = load_bench_tasks()
    for code in {leading_block(p.prompt).items: p.prompt for p in problems}.values():
        prepare(on, code, flags=flags)
    used = instances.STATS["used"]
    assert _verdicts(problems, on, flags) == _verdicts(problems, off, flags)
    assert instances.STATS["used"] - used > len(problems)  # most builds really had them
    for case in CORPUS:
        if leading_block(case.code).items:
            prepare(on, case.code, flags=flags)
        got = [_comparable(verify_cpp(case.code, case.test_code, timeout=case.timeout, extra_flags=flags,
                                      return_structured=True, config=c)) for c in (on, off)]  # fmt: skip
        for row in got:  # wall-clock outcomes (a run killed at its deadline) may differ in their text
            row.pop("stderr") if case.expected_error_class == "runtime_timeout" else None
        assert got[0] == got[1], case.name


def test_an_entry_gets_its_instances_in_the_background_after_some_hand_outs() -> None:
    root = Path(tempfile.mkdtemp(prefix="inst-bg-"))  # under the session root: the sandbox's user reaches it
    root.chmod(0o755)
    config = dataclasses.replace(VerifierConfig.from_settings(), pch_root=root, pch_min_uses=1)
    cache = pch_module.PchCache(root, config.build_limits, min_uses=1, instances=True)
    try:
        code = PROGRAMS["passes"]
        assert cache.header_for(code, "c++17", ()) is not None  # built on the first sighting (synchronous mode)
        entry = root / PchKey("c++17", (), leading_block(code).items).digest()
        assert cache.builder.idle() and instances.ready(entry) is None  # not due after one hand-out...
        for _ in range(pch_module.INSTANCES_MIN_HITS - 1):
            cache.header_for(code, "c++17", ())
        assert cache.builder.wait_idle(300)
        assert instances.ready(entry) is not None  # ...and are there after a few
        # bits/stdc++.h never gets them (measured slower with them).
        stdcxx = "#include <bits/stdc++.h>\nint main() {}\n"
        for _ in range(pch_module.INSTANCES_MIN_HITS + 1):
            cache.header_for(stdcxx, "c++17", ())
        assert cache.builder.wait_idle(300)
        assert instances.ready(root / PchKey("c++17", (), leading_block(stdcxx).items).digest()) is None
    finally:
        cache.close()


def test_a_test_helper_named_like_a_library_member_is_no_overload(
    configs: tuple[VerifierConfig, VerifierConfig],
) -> None:
    """The test defines `size`; the candidate calls `std::vector<int>::size`: the library's weak instance of it
    is no overload of the helper (with the instances the object has none; without, it must not count)."""
    on, off = configs
    code = HEADERS + "int f(vector<int> v){ sort(v.begin(), v.end()); return (int)v.size() + v[0]; }\n"
    test = "#undef NDEBUG\n#include<assert.h>\nbool size(int x){ return x == 0; }\n"
    test += "int main(){ assert(!size(f({3,1,2}))); assert(f({3,1,2}) == 4); }\n"
    prepare(on, code)
    results = [verify_cpp(code, test, return_structured=True, config=c) for c in (on, off)]
    assert _comparable(results[0]) == _comparable(results[1])
    assert results[1].tests_passed == results[1].tests_total == 1


def test_published_files_belong_to_the_verifier_not_the_sandbox_user(
    configs: tuple[VerifierConfig, VerifierConfig],
) -> None:
    """The builds run as nobody; what every later compile reads and every later program links must not be
    theirs to swap."""
    entry = prepare(configs[0], PROGRAMS["passes"])
    inst = instances.ready(entry)
    assert inst is not None
    for path in (entry, entry / "pch.h.gch", inst, inst / "pch.h.gch", inst / "instances.a"):
        st = path.stat()
        assert st.st_uid == os.geteuid() and not st.st_mode & 0o022, path
