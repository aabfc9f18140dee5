"""The bench problem set: data/bench_cpp.jsonl, written by scripts/build_data.py from
services/tasks/bench_families (self-written, HumanEval-X-style C++ problems).

Regenerating must give the committed bytes; structural checks run everywhere; the verify checks
compile and run the problems for real: the canonical completion must pass its assert test and the
wrong completion must fail it.
"""

from __future__ import annotations

import dataclasses
import re

import pytest

from scripts.build_data import bench_bytes, check_task, check_tasks
from services.tasks import Task, load_bench_tasks
from services.tasks.bench_families import BITS_BLOCK, COMMON_HEADER_BLOCKS, build_bench_tasks, header_distribution
from services.tasks.sets import BENCH_FILE
from services.verifier.core.verify import VerifierConfig, sandbox_mode

CORPUS = load_bench_tasks()

# A library name a solution uses -> the header that declares it.
SYMBOL_HEADERS = {
    r"\bvector<": "vector",
    r"\bstring\b|\bto_string\(": "string",
    r"\bmap<": "map",
    r"\bunordered_map<": "unordered_map",
    r"\bset<": "set",
    r"\bpriority_queue<|\bqueue<": "queue",
    r"\bdeque<": "deque",
    r"\bstringstream\b": "sstream",
    r"\bfunction<": "functional",
    r"\b(INT_MIN|INT_MAX|LLONG_MIN|LLONG_MAX)\b": "climits",
    r"\b(gcd|lcm|accumulate|iota)\(": "numeric",
    r"\b(sort|stable_sort|reverse|max_element|min_element|min|max)\(": "algorithm",
    r"\b(tolower|toupper|isalpha|isdigit|isupper|islower|isalnum|isspace)\(": "cctype",
}


def header_block(problem: Task) -> str:
    return problem.prompt.split("using namespace std;\n", 1)[0]


def test_corpus_size_and_unique_ids() -> None:
    assert len(CORPUS) >= 110
    ids = [p.task_id for p in CORPUS]
    assert len(set(ids)) == len(ids)


def test_regenerating_gives_the_committed_bytes() -> None:
    assert bench_bytes() == BENCH_FILE.read_bytes(), "run: python scripts/build_data.py"


def test_corpus_is_deterministic() -> None:
    assert build_bench_tasks() == CORPUS == build_bench_tasks()


def test_every_problem_has_a_wrong_solution_and_no_humaneval_extras() -> None:
    for task in CORPUS:
        assert task.wrong_solution and not task.declaration and not task.example_test
    with pytest.raises(dataclasses.FrozenInstanceError):
        CORPUS[0].task_id = "x"  # type: ignore[misc]


@pytest.mark.parametrize("problem", CORPUS, ids=lambda p: p.task_id)
def test_problem_layout(problem: Task) -> None:
    assert problem.prompt.startswith("#include")
    block = header_block(problem)
    assert block and all(re.fullmatch(r"#include<[\w./+]+>", ln) for ln in block.splitlines())
    rest = problem.prompt[len(block) :]
    assert rest.startswith("using namespace std;\n//")
    assert problem.prompt.endswith("{\n")
    assert problem.canonical_solution.endswith("}\n")
    assert problem.wrong_solution.endswith("}\n")
    assert problem.canonical_solution != problem.wrong_solution
    assert problem.test.startswith("#undef NDEBUG\n#include<assert.h>\nint main(){\n")
    assert problem.test.endswith("}\n")
    asserts = re.findall(r"^    assert \(.*\);$", problem.test, re.M)
    assert 3 <= len(asserts) <= 5
    assert problem.test.count("\n") == 4 + len(asserts)


@pytest.mark.parametrize("problem", CORPUS, ids=lambda p: p.task_id)
def test_prompt_includes_the_headers_its_solutions_use(problem: Task) -> None:
    block = header_block(problem)
    if block == BITS_BLOCK:
        return
    included = set(re.findall(r"#include<([^>]+)>", block))
    code = problem.canonical_solution + problem.wrong_solution + problem.prompt[len(block) :]
    code = re.sub(r"//.*", "", code)  # the task comment is prose
    needed = {header for pattern, header in SYMBOL_HEADERS.items() if re.search(pattern, code)}
    assert needed <= included, f"missing {sorted(needed - included)}"


def test_header_block_mix() -> None:
    dist = header_distribution(CORPUS)
    assert dist[BITS_BLOCK] >= 0.10 * len(CORPUS)
    assert len(dist) >= 6
    assert sum(1 for block in COMMON_HEADER_BLOCKS if dist[block] > 0) >= 6
    common = sum(dist[block] for block in COMMON_HEADER_BLOCKS)
    assert common >= 0.6 * len(CORPUS)
    unusual = [b for b in dist if b not in COMMON_HEADER_BLOCKS and b != BITS_BLOCK]
    assert len(unusual) >= 3


@pytest.fixture(scope="module")
def can_verify() -> None:
    # The project installs bubblewrap (make test): no sandbox is a failure here, not a skip.
    sandbox_mode(VerifierConfig.from_settings())


SAMPLE = [CORPUS[i * len(CORPUS) // 6] for i in range(6)]


@pytest.mark.parametrize("problem", SAMPLE, ids=lambda p: p.task_id)
def test_sample_canonical_passes_and_wrong_fails(can_verify: None, problem: Task) -> None:
    assert check_task(problem) == []


@pytest.mark.slow
def test_every_problem_canonical_passes_and_wrong_fails(can_verify: None) -> None:
    assert check_tasks(CORPUS, workers=2) == []
