"""The inference service's errors, in OpenAI's vocabulary (`type`, `code`, `param`).

Each is a ServiceError, so app.py renders them all with one handler:
`{"error": {"message", "type", "param", "code"}}` plus Retry-After where one is set.
"""

from __future__ import annotations

from ..common.auth import AuthError
from ..common.errors import RequestRefusedError, ServiceError, UnavailableError

__all__ = [
    "AdapterConflictError",
    "AdapterInvalidError",
    "AdapterNotFoundError",
    "AdminKeyRequiredError",
    "AuthError",
    "BadRequestError",
    "InferenceError",
    "InferenceRequestError",
    "InferenceUnavailableError",
    "RateLimitedError",
    "RegistryUnavailableError",
    "TierLimitError",
]


class InferenceError(ServiceError):
    error_type = "invalid_request_error"  # OpenAI's `type`


class BadRequestError(InferenceError):
    """Options the service does not support (400)."""

    status = 400

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message, param=param)


class TierLimitError(InferenceError):
    """The request asks for more than the tier allows (403)."""

    status = 403
    code = "tier_limit_exceeded"

    def __init__(self, message: str, param: str) -> None:
        super().__init__(message, param=param)


class AdminKeyRequiredError(InferenceError):
    """Loading, activating or unloading adapters is an operator's action: it needs a key from
    CPPFORGE_ADMIN_KEYS whenever the service has keys at all (403)."""

    status = 403
    code = "admin_key_required"


class RateLimitedError(InferenceError):
    status = 429
    code = "rate_limit_exceeded"
    error_type = "rate_limit_exceeded"

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"rate limit reached; retry in {retry_after_s}s", retry_after_s=retry_after_s)


class InferenceUnavailableError(UnavailableError):
    """Client side: the inference service is down, overloaded past the retries, or failed (5xx)."""


class InferenceRequestError(RequestRefusedError):
    """Client side: the service refused the request (400/401/403/404); retrying will not help."""


class ModelNotFoundError(InferenceError):
    """The request's `model` is neither the base model nor a loaded adapter (404)."""

    status = 404
    code = "model_not_found"

    def __init__(self, model: str, available: list[str]) -> None:
        super().__init__(f"The model `{model}` does not exist; available: {', '.join(available)}", param="model")


class AdapterNotFoundError(InferenceError):
    """`/v1/adapters` named a registry adapter that the registry does not hold, or an unload named an
    adapter that is not loaded (404)."""

    status = 404
    code = "adapter_not_found"

    def __init__(self, message: str, param: str = "registry") -> None:
        super().__init__(message, param=param)


class AdapterInvalidError(BadRequestError):
    """No adapter loads from the request's `path` (whatever the reason: outside the adapter dirs, missing,
    unreadable, truncated weights, a malformed config; adapter_paths.unloadable says it the same way for
    all) or from a registry artifact's files (400 `adapter_invalid`); a name already loaded keeps its old
    weights."""

    code = "adapter_invalid"


class AdapterConflictError(InferenceError):
    """A registry adapter that cannot serve here (409): trained on another base model (`base_model_mismatch`),
    its files no longer match its manifest (`adapter_corrupt`), the served base's files changed on disk since
    they were loaded (`base_model_changed`); or a directory loaded under a registry name (`registry_name_taken`)."""

    status = 409

    def __init__(self, message: str, code: str, *, param: str = "registry") -> None:
        super().__init__(message, param=param)
        self.code = code


class RegistryUnavailableError(InferenceError):
    """The adapter registry could not be read (500 `registry_unreadable`): the server's files, not the request."""

    status = 500
    code = "registry_unreadable"
    error_type = "server_error"

    def __init__(self, message: str) -> None:
        super().__init__(message, param="registry")
