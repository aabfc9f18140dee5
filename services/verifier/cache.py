"""Verification results cached in Redis, keyed by everything that decides the result.

Key = sha256(verifier version, compiler version, std, flags, timeout, code after think
stripping, test_code). Results that depend on machine load rather than on the code
(timeouts) or on our infrastructure (sandbox errors) are never cached: a busy moment must not
freeze a false failure into the cache.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from ..common.store import RedisStore
from .core.compile import compiler_version
from .core.diagnostics import ErrorClass
from .core.verify import VERIFIER_VERSION, VerifyResult

_UNCACHEABLE = {ErrorClass.RUNTIME_TIMEOUT, ErrorClass.TIMEOUT_COMPILE, ErrorClass.SANDBOX_ERROR}
KEY_PREFIX = "cppforge:verify:"


def cache_key(code: str, test_code: str | None, std: str, flags: Sequence[str], timeout: float) -> str:
    doc = [VERIFIER_VERSION, compiler_version(), std, list(flags), round(float(timeout), 3), code, test_code]
    digest = hashlib.sha256(json.dumps(doc, ensure_ascii=False).encode()).hexdigest()
    return KEY_PREFIX + digest


def cacheable(result: VerifyResult) -> bool:
    return result.infra_error is None and result.error_class not in _UNCACHEABLE


class ResultCache:
    def __init__(self, store: RedisStore, ttl_s: int) -> None:
        self.store = store
        self.ttl_s = ttl_s

    def get(self, key: str) -> VerifyResult | None:
        raw = self.store.get(key)
        if raw is None:
            return None
        try:
            result = VerifyResult.from_dict(json.loads(raw))
        except (ValueError, TypeError, KeyError):
            return None  # an entry from an incompatible version reads as a miss
        result.cached = True
        return result

    def put(self, key: str, result: VerifyResult) -> bool:
        if not cacheable(result):
            return False
        return self.store.set(key, json.dumps(result.to_dict()).encode(), self.ttl_s)
