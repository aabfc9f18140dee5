"""API keys -> tiers -> what a request may ask for, and per-key rate limits.

`CPPFORGE_API_KEYS="key1:free,key2:pro,key3:dev"`, parsed and checked by services/common/auth.py
(shared with the trainer; its TIER_NAMES are the keys of TIERS). With no keys configured the
service runs open (local use on 127.0.0.1) and every caller gets the `open_tier` (dev by default),
which the service says at start-up. Per tier: candidates per request, requests per minute
(CPPFORGE_RATE_LIMITS), and the sequences and tokens its requests may have in flight
(CPPFORGE_MAX_SEQUENCES, CPPFORGE_MAX_QUEUED_TOKENS; enforced by admission.py).

Admin keys (`CPPFORGE_ADMIN_KEYS="k1,k2"`) may also change the served adapters (load, activate,
unload): once any key is configured that is an operator's action, refused to every other key. An
admin key that is not also in CPPFORGE_API_KEYS generates with the `train` tier (the trainer uses
one key for its rollouts and its adapter pushes).
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from dataclasses import dataclass
from typing import Literal

from ..common import auth
from .errors import AdminKeyRequiredError, AuthError, BadRequestError, RateLimitedError, TierLimitError

__all__ = [
    "AuthError", "Gatekeeper", "RateLimitedError", "Tier", "TierLimitError", "TierOverrides", "parse_admin_keys",
    "parse_api_keys", "parse_max_queued_tokens", "parse_max_sequences",
]  # fmt: skip

ScorerName = Literal["proxy", "compile"]


@dataclass(frozen=True)
class Tier:
    name: str
    max_candidates: int  # max(n, best_of)
    scorer: ScorerName
    requests_per_minute: int
    budget_s: float | None  # whole-request budget (dev: real compiles within 5 s)
    max_tokens: int  # completion tokens per candidate (the protocol's own cap, 2048, holds for every tier)
    # Admission (admission.py): candidate rows queued or decoding at once, and their tokens
    # (rows x (prompt + max_tokens)), over all of the tier's keys.
    max_sequences: int = 16
    max_queued_tokens: int = 16384


# Token pools: free fits one candidate of a 4k-context model; dev its 4 candidates of 4k; pro two such
# requests; train four GRPO groups of 16 at 4k each.
TIERS: dict[str, Tier] = {
    "free": Tier("free", max_candidates=1, scorer="proxy", requests_per_minute=20, budget_s=None, max_tokens=256,
                 max_sequences=4, max_queued_tokens=4096),
    "pro": Tier("pro", max_candidates=4, scorer="proxy", requests_per_minute=120, budget_s=None, max_tokens=1024,
                max_sequences=16, max_queued_tokens=32768),
    "dev": Tier("dev", max_candidates=4, scorer="compile", requests_per_minute=60, budget_s=5.0, max_tokens=1024,
                max_sequences=16, max_queued_tokens=16384),
    # The trainer's rollouts: a whole GRPO group per request (the protocol caps n at 16), many requests
    # a minute; candidates are returned, not picked, so the cheap proxy only orders them.
    "train": Tier("train", max_candidates=16, scorer="proxy", requests_per_minute=6000, budget_s=None, max_tokens=2048,
                  max_sequences=64, max_queued_tokens=262144),
}  # fmt: skip


def parse_api_keys(spec: str | None) -> dict[str, Tier]:
    """ "k1:free,k2:pro" -> {k1: free tier, ...}; raises ValueError on an unknown tier or empty key."""
    return {key: TIERS[name] for key, name in auth.parse_api_keys(spec, TIERS).items()}


def parse_admin_keys(spec: str | None) -> frozenset[str]:
    """ "k1,k2" -> {"k1", "k2"} (blanks skipped)."""
    return frozenset(k.strip() for k in (spec or "").split(",") if k.strip())


class TokenBucket:
    """requests_per_minute, refilled continuously; burst = one minute's worth."""

    def __init__(self, per_minute: int) -> None:
        self.rate = per_minute / 60.0
        self.capacity = float(per_minute)
        self.tokens = float(per_minute)
        self.updated = time.monotonic()

    def take(self) -> float:
        """0 when allowed, else seconds until a token is available."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


def parse_rate_limits(spec: str | None) -> dict[str, int]:
    """ "free:2,pro:60" -> requests per minute by tier name (services/common/auth.py parses and checks it)."""
    return auth.parse_rate_limits(spec, TIERS)


def parse_max_sequences(spec: str | None) -> dict[str, int]:
    """CPPFORGE_MAX_SEQUENCES "free:4,dev:16" -> sequences by tier name."""
    return auth.parse_tier_counts(spec, TIERS, env="CPPFORGE_MAX_SEQUENCES", unit="sequences")


def parse_max_queued_tokens(spec: str | None) -> dict[str, int]:
    """CPPFORGE_MAX_QUEUED_TOKENS "free:4096" -> tokens by tier name."""
    return auth.parse_tier_counts(spec, TIERS, env="CPPFORGE_MAX_QUEUED_TOKENS", unit="tokens")


@dataclass(frozen=True)
class TierOverrides:
    """Per-tier settings that replace a tier's defaults (by tier name)."""

    requests_per_minute: dict[str, int] = dataclasses.field(default_factory=dict)
    max_sequences: dict[str, int] = dataclasses.field(default_factory=dict)
    max_queued_tokens: dict[str, int] = dataclasses.field(default_factory=dict)

    def apply(self, tier: Tier) -> Tier:
        name = tier.name
        return dataclasses.replace(
            tier,
            requests_per_minute=self.requests_per_minute.get(name, tier.requests_per_minute),
            max_sequences=self.max_sequences.get(name, tier.max_sequences),
            max_queued_tokens=self.max_queued_tokens.get(name, tier.max_queued_tokens),
        )


