"""`--check-canonical`: does every task's own canonical solution pass its test? A data-set check.

The program is the one a sample would get: HumanEval-X's helper headers, the prompt, the canonical
solution, then the test, judged by the same verifier. MultiPL-E files carry no canonical solutions, so
there is nothing to check: that is a ValueError saying so, not an empty pass.
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, TextIO

from ...tasks.problems import Problem
from .judges import Judge, Judgement
from .progress import EvalProgress


@dataclass(frozen=True)
class CanonicalFailure:
    task_id: str
    error_class: str  # "infra" when the verifier could not judge it
    detail: str  # the first compiler error line, or the run's status and last stderr line


@dataclass
class CanonicalReport:
    checked: int
    passed: int
    wall_s: float
    failures: list[CanonicalFailure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.passed == self.checked

    def to_dict(self) -> dict[str, Any]:
        return {"checked": self.checked, "passed": self.passed, "failed": self.checked - self.passed,
                "wall_s": round(self.wall_s, 3), "failures": [asdict(f) for f in self.failures]}  # fmt: skip


def require_canonical(problems: Sequence[Problem]) -> None:
    missing = [p.task_id for p in problems if p.canonical_solution is None]
    if missing:
        raise ValueError(
            f"{len(missing)} of {len(problems)} tasks have no canonical solution (a MultiPL-E file carries none): "
            "--check-canonical needs a HumanEval-X file"
        )


def check_canonical(problems: Sequence[Problem], judge: Judge, *, progress: TextIO | None,
                    batch: int = 8) -> CanonicalReport:  # fmt: skip
    """Verify every problem's canonical solution; the failures, in file order, with their errors."""
    require_canonical(problems)
    started = time.perf_counter()
    bar = EvalProgress(len(problems), progress, label="check-canonical")
    verdicts: list[Judgement] = []
    try:
        for start in range(0, len(problems), batch):
            part = problems[start : start + batch]
            programs = [(*p.program(p.canonical_solution or ""), p.libraries) for p in part]
            verdicts += _judge_each(judge, programs)
            bar.update(len(verdicts), len(verdicts), sum(v.passed for v in verdicts))
    finally:
        bar.close()
    failures = [
        CanonicalFailure(task_id=p.task_id, error_class=v.error_class, detail=v.detail or "did not pass")
        for p, v in zip(problems, verdicts, strict=True)
        if not v.passed
    ]
    return CanonicalReport(checked=len(problems), passed=len(problems) - len(failures),
                           wall_s=time.perf_counter() - started, failures=failures)  # fmt: skip


def _judge_each(judge: Judge, programs: Sequence[tuple[str, str, tuple[str, ...]]]) -> list[Judgement]:
    """Each (code, test) judged on its own (every task has its own test, and a verifier batch takes one), at once."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(programs) or 1) as pool:
        futures = [pool.submit(judge.judge, [code], test, libraries) for code, test, libraries in programs]
        return [f.result()[0] for f in futures]
