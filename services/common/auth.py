"""API keys shared by the services: `CPPFORGE_API_KEYS="key1:free,key2:pro,key3:dev"`.

Every service reads the same variable the same way: a key maps to a tier name, and a request
carries its key as `Authorization: Bearer <key>`. With no keys set a service runs open (local use
on 127.0.0.1) and says so at start-up. What a tier allows is each service's business (inference:
candidates, rate limits and work in flight; the trainer: any valid key may submit jobs).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Collection, Mapping

from .errors import ServiceError

TIER_NAMES = ("free", "pro", "dev", "train")


class AuthError(ServiceError):
    """Unknown or missing API key (401), in OpenAI's vocabulary."""

    status = 401
    code = "invalid_api_key"
    error_type = "invalid_request_error"


def parse_api_keys(spec: str | None, tiers: Collection[str] = TIER_NAMES) -> dict[str, str]:
    """ "k1:free,k2:pro" -> {"k1": "free", ...}; ValueError on an unknown tier or an empty key."""
    keys: dict[str, str] = {}
    if not spec or not spec.strip():
        return keys
    for item in spec.split(","):
        key, sep, tier = item.strip().partition(":")
        if not sep or not key or tier not in tiers:
            raise ValueError(
                f"bad CPPFORGE_API_KEYS entry {item.strip()!r}: expected key:tier, tier in {sorted(tiers)}"
            )
        if key in keys:  # never echo the key: it is a secret
            raise ValueError(
                f"CPPFORGE_API_KEYS lists one key twice (entry {len(keys) + 1} repeats an earlier one): give each "
                "key once, with one tier"
            )
        keys[key] = tier
    return keys


def parse_rate_limits(spec: str | None, tiers: Collection[str] = TIER_NAMES) -> dict[str, int]:
    """ "free:2,pro:60" -> requests per minute by tier name; ValueError on a bad entry."""
    return parse_tier_counts(spec, tiers, env="CPPFORGE_RATE_LIMITS", unit="requests_per_minute")


def parse_tier_counts(spec: str | None, tiers: Collection[str] = TIER_NAMES, *, env: str, unit: str) -> dict[str, int]:
    """ "free:2,pro:60" -> a positive count by tier name (the per-tier overrides: CPPFORGE_RATE_LIMITS,
    CPPFORGE_MAX_SEQUENCES, CPPFORGE_MAX_QUEUED_TOKENS); ValueError naming `env` on a bad entry."""
    counts: dict[str, int] = {}
    for item in (spec or "").split(","):
        if not item.strip():
            continue
        name, _, value = item.strip().partition(":")
        value = value.strip()
        # isascii: str.isdigit() also accepts "²", which int() refuses
        if name not in tiers or not (value.isascii() and value.isdigit()) or int(value) < 1:
            raise ValueError(f"bad {env} entry {item.strip()!r}: expected tier:{unit}, tier in {sorted(tiers)}")
        if name in counts:  # two values for one tier: which was meant is anyone's guess
            raise ValueError(f"{env} gives the {name} tier twice; give each tier once")
        counts[name] = int(value)
    return counts


def bearer_key(authorization: str | None, known: Mapping[str, object]) -> str:
    """The key of an `Authorization: Bearer <key>` header that is in `known`, else AuthError."""
    if not authorization or not authorization.lower().startswith("bearer "):
        raise AuthError("missing API key: send `Authorization: Bearer <key>`")
    key = authorization[7:].strip()
    # Compare against every key in constant time: the answer's timing says nothing about near misses.
    matches = [k for k in known if hmac.compare_digest(k.encode(), key.encode())]
    if not matches:
        raise AuthError("invalid API key")
    return matches[0]


def warn_if_open(log: logging.Logger, service: str, keys: Mapping[str, object], detail: str = "") -> None:
    """The start-up line every service prints when it runs without keys."""
    if not keys:
        log.warning("no CPPFORGE_API_KEYS set: %s serving open (meant for local use)%s", service, detail)
