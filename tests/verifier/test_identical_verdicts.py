"""Every bench-corpus program keeps the verdict the verifier gave it before the integrity hardening.

tests/verifier/data/corpus_verdicts.jsonl was written by scripts/corpus_verdicts.py from the
verifier as it stood before issue 8 (canonical and wrong completion of all 151 problems, shipped
default and -O2). The hardened verifier must agree on every field that decides a reward, on the
fast path (nothing but includes before plain code) and on the slow path (a directive in the code
makes the verifier ask GCC for its view and build a macro guard).
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from services.tasks import Task, load_bench_tasks
from services.verifier.core.reward import compute_reward
from services.verifier.core.verify import verify_cpp

FIXTURE = Path(__file__).parent / "data" / "corpus_verdicts.jsonl"
FIELDS = ("compile_ok", "ran", "run_ok", "main_returned", "tests_passed", "tests_total", "error_class", "reward")
CONFIGS = {"default": ("c++17", ()), "O2": ("c++17", ("-O2",))}
# Appended to the candidate's code: harmless, but a directive, so the slow path runs.
SLOW_PATH_TAIL = "\n#define CPPFORGE_PROBE_UNUSED 1\n#undef CPPFORGE_PROBE_UNUSED\n"


def pinned(config: str) -> dict[tuple[str, str], dict[str, Any]]:
    rows = [json.loads(line) for line in FIXTURE.read_text().splitlines()]
    return {(r["task_id"], r["variant"]): r for r in rows if r["config"] == config}


def verdict(problem: Task, variant: str, config: str, tail: str) -> dict[str, Any]:
    std, flags = CONFIGS[config]
    body = problem.canonical_solution if variant == "canonical" else problem.wrong_solution
    result = verify_cpp(problem.prompt + body + tail, problem.test, std=std, extra_flags=flags, return_structured=True)
    assert result.infra_error is None, result.infra_error
    row = {f: getattr(result, f) for f in FIELDS[:-1]}
    row["reward"] = round(compute_reward(result), 6)
    return row


def differences(config: str, tail: str) -> list[str]:
    expected = pinned(config)
    problems = {p.task_id: p for p in load_bench_tasks()}
    assert {task for task, _ in expected} == set(problems), "the fixture and the corpus disagree on the tasks"
    jobs = sorted(expected)
    with ThreadPoolExecutor(2) as pool:
        got = list(pool.map(lambda job: verdict(problems[job[0]], job[1], config, tail), jobs))
    out = []
    for job, row in zip(jobs, got, strict=True):
        want = {f: expected[job][f] for f in FIELDS}
        if row != want:
            out.append(f"{job}: pinned {want}, now {row}")
    return out


def test_fixture_covers_the_whole_corpus_both_ways() -> None:
    rows = pinned("default")
    assert len(rows) == 2 * len(load_bench_tasks())
    assert all(r["reward"] == 1.0 for (_, v), r in rows.items() if v == "canonical")
    assert all(r["tests_passed"] == 0 for (_, v), r in rows.items() if v == "wrong")


def test_identical_verdicts_fast_path() -> None:
    assert differences("default", "") == []


def test_identical_verdicts_slow_path() -> None:
    assert differences("default", SLOW_PATH_TAIL) == []


@pytest.mark.slow
def test_identical_verdicts_optimised() -> None:
    assert differences("O2", "") == []
