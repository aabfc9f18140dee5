"""bench/verifier_ceiling.py: its ceiling really compiles against the exact PCH (g++ -H says so), a
variant's extras reach the compile and the link, the RL group's broken candidates really fail to compile,
the false-result rule on hand cases, and one tiny real run (every side, 4 problems)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.verifier_ceiling import (
    Extras,
    Variant,
    broken,
    ceiling_command,
    ceiling_one,
    is_false,
    prepare_ceiling,
    rl_groups,
)
from services.tasks import load_bench_tasks

ROOT = Path(__file__).resolve().parents[2]
PROGRAM = (
    "// a comment line, as a salt\n#include <vector>\n#include <string>\n"
    "int main() { return std::vector<int>(3).size() == 3 ? 0 : 1; }\n"
)


def test_the_ceiling_compiles_against_the_exact_pch_of_the_leading_block(tmp_path: Path) -> None:
    sets = prepare_ceiling([PROGRAM], tmp_path / "sets", Variant())
    (items,) = sets
    assert items == ("#include <vector>", "#include <string>")
    header = sets[items].pch_header
    assert header is not None and header.read_text() == "#include <vector>\n#include <string>\n"
    src = tmp_path / "rest.cpp"
    src.write_text('int main() { return std::string("x").size() - 1; }\n')
    used = subprocess.run(
        [*ceiling_command(), "-H", "-include", str(header), "-c", str(src), "-o", str(tmp_path / "rest.o")],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert f"! {header}.gch" in used.stderr  # `!`: g++ loaded the precompiled header, not the text
    assert ceiling_one(PROGRAM, sets, tmp_path)
    assert not ceiling_one(PROGRAM.replace("== 3", "== 4"), sets, tmp_path)  # exits 1
    assert not ceiling_one(PROGRAM.replace("return", "retur"), sets, tmp_path)  # does not compile


class ExtraSymbol(Variant):
    """A variant that adds a header to every compile and an object to every link (the extension point)."""

    name = "extra-symbol"

    def prepare(self, entry_dir: Path, items: tuple[str, ...]) -> Extras:
        (entry_dir / "extra.h").write_text("int cppforge_extra();\n")
        (entry_dir / "extra.cpp").write_text("int cppforge_extra() { return 7; }\n")
        obj = entry_dir / "extra.o"
        subprocess.run([*ceiling_command(), "-c", str(entry_dir / "extra.cpp"), "-o", str(obj)], check=True)
        return Extras(compile_args=("-include", str(entry_dir / "extra.h")), link_inputs=(str(obj),))


def test_a_variants_compile_args_and_link_inputs_are_used(tmp_path: Path) -> None:
    code = "#include <cstdio>\nint main() { return cppforge_extra() == 7 ? 0 : 1; }\n"
    assert ceiling_one(code, prepare_ceiling([code], tmp_path / "extra", ExtraSymbol()), tmp_path)
    assert not ceiling_one(code, prepare_ceiling([code], tmp_path / "plain", Variant()), tmp_path)


def test_an_rl_group_holds_4_correct_2_wrong_2_broken_all_distinct_and_broken_ones_fail_to_compile(
    tmp_path: Path,
) -> None:
    problems = load_bench_tasks()[:4]
    for group in rl_groups(problems, "s"):
        assert group.kinds == ["correct"] * 4 + ["wrong"] * 2 + ["broken"] * 2
        assert len(set(group.completions)) == 8
    for k, problem in enumerate(problems):
        src = tmp_path / f"b{k}.cpp"
        src.write_text(problem.prompt + broken(problem.canonical_solution, k) + "\n" + problem.test)
        out = subprocess.run([*ceiling_command(), "-fsyntax-only", str(src)], capture_output=True, text=True)
        assert out.returncode != 0 and f"cppforge_bench_undeclared_{k}" in out.stderr


def test_false_results_by_kind() -> None:
    compiled_none = {"tests_passed": 0, "compile_ok": True}
    assert not is_false("correct", {"tests_passed": 1, "compile_ok": True}, 1.0)
    assert is_false("correct", compiled_none, 0.3)
    assert not is_false("wrong", compiled_none, 0.3)  # 0.3 is the schedule's credit for compiling
    assert is_false("wrong", {"tests_passed": 1, "compile_ok": True}, 1.0)
    assert not is_false("broken", {"tests_passed": 0, "compile_ok": False}, 0.0)
    assert is_false("broken", compiled_none, 0.3)
    assert is_false("correct", compiled_none, None)  # the verifier failed on it


@pytest.mark.slow
def test_a_tiny_run_measures_every_side() -> None:
    run = subprocess.run(
        [sys.executable, "bench/verifier_ceiling.py", "--limit", "4", "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,  # 112 s at load average ~10 on 2 cores
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout)
    assert set(report["ratios"]) == {"k_over_a", "c_over_a", "c_over_k", "f_over_a"}
    assert report["correct"] == {"a": 4, "k": 4, "c": 4, "f": 4}
    assert report["r"]["programs"] == 32 and report["r"]["false_results"] == 0
    assert report["service_pch"]["built"] == report["service_pch"]["header_sets"]


def test_a_program_with_no_include_block_compiles_without_a_pch_and_still_gets_the_variant(tmp_path: Path) -> None:
    code = "int main() { return cppforge_extra() == 7 ? 0 : 1; }\n"
    sets = prepare_ceiling([code], tmp_path / "sets", ExtraSymbol())
    assert sets[()].pch_header is None and sets[()].extras.link_inputs
    assert ceiling_one(code, sets, tmp_path)
