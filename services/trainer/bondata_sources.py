"""Where bon-data's candidates come from: the shared in-process sampler, or the inference service.

Seeds: the candidates of the task at position j of a run are drawn with seeds `seed + j*n + i`
(i < n), distinct for every row of the run, so a prompt draws the same candidates whatever chunk
it falls in (in-process; the service's sampler uses the same per-row seeds).
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..lm.prompts import FUNCTION_STOP, encode_prompt
from ..lm.sampling import SampleRequest, SamplingParams, sample_batch
from ..tasks import Task
from .bondata import Generated
from .evalharness.samplers import stop_of


@dataclass(frozen=True, kw_only=True)
class DrawOptions:
    n: int
    temperature: float = 1.0
    top_p: float = 1.0
    max_tokens: int = 256
    seed: int = 0

    def params(self, index: int, room: int) -> SamplingParams:
        """The sampling params of the task at run position `index`, with `room` tokens of context left."""
        return SamplingParams(max_tokens=max(1, min(self.max_tokens, room)), temperature=self.temperature,
                              top_p=self.top_p, stop=(FUNCTION_STOP,), seed=self.seed + index * self.n)  # fmt: skip


class LocalSource:
    """One batched `sample_batch` decode per chunk of prompts (n rows each, one generator per row)."""

    name = "local"

    def __init__(self, model: Any, tokenizer: Any, options: DrawOptions) -> None:
        self.model, self.tokenizer, self.options = model, tokenizer, options
        limit = getattr(getattr(model, "config", None), "max_position_embeddings", None)
        self._context = int(limit) if limit else 1 << 30

    def generate(self, tasks: Sequence[Task], first_index: int) -> list[list[Generated]]:
        requests = []
        for j, task in enumerate(tasks, first_index):
            ids = encode_prompt(self.tokenizer, task.prompt)
            # SFT appends the newline after the closing brace and EOS: leave them room in the context.
            room = self._context - len(ids) - 2
            if room < 1:
                raise ValueError(f"{task.task_id}: the prompt ({len(ids)} tokens) fills the model's context")
            requests.append(SampleRequest(ids, self.options.n, self.options.params(j, room)))
        results = sample_batch(self.model, self.tokenizer, requests)
        return [[Generated(s.text, s.stopped_by) for s in samples] for samples, _ in results]

    def close(self) -> None:
        return None


class HttpSource:
    """`/v1/completions` with `n` per prompt, the prompts of a chunk in flight together (the service
    merges concurrent requests into one batched decode). The service must allow `n` candidates per
    request: a key of tier `train` (or `CPPFORGE_OPEN_TIER=train` for a local open service)."""

    name = "http"

    def __init__(self, url: str, options: DrawOptions, *, model_name: str = "", api_key: str = "",
                 workers: int = 4) -> None:  # fmt: skip
        from ..inference.client import InferenceClient

        self.client = InferenceClient(url, api_key=api_key or None)
        self.options = options
        self.model_name = model_name or None
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="bon-gen")

    def _one(self, task: Task, index: int) -> list[Generated]:
        from ..inference.client import Sampling

        p = self.options.params(index, 1 << 30)  # the service cuts the budget to its model's context
        sampling = Sampling(max_tokens=p.max_tokens, temperature=p.temperature, top_p=p.top_p, n=self.options.n,
                            seed=p.seed, stop=p.stop)  # fmt: skip
        answer = self.client.completions(task.prompt, sampling, model=self.model_name)
        if len(answer.choices) != self.options.n:
            raise ValueError(f"the inference service answered {len(answer.choices)} choices for n={self.options.n}")
        choices = sorted(answer.choices, key=lambda c: c.index)
        # vLLM's stop_reason names the stop string that ended a choice (None for EOS or length); a server
        # without it (OpenAI's own) is taken at its word that finish_reason "stop" was our one stop.
        return [Generated(c.text, stop_of(c, p.stop)) for c in choices]

    def generate(self, tasks: Sequence[Task], first_index: int) -> list[list[Generated]]:
        futures = [self._pool.submit(self._one, task, j) for j, task in enumerate(tasks, first_index)]
        return [f.result() for f in futures]

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self.client.close()
