"""Retrying httpx calls shared by the service clients (verifier, inference).

Retries on 429/502/503/504 honour Retry-After (capped) and otherwise back off exponentially;
connection errors are retried too. After the retries run out the client raises an
`UnavailableError` subclass: an unreachable or overloaded service must never read as an answer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from .errors import RequestRefusedError, UnavailableError

RETRY_STATUSES = (429, 502, 503, 504)


def retry_delay(response: httpx.Response | None, attempt: int, max_delay_s: float) -> float:
    if response is not None:
        header = response.headers.get("Retry-After", "")
        if header.replace(".", "", 1).isdigit():
            return min(float(header), max_delay_s)
    return min(0.25 * (2**attempt), max_delay_s)


def _retry_after(response: httpx.Response) -> int | None:
    header = response.headers.get("Retry-After", "")
    return int(float(header)) if header.replace(".", "", 1).isdigit() else None


@dataclass(frozen=True)
class RetryPolicy:
    """Where, how patiently, and which error classes a client raises."""

    service: str  # "verifier", "inference": named in the messages
    base_url: str
    max_retries: int
    max_retry_delay_s: float
    unavailable: type[UnavailableError] = UnavailableError
    refused: type[RequestRefusedError] = RequestRefusedError
    invalid_status: int = 422  # what the service answers an invalid body with (OpenAI-shaped services: 400)

    def should_retry(self, response: httpx.Response, attempt: int) -> bool:
        return response.status_code in RETRY_STATUSES and attempt < self.max_retries

    def unreachable(self, exc: httpx.TransportError) -> UnavailableError:
        return self.unavailable(f"{self.service} at {self.base_url} unreachable: {exc}", status=503)

    def json_or_raise(self, response: httpx.Response) -> Any:
        status = response.status_code
        if status in RETRY_STATUSES or status >= 500:
            raise self.unavailable(
                f"{self.service} answered {status}: {response.text[:300]}",
                status=status,
                retry_after_s=_retry_after(response),
            )
        if status >= 400:
            raise self.refused(f"{self.service} refused the request ({status}): {response.text[:500]}", status=status)
        return response.json()

    def unsendable(self, exc: ValueError) -> RequestRefusedError:
        """A body JSON cannot carry (NaN, a lone surrogate): refused here with the status the server would answer."""
        return self.refused(f"{self.service}: the request cannot be sent as JSON: {exc}", status=self.invalid_status)

    def send(self, call: Callable[[], httpx.Response]) -> Any:
        last: httpx.Response | None = None
        for attempt in range(self.max_retries + 1):
            try:
                last = call()
            except ValueError as exc:  # UnicodeEncodeError included
                raise self.unsendable(exc) from exc
            except httpx.TransportError as exc:
                if attempt == self.max_retries:
                    raise self.unreachable(exc) from exc
                time.sleep(retry_delay(None, attempt, self.max_retry_delay_s))
                continue
            if not self.should_retry(last, attempt):
                break
            time.sleep(retry_delay(last, attempt, self.max_retry_delay_s))
        assert last is not None
        return self.json_or_raise(last)

    async def send_async(self, call: Callable[[], Awaitable[httpx.Response]]) -> Any:
        last: httpx.Response | None = None
        for attempt in range(self.max_retries + 1):
            try:
                last = await call()
            except ValueError as exc:
                raise self.unsendable(exc) from exc
            except httpx.TransportError as exc:
                if attempt == self.max_retries:
                    raise self.unreachable(exc) from exc
                await asyncio.sleep(retry_delay(None, attempt, self.max_retry_delay_s))
                continue
            if not self.should_retry(last, attempt):
                break
            await asyncio.sleep(retry_delay(last, attempt, self.max_retry_delay_s))
        assert last is not None
        return self.json_or_raise(last)
