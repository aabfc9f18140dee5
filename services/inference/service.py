"""The inference service object (no FastAPI import): model, proxy, tiers, generation, metrics.

Generation runs in the GenerationBatcher's worker thread (one model, one decode at a time);
requests arriving while it is busy are merged into its next batch, and the N candidates of a
request always go through one batched decode. Scoring and ranking run in the caller's thread.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from ..common.auth import warn_if_open
from ..common.settings import InferenceSettings, get_verifier_settings
from ..lm.model import LoadedModel, load_adapter, load_model
from ..lm.prompts import encode_prompt
from ..lm.sampling import SampleRequest, SamplingParams
from .batcher import GenerationBatcher
from .best_of_n import BestOfNMetrics, CompileRanker, ProxyRanker, Ranker, rank_samples
from .tiers import Gatekeeper, Tier, parse_api_keys, parse_rate_limits

log = logging.getLogger(__name__)


def default_proxy_path() -> Path:
    return get_verifier_settings().home / "models" / "proxy"


@dataclass
class Generation:
    choices: list[tuple[str, str]]  # (text, finish_reason), best first
    metrics: BestOfNMetrics
    prompt_tokens: int
    completion_tokens: int


class InferenceMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("cppforge_inference_requests", "HTTP requests", ["endpoint", "status"], registry=r)
        self.candidates = Counter("cppforge_inference_candidates", "Candidates generated", ["scorer"], registry=r)
        self.verified = Counter("cppforge_inference_verified", "Candidates judged by the real verifier", registry=r)
        self.tokens = Counter("cppforge_inference_completion_tokens", "Completion tokens generated", registry=r)
        self.latency = Histogram(
            "cppforge_inference_request_seconds", "Generation + ranking time per request",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30), registry=r,
        )  # fmt: skip

    def render(self) -> bytes:
        return generate_latest(self.registry)


class InferenceService:
    def __init__(self, settings: InferenceSettings, loaded: LoadedModel | None = None) -> None:
        self.settings = settings
        self.gate = Gatekeeper(
            parse_api_keys(settings.api_keys), settings.open_tier, parse_rate_limits(settings.rate_limits)
        )
        self.metrics = InferenceMetrics()
        self.loaded = loaded
        self.proxy: Any = None
        self.adapters: list[str] = []
        self.batcher: GenerationBatcher | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def load(self) -> None:
        if self.loaded is None:
            path = self.settings.model
            if path is None:
                from ..lm.bootstrap import ensure_bootstrap_model

                path = str(ensure_bootstrap_model())
            self.loaded = load_model(path, dtype=self.settings.dtype, device=self.settings.device)
        self.batcher = GenerationBatcher(self.loaded.model, self.loaded.tokenizer)
        proxy_path = self.settings.proxy_path or default_proxy_path()
        if proxy_path.exists():
            from .proxy import ProxyClassifier

            self.proxy = ProxyClassifier.load(proxy_path)
        else:
            log.warning(
                "no proxy classifier at %s: best-of-N ranks by length only (run `cppforge train-proxy`)", proxy_path
            )
        warn_if_open(log, "inference", self.gate.keys, f" with the {self.gate.open_tier.name} tier")

    def close(self) -> None:
        if self.batcher is not None:
            self.batcher.close()

    @property
    def model_id(self) -> str:
        return self.settings.model_name

    # -- ranking ---------------------------------------------------------------------------
    def _proxy_ranker(self) -> ProxyRanker:
        if self.proxy is not None:
            return ProxyRanker(self.proxy.score_many)
        return ProxyRanker(lambda codes: [0.0] * len(codes))

    def ranker_for(self, tier: Tier) -> Ranker:
        if tier.scorer == "compile":
            return CompileRanker(self.settings.verifier_url, self._proxy_ranker())
        return self._proxy_ranker()

    # -- generation ------------------------------------------------------------------------
    def encode(self, prompt: str) -> list[int]:
        assert self.loaded is not None
        return encode_prompt(self.loaded.tokenizer, prompt)

    def chat_prompt(self, messages: list[dict[str, str]]) -> str:
        """The chat template when the tokenizer has one; else the last user message (a code prompt)."""
        assert self.loaded is not None
        tok = self.loaded.tokenizer
        if getattr(tok, "chat_template", None):
            text: str = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            return text
        users = [m["content"] for m in messages if m["role"] == "user"]
        return users[-1] if users else messages[-1]["content"]

    def generate_blocking(
        self, prompt: str, candidates: int, n_return: int, params: SamplingParams, tier: Tier
    ) -> Generation:
        assert self.loaded is not None and self.batcher is not None
        started = time.monotonic()
        ranker = self.ranker_for(tier) if candidates > 1 else None
        ids = self.encode(prompt)
        samples, stats = self.batcher.submit(SampleRequest(ids, candidates, params))
        _, metrics = rank_samples(samples, stats, prompt, ranker, started, tier.budget_s)
        chosen = metrics.order[:n_return]
        self.metrics.candidates.labels(metrics.scorer).inc(candidates)
        self.metrics.verified.inc(sum(metrics.verified))
        self.metrics.tokens.inc(metrics.completion_tokens)
        self.metrics.latency.observe(time.monotonic() - started)
        return Generation(
            choices=[(metrics.candidates[i], metrics.finish_reasons[i]) for i in chosen],
            metrics=metrics,
            prompt_tokens=len(ids),
            completion_tokens=metrics.completion_tokens,
        )

    async def generate(
        self, prompt: str, candidates: int, n_return: int, params: SamplingParams, tier: Tier
    ) -> Generation:
        return await asyncio.to_thread(self.generate_blocking, prompt, candidates, n_return, params, tier)

    # -- adapters --------------------------------------------------------------------------
    def load_adapter(self, path: str, name: str, activate: bool) -> list[str]:
        assert self.loaded is not None and self.batcher is not None
        with self.batcher.lock:
            load_adapter(self.loaded, path, name, activate=activate)
            self.batcher.model = self.loaded.model  # PEFT wraps the model on the first adapter
        if name not in self.adapters:
            self.adapters.append(name)
        return self.adapters

    # -- health ----------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        return {
            "status": "ok" if self.loaded is not None else "loading",
            "model": self.model_id,
            "model_path": str(self.loaded.path) if self.loaded else None,
            "device": str(self.loaded.device) if self.loaded else None,
            "proxy": self.proxy is not None,
            "adapters": self.adapters,
            "batches": self.batcher.batches if self.batcher else 0,
            "merged_requests": self.batcher.merged_requests if self.batcher else 0,
            "auth": "open" if self.gate.open else "api_keys",
        }


def completion_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:24]}"
