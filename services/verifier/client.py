"""httpx clients of the verifier service, sync and async.

One connection pool per client (reuse it), per-request timeouts, and retries on 429/503 that
honour Retry-After (capped), plus on connection errors. After the retries run out the error is
raised: an unreachable or overloaded verifier must never read as a failed program. A 5xx is
VerifierUnavailableError too; 413/422 (the request itself is wrong) is ValueError.

A batch answer's `rewards` holds None for an item the verifier failed on (its result carries
`infra_error`); `batch_rewards` reads them without ever turning one into a number.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Sequence
from typing import Any

import httpx

DEFAULT_URL = "http://127.0.0.1:8001"
RETRY_STATUSES = (429, 502, 503, 504)


class VerifierUnavailableError(RuntimeError):
    """The service could not answer (down, overloaded past the retries, or infrastructure error)."""


def default_url() -> str:
    return os.environ.get("CPPFORGE_VERIFIER_URL", DEFAULT_URL)


def _retry_delay(response: httpx.Response | None, attempt: int, max_delay_s: float) -> float:
    if response is not None:
        header = response.headers.get("Retry-After", "")
        if header.replace(".", "", 1).isdigit():
            return min(float(header), max_delay_s)
    return min(0.25 * (2**attempt), max_delay_s)


def _request_body(code: str, test_code: str | None, options: dict[str, Any]) -> dict[str, Any]:
    return {"code": code, "test_code": test_code, **options}


def _raise_for(response: httpx.Response) -> dict[str, Any]:
    if response.status_code in RETRY_STATUSES or response.status_code >= 500:
        raise VerifierUnavailableError(f"verifier answered {response.status_code}: {response.text[:300]}")
    if response.status_code in (413, 422):
        raise ValueError(f"verifier refused the request ({response.status_code}): {response.text[:500]}")
    response.raise_for_status()
    data: dict[str, Any] = response.json()
    return data


def batch_rewards(answer: dict[str, Any]) -> list[float | None]:
    """The rewards of a /v1/verify/batch answer; None where the verifier failed on that item."""
    return [None if r is None else float(r) for r in answer["rewards"]]


class _ClientSettings:
    """What the sync and async clients share: where, and how patiently."""

    def __init__(self, base_url: str | None, max_retries: int, max_retry_delay_s: float) -> None:
        self.base_url = (base_url or default_url()).rstrip("/")
        self.max_retries = max_retries
        self.max_retry_delay_s = max_retry_delay_s

    def _should_retry(self, response: httpx.Response, attempt: int) -> bool:
        return response.status_code in RETRY_STATUSES and attempt < self.max_retries

    def _unreachable(self, exc: httpx.TransportError) -> VerifierUnavailableError:
        return VerifierUnavailableError(f"verifier at {self.base_url} unreachable: {exc}")


class VerifierClient(_ClientSettings):
    def __init__(
        self,
        base_url: str | None = None,
        timeout_s: float = 120.0,
        max_retries: int = 5,
        max_retry_delay_s: float = 30.0,
    ) -> None:
        super().__init__(base_url, max_retries, max_retry_delay_s)
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout_s)

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        last: httpx.Response | None = None
        for attempt in range(self.max_retries + 1):
            try:
                last = self._http.post(path, json=body)
            except httpx.TransportError as exc:
                if attempt == self.max_retries:
                    raise self._unreachable(exc) from exc
                time.sleep(_retry_delay(None, attempt, self.max_retry_delay_s))
                continue
            if not self._should_retry(last, attempt):
                break
            time.sleep(_retry_delay(last, attempt, self.max_retry_delay_s))
        assert last is not None
        return _raise_for(last)

    def verify(self, code: str, test_code: str | None = None, **options: Any) -> dict[str, Any]:
        """POST /v1/verify; options: timeout, std, extra_flags, return_structured, strip_think."""
        return self._post("/v1/verify", _request_body(code, test_code, options))

    def verify_batch(self, completions: Sequence[str], test_code: str | None = None, **options: Any) -> dict[str, Any]:
        return self._post("/v1/verify/batch", {"completions": list(completions), "test_code": test_code, **options})

    def reward(self, code: str, test_code: str | None = None, **options: Any) -> dict[str, Any]:
        return self._post("/v1/reward", _request_body(code, test_code, options))

    def health(self) -> dict[str, Any]:
        data: dict[str, Any] = self._http.get("/healthz").json()
        return data

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> VerifierClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncVerifierClient(_ClientSettings):
    def __init__(
        self,
        base_url: str | None = None,
        timeout_s: float = 120.0,
        max_retries: int = 5,
        max_retry_delay_s: float = 30.0,
        max_connections: int = 64,
    ) -> None:
        super().__init__(base_url, max_retries, max_retry_delay_s)
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout_s, limits=limits)

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        last: httpx.Response | None = None
        for attempt in range(self.max_retries + 1):
            try:
                last = await self._http.post(path, json=body)
            except httpx.TransportError as exc:
                if attempt == self.max_retries:
                    raise self._unreachable(exc) from exc
                await asyncio.sleep(_retry_delay(None, attempt, self.max_retry_delay_s))
                continue
            if not self._should_retry(last, attempt):
                break
            await asyncio.sleep(_retry_delay(last, attempt, self.max_retry_delay_s))
        assert last is not None
        return _raise_for(last)

    async def verify(self, code: str, test_code: str | None = None, **options: Any) -> dict[str, Any]:
        return await self._post("/v1/verify", _request_body(code, test_code, options))

    async def verify_batch(
        self, completions: Sequence[str], test_code: str | None = None, **options: Any
    ) -> dict[str, Any]:
        return await self._post(
            "/v1/verify/batch", {"completions": list(completions), "test_code": test_code, **options}
        )

    async def reward(self, code: str, test_code: str | None = None, **options: Any) -> dict[str, Any]:
        return await self._post("/v1/reward", _request_body(code, test_code, options))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncVerifierClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
