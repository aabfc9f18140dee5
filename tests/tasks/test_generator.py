"""The seeded generator: deterministic, well-formed, varied, and every task compiles and passes its own test."""

from __future__ import annotations

import dataclasses
import random
import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from services.tasks import FAMILIES, Task, generate_task, generate_tasks, held_out_tasks, training_text
from services.tasks.seeded.common import HEADER_ORDER
from services.verifier.core.verify import verify_cpp


def test_same_seed_same_tasks_and_prefix_stable() -> None:
    a = generate_tasks(40, seed=5)
    assert a == generate_tasks(40, seed=5)
    assert generate_tasks(15, seed=5) == a[:15]
    b = generate_tasks(40, seed=6)
    assert [training_text(t) for t in a] != [training_text(t) for t in b]
    assert len({t.task_id for t in a}) == 40


def test_zero_and_negative_counts() -> None:
    assert generate_tasks(0, seed=1) == []
    with pytest.raises(ValueError):
        generate_tasks(-1, seed=1)


def _check_shape(task: Task) -> None:
    assert task.prompt.endswith(" {") and not task.prompt.endswith("\n")
    assert task.canonical_solution.startswith("\n") and task.canonical_solution.endswith("\n}\n")
    # the first line that is exactly `}` closes the function: samplers stop there
    assert task.canonical_solution.index("\n}") == len(task.canonical_solution) - 3
    assert training_text(task) == task.prompt + task.canonical_solution == task.code
    includes = re.findall(r"^#include <(\w+)>$", task.prompt, flags=re.M)
    # once each, in the generator's fixed order
    assert includes == [h for h in HEADER_ORDER if h in includes]
    assert re.search(r"^// .+\n[^\n]+\) \{$", task.prompt, flags=re.M), task.prompt
    assert task.test.startswith("#undef NDEBUG\n#include <cassert>\n")
    assert "int main() {" in task.test and task.test.count("assert(") >= 3


def test_task_shape() -> None:
    for task in generate_tasks(300, seed=2):
        _check_shape(task)


def test_every_family_draws() -> None:
    rng = random.Random(0)
    for family in sorted(FAMILIES):
        for i in range(5):
            _check_shape(generate_task(rng, f"{family}/{i}", family))


def test_varied() -> None:
    tasks = generate_tasks(2000, seed=0)
    texts = {training_text(t) for t in tasks}
    assert len(texts) == 2000
    names = {t.prompt.rsplit("\n", 1)[-1].split("(")[0].split()[-1] for t in tasks}
    assert len(names) > 400
    assert len({t.canonical_solution for t in tasks}) > 1800
    using = sum("using namespace std;" in t.prompt for t in tasks if "#include" in t.prompt)
    assert 0 < using < len([t for t in tasks if "#include" in t.prompt])  # both styles occur
    assert any("for (" in t.canonical_solution for t in tasks) and any("while (" in t.canonical_solution for t in tasks)
    assert any(" : " in t.canonical_solution for t in tasks)  # range-for


def _verified(task: Task) -> tuple[Task, bool, str]:
    r = verify_cpp(task.code, task.test, timeout=10.0)
    ok = r.compile_ok and r.run_ok and r.tests_total > 0 and r.tests_passed == r.tests_total
    return task, ok, r.compile_output[-800:] + r.stderr[-400:]


def test_sampled_tasks_compile_and_pass() -> None:
    tasks = random.Random(11).sample(generate_tasks(600, seed=9), 15)
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(_verified, tasks))
    failures = [f"{t.task_id}:\n{t.code}{t.test}\n{out}" for t, ok, out in results if not ok]
    assert not failures, "\n\n".join(failures)


def test_tests_have_teeth() -> None:
    """A wrong body that compiles fails the test."""
    returning_int = [t for t in generate_tasks(200, seed=4) if t.prompt.rsplit("\n", 1)[-1].startswith("int ")]
    wrong = [dataclasses.replace(t, canonical_solution="\n    return 12345;\n}\n") for t in returning_int[:4]]
    assert wrong
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(_verified, wrong))
    assert not any(ok for _, ok, _ in results)


def test_held_out_tasks_never_repeat_a_training_prompt() -> None:
    train = {t.prompt for t in generate_tasks(3000, 0)}
    held = held_out_tasks(40, seed=99, train_seed=0, train_n=3000)
    assert len(held) == 40
    assert not any(t.prompt in train for t in held)
    assert [t.task_id for t in held] == [t.task_id for t in held_out_tasks(40, seed=99, train_seed=0, train_n=3000)]
