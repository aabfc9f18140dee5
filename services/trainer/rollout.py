"""Rollouts behind one interface: in-process batched sampling, or the inference service over HTTP.

`local` reuses the lm package's sampler (one generator per row, seed + i), on the live policy.
`http` is TRL's server mode in cppforge's shape: every `sync_every` steps the trainer saves its
adapter and loads it into the running inference service under one name per run (`/v1/adapters`
replaces the weights in place), then asks for completions under that name. The service's answer is
text; the trainer re-tokenizes it and recomputes the old log-probs itself with the weights it last
pushed (the `behaviour` adapter), so a lagging service is an importance-sampling correction.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ..lm.sampling import SamplingParams, sample_n
from .lora import BEHAVIOUR_ADAPTER, Policy, add_behaviour_adapter

log = logging.getLogger(__name__)


@dataclass
class Completion:
    token_ids: list[int]
    text: str  # as generated, without the stop sequence
    stopped_by: str  # the stop sequence that ended it ("" for EOS or length)
    finish_reason: str

    def program(self, prompt: str) -> str:
        return prompt + self.text + self.stopped_by


class RolloutBackend(Protocol):
    name: str
    behaviour_adapter: str | None  # whose weights old log-probs come from (None: the live policy)

    def generate(self, prompt: str, prompt_ids: Sequence[int], n: int, params: SamplingParams) -> list[Completion]: ...

    def sync(self, policy: Policy, step: int) -> None: ...

    def close(self) -> None: ...


class LocalRollouts:
    name = "local"
    behaviour_adapter: str | None = None

    def __init__(self, policy: Policy) -> None:
        self.policy = policy

    def generate(self, prompt: str, prompt_ids: Sequence[int], n: int, params: SamplingParams) -> list[Completion]:
        samples, _ = sample_n(self.policy.model, self.policy.tokenizer, prompt_ids, n, params)
        return [Completion(s.token_ids, s.text, s.stopped_by, s.finish_reason) for s in samples]

    def sync(self, policy: Policy, step: int) -> None:
        return None  # sampling uses the live policy

    def close(self) -> None:
        return None


class HttpRollouts:
    name = "http"

    def __init__(self, url: str, policy: Policy, run_name: str, sync_dir: Path, sync_every: int,
                 api_key: str | None = None) -> None:  # fmt: skip
        from ..inference.client import InferenceClient

        if not policy.lora:
            raise ValueError("http rollouts push a LoRA adapter to the inference service: use lora=true")
        self.client = InferenceClient(url, api_key=api_key or None)
        self.policy = policy
        self.adapter_name = run_name
        self.sync_dir = sync_dir
        self.sync_every = sync_every
        self.behaviour_adapter: str | None = BEHAVIOUR_ADAPTER
        self.last_sync_step: int | None = None
        self.sync_s = 0.0

    def sync(self, policy: Policy, step: int) -> None:
        """Push the adapter when due (and before the first rollout); snapshot it as the behaviour policy."""
        if self.last_sync_step is not None and step - self.last_sync_step < self.sync_every:
            return
        started = time.perf_counter()
        path = policy.save_adapter(self.sync_dir)
        self.client.load_adapter(str(path.resolve()), self.adapter_name, activate=False)
        add_behaviour_adapter(policy)
        self.last_sync_step = step
        self.sync_s += time.perf_counter() - started
        log.info("pushed the adapter of step %d to the inference service as %r", step, self.adapter_name)

    def generate(self, prompt: str, prompt_ids: Sequence[int], n: int, params: SamplingParams) -> list[Completion]:
        from ..inference.client import Sampling

        sampling = Sampling(max_tokens=params.max_tokens, temperature=params.temperature, top_p=params.top_p, n=n,
                            seed=params.seed, stop=params.stop)  # fmt: skip
        answer = self.client.completions(prompt, sampling, model=self.adapter_name)
        tokenizer = self.policy.tokenizer
        out: list[Completion] = []
        for choice in answer.choices:
            stopped_by = _stopped_by(choice)
            ids: list[int] = tokenizer(choice.text + stopped_by, add_special_tokens=False)["input_ids"]
            out.append(Completion(ids[: params.max_tokens], choice.text, stopped_by, choice.finish_reason))
        return out

    def close(self) -> None:
        self.client.close()


def _stopped_by(choice: Any) -> str:
    """vLLM's `stop_reason`: the stop string that ended the choice ("" for EOS or length): the program
    is prompt + text + that string, exactly as for local rollouts."""
    reason = getattr(choice, "stop_reason", None)
    return reason if isinstance(reason, str) else ""


def make_rollouts(
    inference_url: str, policy: Policy, *, run_name: str, sync_dir: Path, sync_every: int, api_key: str = ""
) -> RolloutBackend:
    if inference_url:
        return HttpRollouts(inference_url, policy, run_name, sync_dir, sync_every, api_key)
    return LocalRollouts(policy)
