"""Held-out compile and pass rates, before and after training: plain prompts (never a CCCS prefix),
sampled at the recipe's temperature and greedy, through the same reward backend as training."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ..lm.prompts import FUNCTION_STOP, encode_prompt
from ..lm.sampling import SampleRequest, SamplingParams, sample_batch
from ..tasks import Task
from .rewards import RewardBackend, Verdict


@dataclass
class HeldoutScore:
    tasks: int
    sampled_n: int  # judged sampled completions (dropped ones excluded)
    # Rates over judged completions; None when the verifier judged none (an outage is not a 0% score).
    compile_rate: float | None  # sampled
    pass_rate: float | None  # sampled
    greedy_compile_rate: float | None
    greedy_pass_rate: float | None
    dropped: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _rates(verdicts: Sequence[Verdict]) -> tuple[float | None, float | None, int]:
    judged = [v for v in verdicts if not v.dropped]
    if not judged:
        return None, None, 0
    return sum(v.compiled for v in judged) / len(judged), sum(v.passed for v in judged) / len(judged), len(judged)


def score_heldout(
    model: Any,
    tokenizer: Any,
    tasks: Sequence[Task],
    rewards: RewardBackend,
    *,
    samples: int,
    temperature: float,
    max_tokens: int,
    seed: int,
    top_p: float = 1.0,
    chunk: int = 8,
    progress: Callable[[int, int], None] | None = None,
) -> HeldoutScore:
    """`samples` draws at `temperature`/`top_p` and one greedy completion per task; chunks of tasks decode
    in one batch, and the verdicts of one chunk are computed while the next chunk is being generated
    (progress is reported as each earlier chunk's verdicts come in, not all at the end)."""
    sampled: list[Verdict] = []
    greedy: list[Verdict] = []
    pending: list[concurrent.futures.Future[list[Verdict]]] = []

    def collect(keep_in_flight: int) -> None:
        while len(pending) > keep_in_flight:
            verdicts = pending.pop(0).result()
            sampled.extend(verdicts[:-1])
            greedy.append(verdicts[-1])
            if progress is not None:
                progress(len(greedy), len(tasks))

    with concurrent.futures.ThreadPoolExecutor(max_workers=chunk, thread_name_prefix="heldout") as pool:
        for start in range(0, len(tasks), chunk):
            part = tasks[start : start + chunk]
            requests: list[SampleRequest] = []
            for i, task in enumerate(part, start):
                ids = encode_prompt(tokenizer, task.prompt)
                budget = max(1, min(max_tokens, _room(model, len(ids))))
                hot = SamplingParams(max_tokens=budget, temperature=temperature, top_p=top_p,
                                     stop=(FUNCTION_STOP,), seed=seed + 1000 * i)  # fmt: skip
                cold = SamplingParams(max_tokens=budget, temperature=0.0, stop=(FUNCTION_STOP,), seed=0)
                requests += [SampleRequest(ids, samples, hot), SampleRequest(ids, 1, cold)]
            results = sample_batch(model, tokenizer, requests)
            for j, task in enumerate(part):
                drawn, best = results[2 * j][0], results[2 * j + 1][0]
                programs = [s.program(task.prompt) for s in drawn] + [best[0].program(task.prompt)]
                pending.append(pool.submit(rewards.score, programs, task.test))
            collect(keep_in_flight=len(part))  # the earlier chunks: this one verifies while the next decodes
        collect(keep_in_flight=0)
    compile_rate, pass_rate, n = _rates(sampled)
    g_compile, g_pass, _ = _rates(greedy)
    dropped = sum(v.dropped for v in sampled) + sum(v.dropped for v in greedy)
    return HeldoutScore(len(tasks), n, compile_rate, pass_rate, g_compile, g_pass, dropped)


def _room(model: Any, prompt_len: int) -> int:
    """Tokens left in the model's context after the prompt."""
    limit = getattr(getattr(model, "config", None), "max_position_embeddings", None)
    return 1 << 30 if limit is None else int(limit) - prompt_len
