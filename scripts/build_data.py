"""Regenerate the problem sets under data/ from their generators, or check them.

`data/bench_cpp.jsonl` holds the 151 bench problems (with their wrong solutions) that
`services.tasks.bench_families` builds; `data/humaneval_cpp.jsonl` holds the same problems in
HumanEval-X's fields (`CppForge/<n>`, declaration, example_test; no wrong solution), the eval
harness's default set; `data/heldout_cpp.jsonl` holds the trainer's default held-out split of generated tasks
(100, seed 4242) in the same fields, the bootstrap model's own kind of prompt. tests/tasks/ check that
regenerating gives the committed bytes.

Usage:
  python scripts/build_data.py                   write both files, print the count and header mix
  python scripts/build_data.py --diff            exit 1 if a committed file differs from a regeneration
  python scripts/build_data.py --check [PREFIX ...]
                                                 verify the committed problems for real with verify_cpp
                                                 (canonical must pass, wrong must fail), optionally only
                                                 the task ids starting with a PREFIX
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.tasks import Task, load_bench_tasks  # noqa: E402
from services.tasks.bench_families import build_bench_tasks, build_humaneval_tasks, header_distribution  # noqa: E402
from services.tasks.jsonl import dumps_jsonl, task_to_row  # noqa: E402
from services.tasks.seeded import held_out_tasks  # noqa: E402
from services.tasks.sets import BENCH_FILE, HELDOUT_COUNT, HELDOUT_CPP_FILE, HELDOUT_SEED, HUMANEVAL_CPP_FILE  # noqa: E402

HUMANEVAL_X_FIELDS = ("task_id", "prompt", "canonical_solution", "test", "declaration", "example_test")


def bench_bytes() -> bytes:
    """What data/bench_cpp.jsonl must hold."""
    return dumps_jsonl(task_to_row(t) for t in build_bench_tasks())


def humaneval_bytes() -> bytes:
    """What data/humaneval_cpp.jsonl must hold: HumanEval-X's six fields, in the published files' order."""
    return dumps_jsonl({name: getattr(t, name) for name in HUMANEVAL_X_FIELDS} for t in build_humaneval_tasks())


def heldout_bytes() -> bytes:
    """What data/heldout_cpp.jsonl must hold: the trainer's held-out tasks with HumanEval-X's six fields."""
    tasks = held_out_tasks(HELDOUT_COUNT, HELDOUT_SEED)
    return dumps_jsonl({name: getattr(t, name) for name in HUMANEVAL_X_FIELDS} for t in tasks)


def generated_files() -> dict[Path, bytes]:
    return {BENCH_FILE: bench_bytes(), HUMANEVAL_CPP_FILE: humaneval_bytes(), HELDOUT_CPP_FILE: heldout_bytes()}


def check_task(task: Task) -> list[str]:
    """Verify one problem for real: the canonical body must pass the test, the wrong one must fail it."""
    from services.verifier.core.verify import verify_cpp

    errors = []
    good = verify_cpp(task.prompt + task.canonical_solution, task.test)
    if not (good.compile_ok and good.tests_total == 1 and good.tests_passed == 1):
        detail = (good.compile_output or good.stderr).strip()[-600:]
        errors.append(f"{task.task_id}: canonical failed ({good.tests_passed}/{good.tests_total}): {detail}")
    bad = verify_cpp(task.prompt + task.wrong_solution, task.test)
    if not bad.compile_ok:
        errors.append(f"{task.task_id}: wrong solution does not compile: {bad.compile_output.strip()[-600:]}")
    elif bad.tests_passed != 0:
        errors.append(f"{task.task_id}: wrong solution passes ({bad.tests_passed}/{bad.tests_total})")
    return errors


def check_tasks(tasks: Sequence[Task], workers: int = 2) -> list[str]:
    """`check_task` over all `tasks` on a small thread pool; the errors, in order."""
    with ThreadPoolExecutor(workers) as pool:
        return [e for errs in pool.map(check_task, tasks) for e in errs]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--diff", action="store_true", help="compare with the committed file, write nothing")
    mode.add_argument("--check", nargs="*", metavar="PREFIX", help="verify the committed problems with g++")
    args = parser.parse_args(argv)
    if args.check is not None:
        chosen = [t for t in load_bench_tasks() if not args.check or t.task_id.startswith(tuple(args.check))]
        t0 = time.monotonic()
        errors = check_tasks(chosen)
        print(f"checked {len(chosen)} problems in {time.monotonic() - t0:.1f}s: {len(errors)} errors")
        for line in errors:
            print(line)
        return 1 if errors else 0
    files = generated_files()
    if args.diff:
        stale = [path for path, data in files.items() if not (path.is_file() and path.read_bytes() == data)]
        for path in files:
            print(f"{path}: {'differs from a regeneration' if path in stale else 'up to date'}")
        return 1 if stale else 0
    tasks = build_bench_tasks()
    for path, data in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        print(f"wrote {path} ({len(data.splitlines())} problems, {len(data)} bytes)")
    for block, n in header_distribution(tasks).most_common():
        print(f"{n:4d}  {block.replace(chr(10), ' ').strip()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
