"""VerifierClient / AsyncVerifierClient return the protocol's typed models (real uvicorn, real g++)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest

from services.common.errors import ServiceError
from services.common.settings import VerifierServiceSettings
from services.verifier.app import create_app
from services.verifier.client import AsyncVerifierClient, VerifierClient, VerifierRequestError, batch_rewards
from services.verifier.core.diagnostics import ErrorClass
from services.verifier.protocol import BatchResponse, RewardResponse, VerifyResponse
from tests.helpers.servers import serve

TEST = "#undef NDEBUG\n#include <assert.h>\nint main() { assert(f(2) == 3); }\n"
GOOD = "int f(int x) { return x + 1; }\n"
UNDECLARED = "int f(int x) { return y; }\n"


def fresh(code: str) -> str:
    return f"// {uuid.uuid4().hex}\n{code}"


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    settings = VerifierServiceSettings(redis_url="", prebuild_pch=False)  # no cache: every answer is computed
    with serve(create_app(settings)) as base:
        yield base


def test_verify_is_typed_with_enum_and_diagnostics(url: str) -> None:
    with VerifierClient(url) as client:
        answer = client.verify(fresh(UNDECLARED), TEST, return_structured=True)
    assert isinstance(answer, VerifyResponse)
    assert answer.error_class is ErrorClass.UNDECLARED and answer.reward == 0.0
    assert any(d.severity == "error" and "'y'" in d.message for d in answer.diagnostics)
    assert answer.to_result().compile_ok is False


def test_batch_and_reward_are_typed(url: str) -> None:
    async def run() -> tuple[BatchResponse, RewardResponse]:
        async with AsyncVerifierClient(url) as client:
            batch = await client.verify_batch([fresh(GOOD), fresh(UNDECLARED)], TEST)
            reward = await client.reward(fresh(GOOD), TEST, shaped=True, use_clang_tidy=False, sanitizer_fraction=0.0)
            return batch, reward

    batch, reward = asyncio.run(run())
    assert batch_rewards(batch) == [1.0, 0.0] and batch.unique == 2
    assert [r.error_class for r in batch.results] == [ErrorClass.NONE, ErrorClass.UNDECLARED]
    assert reward.reward == 1.0 and reward.result.tests_passed == 1
    assert reward.shaped is not None and reward.shaped.total > 0


def test_refused_request_is_a_typed_value_error(url: str) -> None:
    with VerifierClient(url) as client, pytest.raises(VerifierRequestError) as info:
        client.verify(GOOD, extra_flags=["-fplugin=/tmp/x.so"])
    assert info.value.status == 422 and isinstance(info.value, ValueError) and isinstance(info.value, ServiceError)
    assert "extra_flags" in str(info.value)


def test_a_body_json_cannot_carry_is_a_typed_refusal(url: str) -> None:
    with VerifierClient(url, max_retries=0) as client:
        with pytest.raises(VerifierRequestError) as nan:
            client.verify(GOOD, TEST, timeout=float("nan"))
        with pytest.raises(VerifierRequestError) as surrogate:
            client.verify("int f(int x) { return x; } // \ud800\n", TEST)
    assert nan.value.status == 422 and surrogate.value.status == 422


def test_health_goes_through_the_retry_policy(url: str) -> None:
    from services.verifier.client import VerifierUnavailableError

    with VerifierClient(url) as client:
        assert client.health()["status"]
    with VerifierClient("http://127.0.0.1:9", max_retries=0) as dead, pytest.raises(VerifierUnavailableError):
        dead.health()

    async def both() -> None:
        async with AsyncVerifierClient(url) as client:
            assert (await client.health())["status"]

    asyncio.run(both())
