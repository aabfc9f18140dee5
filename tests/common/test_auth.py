"""API keys shared by the services: one syntax, one Bearer check, one tier list."""

from __future__ import annotations

import pytest

from services.common.auth import TIER_NAMES, AuthError, bearer_key, parse_api_keys
from services.common.settings import TrainerServiceSettings
from services.inference.tiers import TIERS


def test_the_key_syntax_knows_the_inference_tiers() -> None:
    assert tuple(TIERS) == TIER_NAMES


def test_parse_and_check() -> None:
    keys = parse_api_keys(" a:free,b:dev ")
    assert keys == {"a": "free", "b": "dev"}
    assert bearer_key("Bearer a", keys) == "a" and bearer_key("bearer  b ", keys) == "b"
    for header in (None, "", "a", "Bearer ", "Bearer c", "Basic a"):
        with pytest.raises(AuthError) as err:
            bearer_key(header, keys)
        assert err.value.status == 401 and err.value.code == "invalid_api_key"
    for bad in ("a", "a:gold", ":pro", "a:free,,b:pro"):
        with pytest.raises(ValueError, match="CPPFORGE_API_KEYS"):
            parse_api_keys(bad)


def test_the_trainer_refuses_bad_keys_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CPPFORGE_API_KEYS", "k1:pro,k2")
    with pytest.raises(ValueError, match="k2"):
        TrainerServiceSettings()
    monkeypatch.setenv("CPPFORGE_API_KEYS", "k1:pro")
    assert parse_api_keys(TrainerServiceSettings().api_keys) == {"k1": "pro"}
