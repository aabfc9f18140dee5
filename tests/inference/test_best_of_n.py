"""best_of_n_generate: ranking, metrics, the proxy ranker and the dev-mode compile ranker's deadline."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI

from services.common.settings import VerifierServiceSettings
from services.inference.best_of_n import (
    COMPILE_REWARD,
    CandidateScore,
    CompileRanker,
    ProxyRanker,
    best_of_n_generate,
    rank,
)
from services.inference.proxy import ProxyClassifier
from services.lm.model import LoadedModel
from services.lm.prompts import encode_prompt
from services.lm.sampling import SamplingParams
from services.verifier.app import create_app
from services.verifier.core import reward
from services.verifier.core.verify import VerifyResult
from services.verifier.protocol import VerifyResponse
from tests.helpers.servers import serve

PROMPT = "#include <vector>\nusing namespace std;\n// return the largest element of v\nint largest(vector<int> v) {"


def ids(model: LoadedModel) -> list[int]:
    return encode_prompt(model.tokenizer, PROMPT)


def test_rank_by_reward_then_length() -> None:
    assert rank([0.3, 1.0, 0.3, 0.0], ["a", "bb", "ccc", "dddd"]) == [1, 2, 0, 3]
    assert rank([0.5, 0.5], ["xx", "xx"]) == [0, 1]


class FixedRanker:
    name = "fixed"

    def __init__(self, rewards: list[float]) -> None:
        self.rewards = rewards
        self.seen: list[str] = []

    def score(self, codes: list[str], deadline: float) -> list[CandidateScore]:
        self.seen = codes
        return [CandidateScore(r, verified=True, compile_ok=r > 0, ran=False) for r in self.rewards]


def test_best_is_the_highest_reward_and_metrics_are_complete(tiny_model: LoadedModel) -> None:
    ranker = FixedRanker([0.0, 0.3, 0.0, 0.1])
    params = SamplingParams(max_tokens=30, seed=11, stop=("\n}",))
    best, m = best_of_n_generate(tiny_model.model, ids(tiny_model), tiny_model.tokenizer, 4, params, ranker, PROMPT)
    assert m.best_index == 1 and best == m.candidates[1]
    assert m.rewards == [0.0, 0.3, 0.0, 0.1]
    assert m.compile_count == 2 and m.run_count == 0 and m.n == 4 and m.scorer == "fixed"
    assert m.order[0] == 1 and sorted(m.order) == [0, 1, 2, 3]
    assert set(m.timings) == {"generate_s", "score_s", "total_s"}
    # The ranker saw whole programs: prompt + candidate (+ the stop sequence that closed it).
    assert all(code.startswith(PROMPT) for code in ranker.seen)


def test_proxy_ranker_scales_probability_to_expected_reward(tiny_proxy_dir: Path) -> None:
    clf = ProxyClassifier.load(tiny_proxy_dir)
    good = "int f(int x) {\n    return x + 1;\n}\n"
    bad = "int f(int x) {\n    return x + 1\n"
    scores = ProxyRanker(clf.score_many).score([good, bad], deadline=time.monotonic() + 1)
    assert 0.0 <= scores[1].reward < scores[0].reward <= 0.3
    assert not scores[0].verified


@pytest.fixture(scope="module")
def verifier_url() -> Iterator[str]:
    settings = VerifierServiceSettings(redis_url="redis://127.0.0.1:6379/0", prebuild_pch=False)
    with serve(create_app(settings)) as url:
        yield url


def test_compile_ranker_verifies_for_real(verifier_url: str, tiny_proxy_dir: Path) -> None:
    clf = ProxyClassifier.load(tiny_proxy_dir)
    ranker = CompileRanker(verifier_url, ProxyRanker(clf.score_many))
    codes = ["int f(int x) {\n    return x + 1;\n}\n", "int f(int x) {\n    return y;\n}\n"]
    scores = ranker.score(codes, deadline=time.monotonic() + 20)
    assert [s.verified for s in scores] == [True, True]
    assert [s.compile_ok for s in scores] == [True, False]
    assert [s.reward for s in scores] == [pytest.approx(0.3), 0.0]


def slow_verifier_app(delay_s: float, fast_first: int = 0) -> FastAPI:
    """Answers after `delay_s`, except the first `fast_first` requests, answered at once."""
    app = FastAPI()
    calls = 0

    @app.post("/v1/verify")
    async def verify() -> dict[str, object]:
        import asyncio

        nonlocal calls
        calls += 1
        if calls > fast_first:
            await asyncio.sleep(delay_s)
        result = VerifyResult(compile_ok=True, warnings=0, warning_lines=[], run_ok=False, stdout="", stderr="",
                              returncode=None, tests_passed=0, tests_total=0)  # fmt: skip
        return VerifyResponse.from_result(result, reward=reward.COMPILED).model_dump(mode="json")

    return app


def test_dev_mode_deadline_falls_back_to_the_proxy(tiny_model: LoadedModel, tiny_proxy_dir: Path) -> None:
    clf = ProxyClassifier.load(tiny_proxy_dir)
    with serve(slow_verifier_app(delay_s=30)) as slow_url:
        ranker = CompileRanker(slow_url, ProxyRanker(clf.score_many))
        params = SamplingParams(max_tokens=30, seed=5, stop=("\n}",))
        started = time.monotonic()
        best, m = best_of_n_generate(
            tiny_model.model, ids(tiny_model), tiny_model.tokenizer, 4, params, ranker, PROMPT, budget_s=2.0
        )
        elapsed = time.monotonic() - started
    # Generation is the model's time; the ranking must end by the request's deadline, not the verifier's.
    assert m.timings["score_s"] < 2.0 + 1.0, m.timings
    assert elapsed < max(2.0, m.timings["generate_s"]) + 1.5, m.timings
    assert m.verified == [False] * 4
    assert m.compile_count == 0
    # Not one verdict: the order is the proxy's alone, and the metrics say so, and why.
    assert m.scorer == "proxy" and m.fallback == "verifier_deadline"
    expected = [
        p * 0.3 for p in clf.score_many([PROMPT + c + s for c, s in zip(m.candidates, m.stopped_by, strict=True)])
    ]
    assert m.rewards == pytest.approx(expected)
    assert best == m.candidates[m.best_index]


def test_a_deadline_hit_on_some_candidates_keeps_the_compile_label(
    tiny_model: LoadedModel, tiny_proxy_dir: Path
) -> None:
    clf = ProxyClassifier.load(tiny_proxy_dir)
    with serve(slow_verifier_app(delay_s=30, fast_first=1)) as url:
        ranker = CompileRanker(url, ProxyRanker(clf.score_many))
        params = SamplingParams(max_tokens=8, seed=5)
        _, m = best_of_n_generate(
            tiny_model.model, ids(tiny_model), tiny_model.tokenizer, 3, params, ranker, PROMPT, budget_s=1.5
        )
    assert sorted(m.verified) == [False, False, True]  # partial: which ones were compiled is per candidate
    assert m.scorer == "compile" and m.fallback is None


def test_a_verifier_known_down_is_not_called(tiny_proxy_dir: Path) -> None:
    clf = ProxyClassifier.load(tiny_proxy_dir)
    ranker = CompileRanker("http://127.0.0.1:1", ProxyRanker(clf.score_many), reachable=lambda: False)
    scores = ranker.score(["int f() { return 1; }\n"], deadline=time.monotonic() + 5)
    assert [(s.verified, s.unverified) for s in scores] == [(False, "verifier_unreachable")]


def test_proxy_expected_reward_uses_the_verifier_schedule() -> None:
    assert COMPILE_REWARD == reward.COMPILED
