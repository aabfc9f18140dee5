"""Reward functions for the RL libraries people already use: TRL and verl.

* TRL: `make_trl_reward_func(...)` returns `reward_func(prompts, completions, **columns)` ->
  `list[float | None]`, the signature `GRPOTrainer` calls (the dataset's `test_code` column
  arrives as a keyword); `make_async_trl_reward_func` is the coroutine variant TRL awaits
  concurrently. Completions are grouped by test and sent as batches (deduplicated server-side).
* verl: `compute_score(data_source, solution_str, ground_truth, extra_info=None)` -> dict with
  `score` (verl reads it) and details.
Both go to the verifier service over HTTP, or run in-process when the URL is "local". An
infrastructure failure raises (or, with `on_infra_error="none"`, yields None, which TRL skips);
it is never a 0.0, the defect of verl's SandboxFusion path. When the verifier fails on some items
of a batch only, "none" gives None for exactly those items and the others their rewards.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import re
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal

from .client import AsyncVerifierClient, VerifierClient, VerifierUnavailableError, batch_rewards, default_url
from .core.reward import InfrastructureError, compute_reward
from .core.verify import VerifyResult, verify_cpp

LOCAL = "local"
_FENCE = re.compile(r"```(?:c\+\+|cpp|cc|cxx)?[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)
OnError = Literal["raise", "none"]


def completion_text(completion: Any) -> str:
    """TRL passes strings (standard) or message lists (conversational): the assistant's text."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list) and completion and isinstance(completion[-1], dict):
        return str(completion[-1].get("content", ""))
    raise TypeError(f"unsupported completion type {type(completion).__name__}")


def extract_code(text: str) -> str:
    """The first fenced C++ block when there is one, else the text itself."""
    m = _FENCE.search(text)
    return m.group(1) if m else text


def candidate_code(prompt: Any, completion: Any, prepend_prompt: bool | None) -> str:
    """HumanEval-X style (string prompt ending in a signature): prompt + completion.
    Conversational: the code the assistant wrote (fenced block or whole message)."""
    text = completion_text(completion)
    prepend = isinstance(prompt, str) if prepend_prompt is None else prepend_prompt
    if prepend and isinstance(prompt, str):
        return prompt + text
    return extract_code(text)


Scores = list[float | None]  # None: the verifier failed on that item (never a 0.0)


def _reward_or_none(result: VerifyResult) -> float | None:
    try:
        return compute_reward(result)
    except InfrastructureError:
        return None


def _local_scores(codes: list[str], test_code: str | None, options: dict[str, Any]) -> Scores:
    workers = os.cpu_count() or 1
    with concurrent.futures.ThreadPoolExecutor(workers) as ex:
        results = list(ex.map(lambda c: verify_cpp(c, test_code, **options), codes))
    return [_reward_or_none(r) for r in results]


def _settle(scores: Scores, on_infra_error: OnError) -> Scores:
    """Items the verifier failed on: raise, or keep them None (TRL ignores those samples)."""
    failed = sum(s is None for s in scores)
    if failed and on_infra_error == "raise":
        raise InfrastructureError(f"the verifier failed on {failed} of {len(scores)} completions; no reward for them")
    return scores


def _grouped(
    codes: list[str], tests: list[str | None], score_group: Callable[[list[str], str | None], Scores]
) -> Scores:
    groups: dict[str | None, list[int]] = defaultdict(list)
    for i, t in enumerate(tests):
        groups[t].append(i)
    out: Scores = [None] * len(codes)
    for test, idxs in groups.items():
        for i, score in zip(idxs, score_group([codes[i] for i in idxs], test), strict=True):
            out[i] = score
    return out


def _column(kwargs: dict[str, Any], name: str | None, n: int) -> list[str | None]:
    """The test of each completion; `name` None: no tests (compile and run only)."""
    if name is None:
        return [None] * n
    values = kwargs.get(name)
    if values is None:
        # Without its tests every candidate would score 0.3 (compiles) or 0.0: a silent wrong reward.
        got = ", ".join(sorted(kwargs)) or "none"
        raise ValueError(
            f"the reward function needs the dataset column {name!r} (the test code of each prompt), but got the "
            f"columns: {got}; add the column, pass test_column=<its name>, or test_column=None to score "
            "without tests (compile and run only)"
        )
    if len(values) != n:
        raise ValueError(f"column {name!r} has {len(values)} values for {n} completions")
    return list(values)


