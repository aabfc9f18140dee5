"""n completions per problem: in-process with the shared sampler (`sample_batch`, several problems in one
batched decode), or through the inference service's OpenAI `/v1/completions`.

Seeds: candidate j of the problem at file position i is drawn with seed `seed + i * n + j` on both paths
(the service draws candidate m of a request with the request's seed + m, as `sample_n` does), so a
sample can be re-drawn alone and the two paths draw the same samples up to batching round-off.

Prompt boundary: a prompt that ends in a newline (HumanEval-X's `...{\\n`) is sampled without that
newline, because the tokenizer merges a newline with the indentation that follows it in every training
text, and a prompt cut after the bare newline puts the model off its distribution (DESIGN.md's pitfall:
it answers `}` at once). The model writes the newline itself; the completion is then reported relative
to the dataset's prompt (its leading newline removed), so prompt + completion is the program either way.
`trim_prompt_newline=False` samples the prompt exactly as published.
"""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ...tasks.problems import Problem

MAX_REQUEST_N = 16  # the inference protocol's cap on n


@dataclass(frozen=True)
class Completion:
    text: str  # continues the dataset's prompt
    stopped_by: str  # the stop sequence that ended it ("" for EOS or the token budget)
    seed: int


@dataclass(frozen=True, kw_only=True)
class SamplingSpec:
    n: int
    temperature: float
    top_p: float
    max_tokens: int
    seed: int
    trim_prompt_newline: bool = True

    def task_seed(self, position: int) -> int:
        """The seed of candidate 0 of the problem at `position` in the file."""
        return self.seed + position * self.n


def sampling_prompt(prompt: str, trim: bool) -> str:
    return prompt[:-1] if trim and prompt.endswith("\n") else prompt


def rebase(text: str, prompt: str, trim: bool) -> str:
    """A completion of `sampling_prompt(prompt)` as a completion of `prompt` itself."""
    if trim and prompt.endswith("\n") and text.startswith("\n"):
        return text[1:]
    return text  # (a completion that did not start a new line gets one more newline: whitespace in C++)


class Sampler(Protocol):
    tasks_per_call: int

    def sample(self, problems: Sequence[tuple[int, Problem]]) -> list[list[Completion]]:
        """n completions for each (file position, problem)."""
        ...

    def close(self) -> None: ...


class LocalSampler:
    """A local HF model dir (+ an optional PEFT adapter), sampled in-process in batches of problems."""

    def __init__(self, loaded: Any, spec: SamplingSpec, *, rows_per_batch: int = 32, threads: int = 1) -> None:
        import torch

        self.loaded = loaded  # a services.lm.model.LoadedModel
        self.spec = spec
        self.tasks_per_call = max(1, rows_per_batch // spec.n)
        # On CPU, torch threads compete with the verifier's g++ for the cores: one thread decoded 20 rows x 96
        # tokens in 1.7 s against 20 s on two, on a busy 2-core machine (the trainer's default is 1 too).
        self._threads_before: int | None = None
        if loaded.device.type == "cpu":
            self._threads_before = torch.get_num_threads()
            torch.set_num_threads(threads)

    def _budget(self, prompt_len: int) -> int:
        limit = getattr(getattr(self.loaded.model, "config", None), "max_position_embeddings", None)
        room = self.spec.max_tokens if limit is None else int(limit) - prompt_len
        return max(1, min(self.spec.max_tokens, room))

    def sample(self, problems: Sequence[tuple[int, Problem]]) -> list[list[Completion]]:
        from ...lm.prompts import encode_prompt
        from ...lm.sampling import SampleRequest, SamplingParams, sample_batch

        spec, tokenizer = self.spec, self.loaded.tokenizer
        requests = []
        for position, problem in problems:
            ids = encode_prompt(tokenizer, sampling_prompt(problem.prompt, spec.trim_prompt_newline))
            params = SamplingParams(max_tokens=self._budget(len(ids)), temperature=spec.temperature,
                                    top_p=spec.top_p, stop=problem.stop, seed=spec.task_seed(position))  # fmt: skip
            requests.append(SampleRequest(ids, spec.n, params))
        results = sample_batch(self.loaded.model, tokenizer, requests)
        return [
            [Completion(rebase(s.text, problem.prompt, spec.trim_prompt_newline), s.stopped_by, s.seed) for s in drawn]
            for (_, problem), (drawn, _stats) in zip(problems, results, strict=True)
        ]

    def close(self) -> None:
        if self._threads_before is not None:
            import torch

            torch.set_num_threads(self._threads_before)
            self._threads_before = None


def stop_of(choice: Any, stops: Sequence[str]) -> str:
    """The stop sequence that ended an OpenAI completion choice: vLLM's `stop_reason` when the server
    reports it; a server that does not (OpenAI's own) is taken at its word that a `stop` finish with one
    stop sequence was that sequence."""
    reason = getattr(choice, "stop_reason", None)
    if isinstance(reason, str) and reason:
        return reason
    if choice.finish_reason == "stop" and len(stops) == 1:
        return stops[0]
    return ""


class HttpSampler:
    """The inference service's `/v1/completions`: one request per problem (several in flight, so the
    service batches them), n split into requests the caller's tier allows (halved on a 403)."""

    def __init__(self, url: str, spec: SamplingSpec, *, model_name: str | None, api_key: str,
                 concurrency: int = 4) -> None:  # fmt: skip
        from ...inference.client import InferenceClient

        self.spec = spec
        self.model_name = model_name or None
        self.client = InferenceClient(url, api_key=api_key or None)
        self.tasks_per_call = concurrency
        self._per_request = min(spec.n, MAX_REQUEST_N)
        self._lock = threading.Lock()
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="eval-http")

    def _request(self, problem: Problem, first: int, count: int, seed: int) -> list[Completion]:
        from ...inference.client import Sampling

        spec = self.spec
        sampling = Sampling(max_tokens=spec.max_tokens, temperature=spec.temperature, top_p=spec.top_p, n=count,
                            seed=seed + first, stop=problem.stop)  # fmt: skip
        prompt = sampling_prompt(problem.prompt, spec.trim_prompt_newline)
        answer = self.client.completions(prompt, sampling, model=self.model_name)
        choices = sorted(answer.choices, key=lambda c: c.index)
        if len(choices) != count:
            raise ValueError(f"the inference service answered {len(choices)} choices for n={count}")
        trim = spec.trim_prompt_newline
        return [
            Completion(rebase(c.text, problem.prompt, trim), stop_of(c, problem.stop), seed + first + m)
            for m, c in enumerate(choices)
        ]

    def _one(self, position: int, problem: Problem) -> list[Completion]:
        from ...common.errors import RequestRefusedError

        seed = self.spec.task_seed(position)
        out: list[Completion] = []
        while len(out) < self.spec.n:
            with self._lock:
                count = min(self._per_request, self.spec.n - len(out))
            try:
                out += self._request(problem, len(out), count, seed)
            except RequestRefusedError as exc:
                if exc.status != 403 or count == 1:  # 403: more candidates than the caller's tier allows
                    raise
                with self._lock:
                    self._per_request = min(self._per_request, max(1, count // 2))
        return out

    def sample(self, problems: Sequence[tuple[int, Problem]]) -> list[list[Completion]]:
        futures = [self._pool.submit(self._one, position, problem) for position, problem in problems]
        return [f.result() for f in futures]

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.client.close()
