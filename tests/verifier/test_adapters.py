"""TRL and verl adapters: real GRPOTrainer reward call, real service, infrastructure errors."""

from __future__ import annotations

import asyncio
import json
import threading
import types
from collections.abc import Iterator
from typing import Any

import pytest

from services.common.settings import VerifierServiceSettings
from services.verifier.adapters import (
    candidate_code,
    compute_score,
    extract_code,
    make_async_trl_reward_func,
    make_trl_reward_func,
)
from services.verifier.app import create_app
from services.verifier.client import VerifierUnavailableError
from services.verifier.core.reward import InfrastructureError
from services.verifier.pool import infrastructure_failure
from tests.helpers.servers import serve

PROMPT = "#include <vector>\nusing namespace std;\nint total(vector<int> v) {\n"
TEST = "#undef NDEBUG\n#include <assert.h>\nint main() { assert(total({1, 2, 3}) == 6); }\n"
GOOD = "    int s = 0;\n    for (int x : v) s += x;\n    return s;\n}\n"
BAD = "    return 0;\n}\n"


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    settings = VerifierServiceSettings(redis_url="redis://127.0.0.1:6379/0", prebuild_pch=False)
    with serve(create_app(settings)) as base:
        yield base


def test_real_grpo_trainer_calls_our_reward_functions(url: str) -> None:
    """TRL's own GRPOTrainer._calculate_rewards, with sync and async reward functions over HTTP."""
    from accelerate import Accelerator
    from trl import GRPOConfig, GRPOTrainer

    args = GRPOConfig(output_dir="/tmp/cppforge-trl-test", report_to=[], use_cpu=True, bf16=False)
    accelerator = Accelerator(cpu=True)
    sync_func = make_trl_reward_func(url=url)
    async_func = make_async_trl_reward_func(url=url)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    trainer = types.SimpleNamespace(
        accelerator=accelerator, args=args, reward_funcs=[sync_func, async_func],
        reward_processing_classes=[None, None], reward_func_names=["sync", "async"],
        state=types.SimpleNamespace(global_step=0), _log_completion_extra=lambda *a, **k: None,
        _log_metric=lambda *a, **k: None, environments=None, async_loop=loop,
    )  # fmt: skip
    inputs = [{"prompt": PROMPT, "test_code": TEST}] * 3
    try:
        rewards = GRPOTrainer._calculate_rewards(trainer, inputs, [PROMPT] * 3, [GOOD, BAD, GOOD], [[1], [2], [3]])
    finally:
        loop.call_soon_threadsafe(loop.stop)
    assert rewards.tolist() == [[1.0, 1.0], [pytest.approx(0.3), pytest.approx(0.3)], [1.0, 1.0]]


def test_conversational_completions_use_the_fenced_code(url: str) -> None:
    func = make_trl_reward_func(url=url)
    program = "#include <vector>\nusing namespace std;\nint total(vector<int> v) {\n" + GOOD
    completion = [{"role": "assistant", "content": f"Here you go:\n```cpp\n{program}```\nDone."}]
    prompt = [{"role": "user", "content": "write total"}]
    assert func(prompts=[prompt], completions=[completion], test_code=[TEST]) == [1.0]


def test_helpers() -> None:
    assert extract_code("x\n```c++\nint a;\n```\ny") == "int a;\n"
    assert extract_code("int a;") == "int a;"
    assert candidate_code("int f() {\n", "return 1; }", None) == "int f() {\nreturn 1; }"


def test_infrastructure_errors_raise_or_become_none_never_zero() -> None:
    down = "http://127.0.0.1:1"
    func = make_trl_reward_func(url=down, max_retries=0)
    func_none = make_trl_reward_func(url=down, on_infra_error="none", max_retries=0)
    with pytest.raises(VerifierUnavailableError):
        func(prompts=[PROMPT], completions=[GOOD], test_code=[TEST])
    assert func_none(prompts=[PROMPT], completions=[GOOD], test_code=[TEST]) == [None]
    async_none = make_async_trl_reward_func(url=down, on_infra_error="none", max_retries=0)
    assert asyncio.run(async_none(prompts=[PROMPT], completions=[GOOD], test_code=[TEST])) == [None]


