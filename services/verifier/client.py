"""httpx clients of the verifier service, sync and async, returning the protocol's typed models.

One connection pool per client (reuse it), per-request timeouts, and retries on 429/503 that
honour Retry-After (capped), plus on connection errors (services/common/http.py). After the
retries run out the error is raised: an unreachable or overloaded verifier must never read as a
failed program. A 5xx is VerifierUnavailableError too; any other 4xx (the request itself is
wrong: 413, 422) is VerifierRequestError, a ValueError. Both are ServiceErrors carrying the status.

A batch answer's `rewards` holds None for an item the verifier failed on (its result carries
`infra_error`); `batch_rewards` reads them without ever turning one into a number.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from ..common.errors import RequestRefusedError, UnavailableError
from ..common.http import RetryPolicy
from ..common.settings import DEFAULT_VERIFIER_URL, CppforgeSettings
from .protocol import BatchResponse, RewardResponse, VerifyResponse

DEFAULT_URL = DEFAULT_VERIFIER_URL


class VerifierUnavailableError(UnavailableError):
    """The service could not answer (down, overloaded past the retries, or infrastructure error)."""


class VerifierRequestError(RequestRefusedError):
    """The service refused the request (413 too large, 422 malformed or a refused flag)."""


def default_url() -> str:
    """CPPFORGE_VERIFIER_URL, read at each call (not cached: a caller may change it between calls)."""
    return CppforgeSettings().verifier_url


def _request_body(code: str, test_code: str | None, options: dict[str, Any]) -> dict[str, Any]:
    return {"code": code, "test_code": test_code, **options}


def _batch_body(completions: Sequence[str], test_code: str | None, options: dict[str, Any]) -> dict[str, Any]:
    return {"completions": list(completions), "test_code": test_code, **options}


def batch_rewards(answer: BatchResponse) -> list[float | None]:
    """The rewards of a /v1/verify/batch answer; None where the verifier failed on that item."""
    return [None if r is None else float(r) for r in answer.rewards]


def _policy(base_url: str | None, max_retries: int, max_retry_delay_s: float) -> RetryPolicy:
    return RetryPolicy(
        service="verifier",
        base_url=(base_url or default_url()).rstrip("/"),
        max_retries=max_retries,
        max_retry_delay_s=max_retry_delay_s,
        unavailable=VerifierUnavailableError,
        refused=VerifierRequestError,
    )


class VerifierClient:
    def __init__(
        self,
        base_url: str | None = None,
        timeout_s: float = 120.0,
        max_retries: int = 5,
        max_retry_delay_s: float = 30.0,
    ) -> None:
        self.policy = _policy(base_url, max_retries, max_retry_delay_s)
        self.base_url = self.policy.base_url
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout_s)

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        return self.policy.send(lambda: self._http.post(path, json=body))

    def verify(self, code: str, test_code: str | None = None, **options: Any) -> VerifyResponse:
        """POST /v1/verify; options: timeout, std, extra_flags, return_structured, strip_think."""
        return VerifyResponse.model_validate(self._post("/v1/verify", _request_body(code, test_code, options)))

    def verify_batch(self, completions: Sequence[str], test_code: str | None = None, **options: Any) -> BatchResponse:
        answer = self._post("/v1/verify/batch", _batch_body(completions, test_code, options))
        return BatchResponse.model_validate(answer)

    def reward(self, code: str, test_code: str | None = None, **options: Any) -> RewardResponse:
        """POST /v1/reward; options also: shaped, sanitizer_fraction, use_clang_tidy, seed."""
        return RewardResponse.model_validate(self._post("/v1/reward", _request_body(code, test_code, options)))

    def health(self) -> dict[str, Any]:
        data: dict[str, Any] = self.policy.send(lambda: self._http.get("/healthz"))
        return data

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> VerifierClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncVerifierClient:
    def __init__(
        self,
        base_url: str | None = None,
        timeout_s: float = 120.0,
        max_retries: int = 5,
        max_retry_delay_s: float = 30.0,
        max_connections: int = 64,
    ) -> None:
        self.policy = _policy(base_url, max_retries, max_retry_delay_s)
        self.base_url = self.policy.base_url
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout_s, limits=limits)

    async def _post(self, path: str, body: dict[str, Any]) -> Any:
        return await self.policy.send_async(lambda: self._http.post(path, json=body))

    async def verify(self, code: str, test_code: str | None = None, **options: Any) -> VerifyResponse:
        answer = await self._post("/v1/verify", _request_body(code, test_code, options))
        return VerifyResponse.model_validate(answer)

    async def verify_batch(
        self, completions: Sequence[str], test_code: str | None = None, **options: Any
    ) -> BatchResponse:
        answer = await self._post("/v1/verify/batch", _batch_body(completions, test_code, options))
        return BatchResponse.model_validate(answer)

    async def reward(self, code: str, test_code: str | None = None, **options: Any) -> RewardResponse:
        answer = await self._post("/v1/reward", _request_body(code, test_code, options))
        return RewardResponse.model_validate(answer)

    async def health(self) -> dict[str, Any]:
        data: dict[str, Any] = await self.policy.send_async(lambda: self._http.get("/healthz"))
        return data

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncVerifierClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
