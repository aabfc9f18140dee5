"""Offline best-of-N data: n verified candidates per prompt, the best one kept as an SFT row.

For each task, n completions are sampled (in-process or through the inference service), each
program (prompt + completion) is judged by the real verifier, and the candidates are ranked by the
best-of-N contract (reward desc, completion length desc; `services.lm.ranking.rank`). A candidate the
verifier could not judge (an infrastructure failure) is dropped: it is counted, never ranked, and can
never win. The winner becomes one JSONL row that `cppforge train --recipe sft --set sft_data=FILE`
trains on:

    {"task_id", "prompt", "completion", "reward", "n", "compiled", "passed", "judged"}

`completion` is exactly what SFT learns: the text the model wrote, the stop sequence that closed the
function ("\\n}") and the newline after it, so that `prompt + completion` is the verified program and
has the shape of the bootstrap corpus (`training_text` = prompt + canonical_solution, which ends "}\\n";
SFT then appends EOS as that corpus does). `compiled`/`passed`/`judged` count over all n candidates.

Default filter: a row is written only when its best candidate passed every test (SFT on failing code
teaches failing code); `min_reward` replaces that with a reward threshold (`0` keeps every prompt
with at least one judged candidate).
"""

from __future__ import annotations

import concurrent.futures
import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TextIO

from ..lm.prompts import program_text
from ..lm.ranking import rank
from ..tasks import Task
from .rewards import RewardBackend, Verdict

# Prompts in a row whose every candidate was dropped before the run stops: the verifier is down or
# the sandbox is missing, and going on would only burn generation time.
MAX_UNJUDGED_IN_A_ROW = 8


class VerifierDownError(RuntimeError):
    """The verifier judged no candidate of several prompts in a row."""


@dataclass(frozen=True)
class Generated:
    """One sampled completion as the sampler returns it: the text without the stop, and the stop."""

    text: str
    stopped_by: str  # "" when it ended by EOS or the token budget


def sft_completion(text: str, stopped_by: str) -> str:
    """What SFT trains on: the model's text, the stop that closed the function, then a newline (the
    bootstrap corpus ends each function "}\\n" before EOS). An unclosed completion is kept as written."""
    return program_text("", text, stopped_by, final_newline=bool(stopped_by))


@dataclass(frozen=True)
class Candidate:
    completion: str  # sft_completion(...): prompt + completion is the program the verdict is for
    verdict: Verdict


def pick_best(candidates: Sequence[Candidate]) -> int | None:
    """Index of the best judged candidate (reward desc, completion length desc, then first drawn);
    None when the verifier judged none of them. A dropped candidate is never ranked."""
    judged = [i for i, c in enumerate(candidates) if not c.verdict.dropped]
    if not judged:
        return None
    rewards = [float(candidates[i].verdict.reward or 0.0) for i in judged]
    order = rank(rewards, [candidates[i].completion for i in judged])
    return judged[order[0]]


def keeps(verdict: Verdict, min_reward: float | None) -> bool:
    """The row filter: every test passed by default; with `min_reward`, reward >= min_reward."""
    if verdict.dropped:
        return False
    if min_reward is None:
        return verdict.passed
    return float(verdict.reward or 0.0) >= min_reward


def sft_row(task: Task, candidates: Sequence[Candidate], best: int) -> dict[str, Any]:
    """The JSONL row of a task's winner (`load_sft_rows` reads prompt and completion, ignores the rest)."""
    judged = [c.verdict for c in candidates if not c.verdict.dropped]
    winner = candidates[best]
    return {
        "task_id": task.task_id,
        "prompt": task.prompt,
        "completion": winner.completion,
        "reward": winner.verdict.reward,
        "n": len(candidates),
        "compiled": sum(v.compiled for v in judged),
        "passed": sum(v.passed for v in judged),
        "judged": len(judged),
    }