def test_verl_compute_score(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CPPFORGE_VERIFIER_URL", url)
    monkeypatch.setattr("services.verifier.adapters._verl_client", None)
    truth = json.dumps({"test_code": TEST, "prompt": PROMPT})
    good = compute_score("humaneval_cpp", GOOD, truth)
    bad = compute_score("humaneval_cpp", BAD, truth)
    assert good["score"] == 1.0 and good["acc"] == 1.0 and good["compile_ok"] is True
    assert bad["score"] == pytest.approx(0.3) and bad["acc"] == 0.0
    local = compute_score("humaneval_cpp", PROMPT + GOOD, TEST)
    assert local["score"] == 1.0


def test_verl_compute_score_local(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CPPFORGE_VERIFIER_URL", "local")
    assert compute_score("x", GOOD, {"test_code": TEST, "prompt": PROMPT})["score"] == 1.0


def test_verl_raises_when_verifier_down(monkeypatch: pytest.MonkeyPatch) -> None:
    from services.verifier import adapters
    from services.verifier.client import VerifierClient

    monkeypatch.setenv("CPPFORGE_VERIFIER_URL", "http://127.0.0.1:1")
    monkeypatch.setattr(adapters, "_verl_client", VerifierClient("http://127.0.0.1:1", max_retries=0))
    with pytest.raises(VerifierUnavailableError):
        compute_score("x", GOOD, TEST)


@pytest.fixture
def exploding_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    """The verifier fails (a bug of ours, not the candidate's) on code that mentions EXPLODE: in
    the service's pool it raises, in-process it gives an infrastructure-failure result."""
    from services.verifier import adapters, pool

    real_pool, real_local = pool.verify_cpp, adapters.verify_cpp

    def pool_verify(code: str, *args: Any, **kwargs: Any) -> Any:
        if "EXPLODE" in code:
            raise RuntimeError("simulated verifier bug")
        return real_pool(code, *args, **kwargs)

    def local_verify(code: str, *args: Any, **kwargs: Any) -> Any:
        if "EXPLODE" in code:
            return infrastructure_failure(RuntimeError("simulated verifier bug"))
        return real_local(code, *args, **kwargs)

    monkeypatch.setattr(pool, "verify_cpp", pool_verify)
    monkeypatch.setattr(adapters, "verify_cpp", local_verify)


@pytest.mark.parametrize("where", ["http", "local"])
def test_an_item_the_verifier_failed_on_is_none_or_raises_never_zero(
    url: str, where: str, exploding_jobs: None
) -> None:
    target = url if where == "http" else "local"
    completions = [GOOD, "// EXPLODE\n" + GOOD, BAD]
    kwargs = {"prompts": [PROMPT] * 3, "completions": completions, "test_code": [TEST] * 3}
    expected = [1.0, None, pytest.approx(0.3)]
    assert make_trl_reward_func(url=target, on_infra_error="none")(**kwargs) == expected
    assert asyncio.run(make_async_trl_reward_func(url=target, on_infra_error="none")(**kwargs)) == expected
    with pytest.raises(InfrastructureError, match="1 of 3"):
        make_trl_reward_func(url=target)(**kwargs)
    with pytest.raises(InfrastructureError, match="1 of 3"):
        asyncio.run(make_async_trl_reward_func(url=target)(**kwargs))


def test_a_server_error_is_unavailable_not_a_reward(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from services.verifier.service import VerifierService

    async def broken(self: VerifierService, jobs: object) -> object:
        raise KeyError("bug")

    monkeypatch.setattr(VerifierService, "verify_batch", broken)
    kwargs = {"prompts": [PROMPT] * 2, "completions": [GOOD, BAD], "test_code": [TEST] * 2}
    assert make_trl_reward_func(url=url, on_infra_error="none", max_retries=0)(**kwargs) == [None, None]
    with pytest.raises(VerifierUnavailableError, match="500"):
        make_trl_reward_func(url=url, max_retries=0)(**kwargs)


def test_a_dataset_without_the_test_column_is_an_error_not_a_silent_reward() -> None:
    """Without its tests a candidate would score 0.3 (compiles) or 0.0: refused, naming the column."""
    kwargs = {"prompts": [PROMPT], "completions": [GOOD], "tests": [TEST], "trainer_state": None}
    for func in (make_trl_reward_func(url="local"), make_async_trl_reward_func(url="local")):
        with pytest.raises(ValueError, match=r"'test_code'.*got the columns: tests, trainer_state"):
            result = func(**kwargs)
            if asyncio.iscoroutine(result):
                asyncio.run(result)
    # Another column name, or explicitly none (compile and run only), still works.
    assert make_trl_reward_func(url="local", test_column="tests")(**kwargs) == [1.0]
    no_tests = make_trl_reward_func(url="local", test_column=None)
    assert no_tests(prompts=[PROMPT], completions=[GOOD]) == [pytest.approx(0.3)]
