"""httpx clients of the inference service, sync and async: what the trainer uses for rollouts.

Typed both ways: the calls take the sampling options by name and return the protocol's models
(CompletionResponse, ChatCompletionResponse, BestOfNResponse, ...). Retries on 429/503 honour
Retry-After (capped), like the verifier client (services/common/http.py); when the retries run
out, or the service cannot be reached, InferenceUnavailableError says so. A refused request
(400 invalid, 401 key, 403 tier or admin, 404 unknown model) is InferenceRequestError, a ValueError, at once.

Completions and chat always name a model, as OpenAI requires: the caller's, else the base model's id
(the service's default model), asked of GET /v1/models once per client.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from ..common.http import RetryPolicy
from ..common.settings import CppforgeSettings
from .errors import InferenceRequestError, InferenceUnavailableError
from .protocol import (
    AdapterList,
    AdapterResponse,
    BestOfNResponse,
    ChatCompletionResponse,
    CompletionResponse,
    ModelList,
)


def default_url() -> str:
    """CPPFORGE_INFERENCE_URL, read at each call."""
    return CppforgeSettings().inference_url


@dataclass(frozen=True)
class Sampling:
    """Sampling options of one call; None leaves a field to the server's default."""

    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    n: int | None = None
    best_of: int | None = None
    seed: int | None = None
    stop: Sequence[str] = ()

    def body(self) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "n": self.n,
            "best_of": self.best_of,
            "seed": self.seed,
        }
        body: dict[str, Any] = {k: v for k, v in fields.items() if v is not None}
        if self.stop:
            body["stop"] = list(self.stop)
        return body


def _completion_body(prompt: str, sampling: Sampling, model: str | None) -> dict[str, Any]:
    return {"prompt": prompt, **sampling.body(), **({"model": model} if model else {})}


def _chat_body(messages: Sequence[Mapping[str, str]], sampling: Sampling, model: str | None) -> dict[str, Any]:
    return {"messages": [dict(m) for m in messages], **sampling.body(), **({"model": model} if model else {})}


def _best_of_n_body(prompt: str, n: int, sampling: Sampling, model: str | None) -> dict[str, Any]:
    if sampling.n is not None or sampling.best_of is not None:
        raise ValueError("best_of_n takes the candidate count as `n`; leave Sampling.n and best_of unset")
    return {"prompt": prompt, "n": n, **sampling.body(), **({"model": model} if model else {})}


def _adapter_body(path: str, name: str, activate: bool, replace: bool) -> dict[str, Any]:
    return {"path": path, "name": name, "activate": activate, "replace": replace}


class _Base:
    def __init__(self, base_url: str | None, api_key: str | None, max_retries: int, max_retry_delay_s: float) -> None:
        self.policy = RetryPolicy(
            service="inference",
            base_url=(base_url or default_url()).rstrip("/"),
            max_retries=max_retries,
            max_retry_delay_s=max_retry_delay_s,
            unavailable=InferenceUnavailableError,
            refused=InferenceRequestError,
            invalid_status=400,
        )
        self.base_url = self.policy.base_url
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._base_model: str | None = None  # data[0] of GET /v1/models, asked once when a call names no model


