"""API keys, tier caps and rate limits (pure logic; the HTTP mapping is tested in test_app.py)."""

from __future__ import annotations

import pytest

from services.inference.errors import BadRequestError
from services.inference.tiers import (
    TIERS,
    AuthError,
    Gatekeeper,
    RateLimitedError,
    TierLimitError,
    parse_api_keys,
    parse_rate_limits,
)


def test_parse_keys() -> None:
    keys = parse_api_keys("a:free, b:pro,c:dev")
    assert {k: t.name for k, t in keys.items()} == {"a": "free", "b": "pro", "c": "dev"}
    assert parse_api_keys(None) == {} and parse_api_keys("  ") == {}
    for bad in ("a", "a:gold", ":pro"):
        with pytest.raises(ValueError, match="CPPFORGE_API_KEYS"):
            parse_api_keys(bad)


def test_auth() -> None:
    gate = Gatekeeper(parse_api_keys("k1:free"))
    assert gate.authenticate("Bearer k1") == ("k1", TIERS["free"])
    for header in (None, "k1", "Bearer nope", "Basic k1"):
        with pytest.raises(AuthError):
            gate.authenticate(header)
    open_gate = Gatekeeper({}, open_tier="pro")
    assert open_gate.open and open_gate.authenticate(None)[1].name == "pro"


def test_tier_caps() -> None:
    gate = Gatekeeper(parse_api_keys("f:free,p:pro,d:dev"))
    assert gate.check_limits("p", gate.keys["p"], 1, 4) == 4
    assert gate.check_limits("d", gate.keys["d"], 2, None) == 2
    with pytest.raises(TierLimitError) as info:
        gate.check_limits("f", gate.keys["f"], 1, 2)
    assert info.value.param == "best_of" and "at most 1" in str(info.value)
    with pytest.raises(TierLimitError) as info:
        gate.check_limits("p", gate.keys["p"], 5, None)
    assert info.value.param == "n"
    with pytest.raises(BadRequestError, match="best_of"):  # an invalid request whatever the tier: 400
        gate.check_limits("p", gate.keys["p"], 3, 2)


def test_max_tokens_caps_per_tier() -> None:
    assert {name: t.max_tokens for name, t in TIERS.items()} == {"free": 256, "pro": 1024, "dev": 1024, "train": 2048}
    free, train = TIERS["free"], TIERS["train"]
    assert Gatekeeper.check_max_tokens(free, 256, default=128) == 256
    assert Gatekeeper.check_max_tokens(free, None, default=128) == 128
    assert Gatekeeper.check_max_tokens(free, None, default=2048) == 256  # a default is clipped, never refused
    assert Gatekeeper.check_max_tokens(train, None, default=2048) == 2048
    with pytest.raises(TierLimitError) as info:
        Gatekeeper.check_max_tokens(free, 257, default=128, param="max_completion_tokens")
    assert info.value.param == "max_completion_tokens" and "at most 256" in str(info.value)
    assert info.value.status == 403 and info.value.code == "tier_limit_exceeded"


def test_rate_limit_per_key() -> None:
    gate = Gatekeeper(parse_api_keys("a:free,b:free"), rate_limits=parse_rate_limits("free:2"))
    tier = gate.keys["a"]
    gate.check_limits("a", tier, 1, None)
    gate.check_limits("a", tier, 1, None)
    with pytest.raises(RateLimitedError) as info:
        gate.check_limits("a", tier, 1, None)
    assert info.value.retry_after_s >= 1
    gate.check_limits("b", gate.keys["b"], 1, None)  # another key has its own bucket
    with pytest.raises(ValueError, match="CPPFORGE_RATE_LIMITS"):
        parse_rate_limits("free:0")