def make_trl_reward_func(
    url: str | None = None,
    test_column: str | None = "test_code",
    prepend_prompt: bool | None = None,
    on_infra_error: OnError = "raise",
    max_retries: int = 5,
    **verify_options: Any,
) -> Callable[..., list[float | None]]:
    """A TRL reward function backed by the verifier service (or in-process with url="local").

    Each completion's test comes from the dataset column `test_column`; a batch without it raises
    ValueError (naming the columns it got). `test_column=None` scores without tests.
    """
    target = url or default_url()
    client = None if target == LOCAL else VerifierClient(target, max_retries=max_retries)

    def score_group(codes: list[str], test: str | None) -> Scores:
        if client is None:
            return _local_scores(codes, test, verify_options)
        return batch_rewards(client.verify_batch(codes, test, **verify_options))

    def cppforge_verifier_reward(
        prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any
    ) -> list[float | None]:
        n = len(completions)
        codes = [candidate_code(p, c, prepend_prompt) for p, c in zip(prompts, completions, strict=True)]
        try:
            scores = _grouped(codes, _column(kwargs, test_column, n), score_group)
        except (VerifierUnavailableError, InfrastructureError):
            if on_infra_error == "none":
                return [None] * n
            raise
        return _settle(scores, on_infra_error)

    return cppforge_verifier_reward


def make_async_trl_reward_func(
    url: str | None = None,
    test_column: str | None = "test_code",
    prepend_prompt: bool | None = None,
    on_infra_error: OnError = "raise",
    max_retries: int = 5,
    **verify_options: Any,
) -> Callable[..., Awaitable[list[float | None]]]:
    """The async variant: TRL awaits async reward functions concurrently."""
    target = url or default_url()

    async def score_group(client: AsyncVerifierClient | None, codes: list[str], test: str | None) -> Scores:
        if client is None:
            return await asyncio.to_thread(_local_scores, codes, test, verify_options)
        return batch_rewards(await client.verify_batch(codes, test, **verify_options))

    async def cppforge_verifier_reward_async(
        prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any
    ) -> list[float | None]:
        n = len(completions)
        codes = [candidate_code(p, c, prepend_prompt) for p, c in zip(prompts, completions, strict=True)]
        tests = _column(kwargs, test_column, n)
        groups: dict[str | None, list[int]] = defaultdict(list)
        for i, t in enumerate(tests):
            groups[t].append(i)
        client = None if target == LOCAL else AsyncVerifierClient(target, max_retries=max_retries)
        try:
            scored = await asyncio.gather(*(score_group(client, [codes[i] for i in ix], t) for t, ix in groups.items()))
        except (VerifierUnavailableError, InfrastructureError):
            if on_infra_error == "none":
                return [None] * n
            raise
        finally:
            if client is not None:
                await client.aclose()
        out: Scores = [None] * n
        for (_, idxs), scores in zip(groups.items(), scored, strict=True):
            for i, s in zip(idxs, scores, strict=True):
                out[i] = s
        return _settle(out, on_infra_error)

    return cppforge_verifier_reward_async


_verl_client: VerifierClient | None = None


def _parse_ground_truth(ground_truth: Any) -> tuple[str | None, str | None]:
    """verl's ground_truth: the test code, or a JSON object / dict with test_code and prompt."""
    if isinstance(ground_truth, dict):
        return ground_truth.get("test_code"), ground_truth.get("prompt")
    if isinstance(ground_truth, str) and ground_truth.lstrip().startswith("{"):
        try:
            doc = json.loads(ground_truth)
        except json.JSONDecodeError:
            return ground_truth, None
        if isinstance(doc, dict):
            return doc.get("test_code"), doc.get("prompt")
    return (str(ground_truth) if ground_truth is not None else None), None


def compute_score(
    data_source: str, solution_str: str, ground_truth: Any, extra_info: dict[str, Any] | None = None
) -> dict[str, Any]:
    """verl custom reward: `custom_reward_function.path=services/verifier/adapters.py`, name compute_score.

    Raises VerifierUnavailableError/InfrastructureError when the verifier cannot judge: verl then
    fails loudly instead of training on a false 0.0.
    """
    global _verl_client
    test_code, prompt = _parse_ground_truth(ground_truth)
    if prompt is None and extra_info:
        prompt = extra_info.get("prompt") if isinstance(extra_info.get("prompt"), str) else None
    code = (prompt or "") + solution_str if prompt else extract_code(solution_str)
    target = default_url()
    if target == LOCAL:
        result = verify_cpp(code, test_code)
        reward = compute_reward(result)
        passed, total, compiled = result.tests_passed, result.tests_total, result.compile_ok
    else:
        if _verl_client is None:
            _verl_client = VerifierClient(target)
        answer = _verl_client.verify(code, test_code)
        if answer.reward is None:  # the service answers 503 instead; never read it as 0.0
            raise InfrastructureError(f"verification failed, no reward: {answer.infra_error}")
        reward = answer.reward
        passed, total, compiled = answer.tests_passed, answer.tests_total, answer.compile_ok
    return {
        "score": reward,
        "acc": passed / total if total else 0.0,
        "compile_ok": bool(compiled),
        "data_source": data_source,
    }