@dataclass
class BonStats:
    """Running totals over every prompt and candidate (the summary of a run, also after Ctrl-C)."""

    prompts: int = 0
    rows: int = 0
    below_filter: int = 0  # a best candidate judged, but not kept (failed, or under min_reward)
    unjudged_prompts: int = 0  # every candidate dropped
    candidates: int = 0
    judged: int = 0
    dropped: int = 0
    compiled: int = 0
    passed: int = 0
    reward_sum: float = 0.0  # over judged candidates
    best_reward_sum: float = 0.0  # over prompts with a judged candidate
    kept_reward_sum: float = 0.0
    wall_s: float = 0.0
    unjudged_streak: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def add(self, candidates: Sequence[Candidate], best: int | None, kept: bool) -> None:
        self.prompts += 1
        judged = [c.verdict for c in candidates if not c.verdict.dropped]
        self.candidates += len(candidates)
        self.judged += len(judged)
        self.dropped += len(candidates) - len(judged)
        self.compiled += sum(v.compiled for v in judged)
        self.passed += sum(v.passed for v in judged)
        self.reward_sum += sum(float(v.reward or 0.0) for v in judged)
        if best is None:
            self.unjudged_prompts += 1
            self.unjudged_streak += 1
            return
        self.unjudged_streak = 0
        reward = float(candidates[best].verdict.reward or 0.0)
        self.best_reward_sum += reward
        if kept:
            self.rows += 1
            self.kept_reward_sum += reward
        else:
            self.below_filter += 1

    def summary(self) -> dict[str, Any]:
        """Rates and means over what was judged; None where nothing was (an outage is not a 0)."""
        ranked = self.prompts - self.unjudged_prompts
        return {
            "prompts": self.prompts,
            "rows": self.rows,
            "below_filter": self.below_filter,
            "unjudged_prompts": self.unjudged_prompts,
            "candidates": self.candidates,
            "judged": self.judged,
            "dropped": self.dropped,
            "compile_rate": _ratio(self.compiled, self.judged),
            "pass_rate": _ratio(self.passed, self.judged),
            "mean_reward": _ratio(self.reward_sum, self.judged),
            "mean_best_reward": _ratio(self.best_reward_sum, ranked),
            "mean_kept_reward": _ratio(self.kept_reward_sum, self.rows),
            "wall_s": self.wall_s,
            **self.extra,
        }


def _ratio(num: float, den: int) -> float | None:
    return num / den if den else None


class CandidateSource(Protocol):
    """n completions for each of a few prompts; `first_index` is the position of `tasks[0]` in the run
    (seeds derive from it, so a prompt draws the same candidates whatever chunk it lands in)."""

    name: str

    def generate(self, tasks: Sequence[Task], first_index: int) -> list[list[Generated]]: ...

    def close(self) -> None: ...


def chunks(tasks: Sequence[Task], size: int) -> Iterator[tuple[int, Sequence[Task]]]:
    for start in range(0, len(tasks), size):
        yield start, tasks[start : start + size]


def _judge(task: Task, generated: Sequence[Generated], rewards: RewardBackend) -> list[Candidate]:
    completions = [sft_completion(g.text, g.stopped_by) for g in generated]
    verdicts = rewards.score([task.prompt + c for c in completions], task.test)
    return [Candidate(c, v) for c, v in zip(completions, verdicts, strict=True)]


def run_bon(
    tasks: Sequence[Task],
    source: CandidateSource,
    rewards: RewardBackend,
    out: TextIO,
    *,
    chunk: int,
    min_reward: float | None,
    on_prompt: Callable[[BonStats], None] | None = None,
    stats: BonStats | None = None,
) -> BonStats:
    """Sample, judge, rank and write one row per kept prompt, in task order, flushed as it is written.
    The verdicts of one chunk are computed while the next chunk is sampled. On Ctrl-C the prompts
    already sampled are still judged and written, then it re-raises; `stats` holds the totals."""
    stats = stats if stats is not None else BonStats()
    started = time.perf_counter()
    pending: list[tuple[Task, concurrent.futures.Future[list[Candidate]]]] = []

    def finish_one() -> None:
        task, future = pending.pop(0)
        candidates = future.result()
        best = pick_best(candidates)
        kept = best is not None and keeps(candidates[best].verdict, min_reward)
        if kept and best is not None:
            out.write(json.dumps(sft_row(task, candidates, best), ensure_ascii=False) + "\n")
            out.flush()
        stats.add(candidates, best, kept)
        stats.wall_s = time.perf_counter() - started
        if on_prompt is not None:
            on_prompt(stats)
        if stats.unjudged_streak >= MAX_UNJUDGED_IN_A_ROW:
            raise VerifierDownError(
                f"the verifier judged no candidate of {stats.unjudged_streak} prompts in a row "
                "(is it running, is the sandbox available?)"
            )

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, chunk), thread_name_prefix="bon-verify")
    try:
        for start, part in chunks(tasks, chunk):
            generated = source.generate(part, start)
            for task, drawn in zip(part, generated, strict=True):
                pending.append((task, pool.submit(_judge, task, drawn, rewards)))
            while len(pending) > len(part):  # earlier chunks; this one verifies while the next samples
                finish_one()
        while pending:
            finish_one()
    except KeyboardInterrupt:
        # Sampling is the expensive part: judge and write what was already sampled (seconds; each
        # verification has its deadline), then stop. A second Ctrl-C aborts this too.
        while pending:
            finish_one()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        stats.wall_s = time.perf_counter() - started
    return stats
