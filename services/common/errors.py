"""One base class for every error a service answers with, and that its clients raise.

A `ServiceError` knows its HTTP status and, when the caller should come back later, its
Retry-After; each app registers one handler for the base that renders the body in the app's own
shape (the verifier's `{"detail": ...}`, inference's OpenAI `{"error": {...}}`). A client that
gets an error answer raises a subclass too, so callers catch one family on either side of the wire.
"""

from __future__ import annotations


class ServiceError(Exception):
    """An error with an HTTP meaning: `status`, optional `retry_after_s`, optional OpenAI-style code/param."""

    status: int = 500  # a class default; ClientError sets it per instance
    code: str | None = None
    error_type: str = "server_error"  # OpenAI's `type`, for the services that answer in that shape

    def __init__(self, message: str, *, retry_after_s: int | None = None, param: str | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
        self.param = param

    def headers(self) -> dict[str, str] | None:
        return {"Retry-After": str(self.retry_after_s)} if self.retry_after_s is not None else None


class ClientError(ServiceError):
    """Raised by a client from the answer it got; the status is per instance (the server's, or 503)."""

    def __init__(self, message: str, *, status: int, retry_after_s: int | None = None) -> None:
        super().__init__(message, retry_after_s=retry_after_s)
        self.status = status


class UnavailableError(ClientError, RuntimeError):
    """The service could not answer: unreachable, overloaded past the retries, or a 5xx."""


class RequestRefusedError(ClientError, ValueError):
    """The service refused the request itself (4xx other than 429): retrying will not help."""
