"""The demo's first two steps, each a few requests to a running service through its typed client.

verify: the candidate table through the verifier's POST /v1/reward. best-of-4: POST /v1/best_of_n on
held-out prompts; a local stack's inference service is open with the dev tier, whose scorer compiles
every candidate through the verifier service (within the tier's 5 s budget), and the picked program is
then judged against the task's tests through /v1/reward.
"""

from __future__ import annotations

import time

from ..inference.client import InferenceClient, Sampling
from ..lm.prompts import FUNCTION_STOP
from ..tasks.task import Task
from ..verifier.client import VerifierClient
from .candidates import CANDIDATES, PROMPT, TEST
from .printing import Progress, table
from .summary import BestOfRow, VerifyRow


def verify_step(verifier: VerifierClient, progress: Progress) -> list[VerifyRow]:
    rows: list[VerifyRow] = []
    lines = [["candidate", "class", "tests", "reward", "time"]]
    for label, kind, body in CANDIDATES:
        started = time.monotonic()
        answer = verifier.reward(PROMPT + body, TEST, timeout=2.0, return_structured=True)
        result = answer.result
        row = VerifyRow(
            label=label, kind=kind, error_class=str(result.error_class.value if result.error_class else "none"),
            tests_passed=result.tests_passed, tests_total=result.tests_total, reward=answer.reward,
            seconds=round(time.monotonic() - started, 3),
        )  # fmt: skip
        rows.append(row)
        lines.append([label, row.error_class, f"{row.tests_passed}/{row.tests_total}", f"{row.reward:.3f}",
                      f"{row.seconds:.2f}s"])  # fmt: skip
    progress.line(table(lines, right=(2, 3, 4)))
    progress.line("Only the correct candidates earn 1.0; the hacks earn no test credit.")
    return rows


def best_of_step(
    inference: InferenceClient, verifier: VerifierClient, tasks: list[Task], progress: Progress, *, n: int = 4
) -> list[BestOfRow]:
    rows: list[BestOfRow] = []
    lines = [["task", "compiling", "scorer", "picked reward", "picked vs tests", "time"]]
    for k, task in enumerate(tasks):
        started = time.monotonic()
        sampling = Sampling(max_tokens=96, temperature=1.0, seed=1000 * k, stop=(FUNCTION_STOP,))
        answer = inference.best_of_n(task.prompt, n, sampling)
        seconds = time.monotonic() - started
        metrics = answer.metrics
        best = answer.best_index
        program = task.prompt + answer.best + str(metrics.get("stopped_by", [""] * n)[best] or "")
        judged = verifier.reward(program, task.test, timeout=5.0)
        row = BestOfRow(
            task_id=task.task_id, compiling=int(metrics["compile_count"]), n=int(metrics["n"]),
            scorer=str(metrics["scorer"]), picked_reward=float(metrics["rewards"][best]),
            picked_compiles=judged.result.compile_ok, seconds=round(seconds, 3),
            picked_tests=f"{judged.result.tests_passed}/{judged.result.tests_total}",
        )  # fmt: skip
        rows.append(row)
        lines.append([task.task_id, f"{row.compiling}/{row.n}", row.scorer, f"{row.picked_reward:.3f}",
                      row.picked_tests, f"{row.seconds:.2f}s"])  # fmt: skip
    progress.line(table(lines, right=(1, 3, 4, 5)))
    return rows