class InferenceClient(_Base):
    def __init__(
        self,
        base_url: str | None = None,
        *,
        api_key: str | None = None,
        timeout_s: float = 300.0,
        max_retries: int = 5,
        max_retry_delay_s: float = 30.0,
    ) -> None:
        super().__init__(base_url, api_key, max_retries, max_retry_delay_s)
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout_s, headers=self.headers)

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        return self.policy.send(lambda: self._http.post(path, json=body))

    def _model(self, model: str | None) -> str:
        if model:
            return model
        if self._base_model is None:
            self._base_model = self.models().data[0].id
        return self._base_model

    def completions(
        self, prompt: str, sampling: Sampling | None = None, *, model: str | None = None
    ) -> CompletionResponse:
        """POST /v1/completions (OpenAI's shape; `cppforge` holds the ranking when best_of > 1).
        No `model`: the base model's id, which runs the service's default model."""
        answer = self._post("/v1/completions", _completion_body(prompt, sampling or Sampling(), self._model(model)))
        return CompletionResponse.model_validate(answer)

    def chat_completions(
        self, messages: Sequence[Mapping[str, str]], sampling: Sampling | None = None, *, model: str | None = None
    ) -> ChatCompletionResponse:
        body = _chat_body(messages, sampling or Sampling(), self._model(model))
        return ChatCompletionResponse.model_validate(self._post("/v1/chat/completions", body))

    def best_of_n(
        self, prompt: str, n: int = 4, sampling: Sampling | None = None, *, model: str | None = None
    ) -> BestOfNResponse:
        """POST /v1/best_of_n: n candidates, ranked by the caller's tier's scorer, with every metric."""
        return BestOfNResponse.model_validate(
            self._post("/v1/best_of_n", _best_of_n_body(prompt, n, sampling or Sampling(), model))
        )

    def load_adapter(
        self, path: str, name: str = "default", *, activate: bool = True, replace: bool = True
    ) -> AdapterResponse:
        """POST /v1/adapters: load the LoRA adapter at `path` (a path the server can read) as model `name`;
        a name already loaded gets the new weights unless `replace=False` (then a 400)."""
        body = _adapter_body(path, name, activate, replace)
        return AdapterResponse.model_validate(self._post("/v1/adapters", body))

    def load_registry_adapter(self, name: str, *, activate: bool = False) -> AdapterResponse:
        """POST /v1/adapters {"registry": name}: the registry's adapter `name`, under that name (the service
        checks its files and its base model; 404 unknown, 409 mismatch or corrupt: InferenceRequestError)."""
        body = {"registry": name, "activate": activate}
        return AdapterResponse.model_validate(self._post("/v1/adapters", body))

    def unload_adapter(self, name: str) -> AdapterList:
        """DELETE /v1/adapters/{name} (an admin key once the service has keys): `name` 404s from then on."""
        return AdapterList.model_validate(self.policy.send(lambda: self._http.delete(f"/v1/adapters/{name}")))

    def models(self) -> ModelList:
        """GET /v1/models: the base model, then every loaded adapter (`parent` = the base id)."""
        return ModelList.model_validate(self.policy.send(lambda: self._http.get("/v1/models")))

    def health(self) -> dict[str, Any]:
        data: dict[str, Any] = self.policy.send(lambda: self._http.get("/healthz"))
        return data

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> InferenceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncInferenceClient(_Base):
    def __init__(
        self,
        base_url: str | None = None,
        *,
        api_key: str | None = None,
        timeout_s: float = 300.0,
        max_retries: int = 5,
        max_retry_delay_s: float = 30.0,
        max_connections: int = 64,
    ) -> None:
        super().__init__(base_url, api_key, max_retries, max_retry_delay_s)
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout_s, headers=self.headers, limits=limits)

    async def _post(self, path: str, body: dict[str, Any]) -> Any:
        return await self.policy.send_async(lambda: self._http.post(path, json=body))

    async def _model(self, model: str | None) -> str:
        if model:
            return model
        if self._base_model is None:
            self._base_model = (await self.models()).data[0].id
        return self._base_model

    async def completions(
        self, prompt: str, sampling: Sampling | None = None, *, model: str | None = None
    ) -> CompletionResponse:
        body = _completion_body(prompt, sampling or Sampling(), await self._model(model))
        return CompletionResponse.model_validate(await self._post("/v1/completions", body))

    async def chat_completions(
        self, messages: Sequence[Mapping[str, str]], sampling: Sampling | None = None, *, model: str | None = None
    ) -> ChatCompletionResponse:
        body = _chat_body(messages, sampling or Sampling(), await self._model(model))
        return ChatCompletionResponse.model_validate(await self._post("/v1/chat/completions", body))

    async def best_of_n(
        self, prompt: str, n: int = 4, sampling: Sampling | None = None, *, model: str | None = None
    ) -> BestOfNResponse:
        answer = await self._post("/v1/best_of_n", _best_of_n_body(prompt, n, sampling or Sampling(), model))
        return BestOfNResponse.model_validate(answer)

    async def load_adapter(
        self, path: str, name: str = "default", *, activate: bool = True, replace: bool = True
    ) -> AdapterResponse:
        body = _adapter_body(path, name, activate, replace)
        return AdapterResponse.model_validate(await self._post("/v1/adapters", body))

    async def unload_adapter(self, name: str) -> AdapterList:
        answer = await self.policy.send_async(lambda: self._http.delete(f"/v1/adapters/{name}"))
        return AdapterList.model_validate(answer)

    async def models(self) -> ModelList:
        return ModelList.model_validate(await self.policy.send_async(lambda: self._http.get("/v1/models")))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncInferenceClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