class Gatekeeper:
    def __init__(
        self,
        keys: dict[str, Tier],
        open_tier: str = "dev",
        rate_limits: dict[str, int] | None = None,
        admin_keys: frozenset[str] = frozenset(),
        *,
        overrides: TierOverrides | None = None,
    ) -> None:
        """`rate_limits`: requests per minute by tier (kept for callers that set nothing else);
        `overrides`: every per-tier setting (its rates win over `rate_limits`)."""
        if open_tier not in TIERS:
            raise ValueError(f"unknown open tier {open_tier!r}")
        given = overrides or TierOverrides()
        rates = (rate_limits or {}) | given.requests_per_minute
        over = dataclasses.replace(given, requests_per_minute=rates)
        self.admin_keys = admin_keys
        # An admin key only there generates as the trainer does (tier train); an API key keeps its tier.
        admins = {k: over.apply(TIERS["train"]) for k in admin_keys}
        self.keys = admins | {k: over.apply(t) for k, t in keys.items()}
        self.open_tier = over.apply(TIERS[open_tier])
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def tiers_in_use(self) -> list[Tier]:
        """The tiers callers generate with (open: the open tier), with their overrides applied."""
        if self.open:
            return [self.open_tier]
        return list({t.name: t for t in self.keys.values()}.values())

    def keys_per_tier(self) -> dict[str, int]:
        """How many keys generate with each tier (open: one caller, the open tier)."""
        if self.open:
            return {self.open_tier.name: 1}
        counts: dict[str, int] = {}
        for tier in self.keys.values():
            counts[tier.name] = counts.get(tier.name, 0) + 1
        return counts

    @property
    def open(self) -> bool:
        return not self.keys

    def authenticate(self, authorization: str | None) -> tuple[str, Tier]:
        if self.open:
            return "open", self.open_tier
        key = auth.bearer_key(authorization, self.keys)
        return key, self.keys[key]

    def require_admin(self, key: str) -> None:
        """AdminKeyRequiredError unless `key` may change the served adapters (any caller of an open service)."""
        if self.open:
            return
        if not self.admin_keys:
            raise AdminKeyRequiredError(
                "changing adapters needs an admin key, and this service has none configured: "
                "set CPPFORGE_ADMIN_KEYS and use one of those keys"
            )
        if key not in self.admin_keys:
            raise AdminKeyRequiredError("changing adapters needs an admin key: use a key from CPPFORGE_ADMIN_KEYS")

    @staticmethod
    def check_max_tokens(tier: Tier, asked: int | None, *, default: int, param: str = "max_tokens") -> int:
        """Completion tokens per candidate: `asked` within the tier's cap, else TierLimitError naming `param`
        (the field the request used); nothing asked: `default`, clipped to the cap rather than refused."""
        if asked is None:
            return min(default, tier.max_tokens)
        if asked > tier.max_tokens:
            raise TierLimitError(
                f"the {tier.name} tier allows at most {tier.max_tokens} completion tokens per candidate; "
                f"{param} asked for {asked}",
                param,
            )
        return asked

    def check_limits(self, key: str, tier: Tier, n: int, best_of: int | None, *, param: str | None = None) -> int:
        """Candidates to generate for this request, or TierLimitError / RateLimitedError (naming `param`
        when given: the field that asked for the candidates)."""
        candidates = max(n, best_of or n)
        if best_of is not None and best_of < n:  # an invalid request (OpenAI: 400), whatever the tier
            raise BadRequestError(f"best_of ({best_of}) must be >= n ({n})", "best_of")
        if candidates > tier.max_candidates:
            param = param or ("best_of" if best_of is not None and best_of >= n else "n")
            raise TierLimitError(
                f"the {tier.name} tier allows at most {tier.max_candidates} "
                f"candidate{'s' if tier.max_candidates != 1 else ''} per request; "
                f"asked for {candidates}",
                param,
            )
        with self._lock:
            bucket = self._buckets.setdefault(key, TokenBucket(tier.requests_per_minute))
            wait = bucket.take()
        if wait > 0:
            raise RateLimitedError(max(1, math.ceil(wait)))
        return candidates
