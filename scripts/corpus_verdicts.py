"""Record (or check) the verifier's verdict on every bench-corpus program, canonical and wrong.

The file it writes, `tests/verifier/data/corpus_verdicts.jsonl`, pins what `verify_cpp` decided
for each of the corpus's programs under each configuration in CONFIGS. It was written once from
the verifier before the integrity hardening (issue 8); `tests/verifier/test_identical_verdicts.py`
checks that today's verifier still gives every program the same verdict.

Usage: python scripts/corpus_verdicts.py [--out FILE] [--workers N]
"""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.tasks import Task, load_bench_tasks  # noqa: E402
from services.verifier.core.reward import compute_reward  # noqa: E402
from services.verifier.core.verify import verify_cpp  # noqa: E402

DEFAULT_OUT = ROOT / "tests" / "verifier" / "data" / "corpus_verdicts.jsonl"
# (name, std, flags): the shipped default and an optimised build.
CONFIGS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("default", "c++17", ()),
    ("O2", "c++17", ("-O2",)),
)
VERDICT_FIELDS = ("compile_ok", "ran", "run_ok", "main_returned", "tests_passed", "tests_total", "error_class")


def verdict(problem: Task, variant: str, config: tuple[str, str, tuple[str, ...]]) -> dict[str, Any]:
    name, std, flags = config
    body = problem.canonical_solution if variant == "canonical" else problem.wrong_solution
    result = verify_cpp(problem.prompt + body, problem.test, std=std, extra_flags=flags, return_structured=True)
    if result.infra_error:
        raise RuntimeError(f"{problem.task_id}/{variant}/{name}: {result.infra_error}")
    row: dict[str, Any] = {"task_id": problem.task_id, "variant": variant, "config": name}
    row.update({f: getattr(result, f) for f in VERDICT_FIELDS})
    row["reward"] = round(compute_reward(result), 6)
    return row


def all_jobs() -> list[tuple[Task, str, tuple[str, str, tuple[str, ...]]]]:
    return [(p, v, c) for c in CONFIGS for p in load_bench_tasks() for v in ("canonical", "wrong")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    jobs = all_jobs()
    with ThreadPoolExecutor(args.workers) as pool:
        rows = list(pool.map(lambda job: verdict(*job), jobs))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))
    print(f"wrote {len(rows)} verdicts to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
