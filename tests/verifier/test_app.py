"""The verifier service over real HTTP: real uvicorn, real Redis, real httpx."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from services.common.settings import VerifierServiceSettings
from services.verifier import pool as pool_module
from services.verifier.app import create_app
from services.verifier.client import AsyncVerifierClient, VerifierClient, VerifierUnavailableError
from services.verifier.pool import VerifyPool
from services.verifier.protocol import VerifyResponse
from services.verifier.service import VerifierService
from tests.helpers.http import error_message
from tests.helpers.servers import serve

REDIS = "redis://127.0.0.1:6379/0"
PROMPT = "#include <vector>\nusing namespace std;\nint total(vector<int> v) {\n"
GOOD = "    int s = 0;\n    for (int x : v) s += x;\n    return s;\n}\n"
BAD = "    return 0;\n}\n"
TEST = "#undef NDEBUG\n#include <assert.h>\nint main() {\n    assert(total({1, 2, 3}) == 6);\n}\n"
LOOP = "    while (true) {}\n}\n"


def settings(**kw: object) -> VerifierServiceSettings:
    base: dict[str, object] = {"redis_url": REDIS, "prebuild_pch": False}
    base.update(kw)
    return VerifierServiceSettings(**base)  # type: ignore[arg-type]


def unique(body: str) -> str:
    """A comment makes the code new to the cache (runs of the suite share one Redis)."""
    return f"// run {uuid.uuid4().hex}\n{body}"


def metric(text: str, name: str, labels: str = "") -> float:
    pattern = re.escape(name + (("{" + labels + "}") if labels else "")) + r" ([0-9.e+-]+)"
    m = re.search(pattern, text)
    return float(m.group(1)) if m else 0.0


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with serve(create_app(settings())) as base:
        yield base


def test_verify_cache_miss_then_hit(url: str) -> None:
    code = unique(PROMPT + GOOD)
    with httpx.Client(base_url=url, timeout=60) as http:
        first = http.post("/v1/verify", json={"code": code, "test_code": TEST})
        second = http.post("/v1/verify", json={"code": code, "test_code": TEST})
    assert first.status_code == second.status_code == 200
    a, b = first.json(), second.json()
    assert (a["tests_passed"], a["tests_total"], a["reward"]) == (1, 1, 1.0)
    assert a["cached"] is False and b["cached"] is True
    assert {k: v for k, v in a.items() if k not in ("cached",)} == {k: v for k, v in b.items() if k not in ("cached",)}


def test_think_blocks_share_the_cache_entry(url: str) -> None:
    code = unique(PROMPT + GOOD)
    with httpx.Client(base_url=url, timeout=60) as http:
        http.post("/v1/verify", json={"code": code, "test_code": TEST})
        thought = http.post("/v1/verify", json={"code": "<think>hmm</think>" + code, "test_code": TEST}).json()
    assert thought["cached"] is True and thought["reward"] == 1.0


def test_batch_keeps_order_and_dedupes(url: str) -> None:
    good, bad = unique(PROMPT + GOOD), unique(PROMPT + BAD)
    broken = unique(PROMPT + "    return v.nope();\n}\n")
    with httpx.Client(base_url=url, timeout=120) as http:
        before = http.get("/metrics").text
        r = http.post("/v1/verify/batch", json={"completions": [good, bad, good, broken, bad], "test_code": TEST})
        after = http.get("/metrics").text
    assert r.status_code == 200
    body = r.json()
    assert body["rewards"] == [1.0, 0.3, 1.0, 0.0, 0.3]
    assert [x["compile_ok"] for x in body["results"]] == [True, True, True, False, True]
    assert body["unique"] == 3
    dedup = "cppforge_verifier_deduplicated_total"
    assert metric(after, dedup) - metric(before, dedup) == 2
    misses = "cppforge_verifier_cache_misses_total"
    assert metric(after, misses) - metric(before, misses) == 3


def test_concurrent_identical_requests_verify_once(url: str) -> None:
    code = unique(PROMPT + GOOD)

    async def fire() -> list[VerifyResponse]:
        async with AsyncVerifierClient(url) as client:
            return list(await asyncio.gather(*(client.verify(code, TEST) for _ in range(4))))

    metrics_before = httpx.get(url + "/metrics").text
    answers = asyncio.run(fire())
    metrics_after = httpx.get(url + "/metrics").text
    assert all(a.reward == 1.0 for a in answers)
    count = "cppforge_verifier_compile_seconds_count"
    assert metric(metrics_after, count) - metric(metrics_before, count) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"code": "int main(){}", "extra_flags": ["-fplugin=/tmp/x.so"]}, "extra_flags"),
        ({"code": "int main(){}", "extra_flags": ["-I", "-O2"]}, "extra_flags"),
        ({"code": "int main(){}", "extra_flags": ["-Wno-cpp"]}, "extra_flags"),
        ({"code": "int main(){}", "std": "c++98"}, "std"),
        ({"code": "int main(){}", "timeout": -1}, "timeout"),
        ({"test_code": "int main(){}"}, "code"),
        ({"code": "int main(){}", "bogus": 1}, "bogus"),
        ({"completions": []}, "completions"),
    ],
)
def test_malformed_bodies_are_422_naming_the_field(url: str, body: dict[str, object], field: str) -> None:
    path = "/v1/verify/batch" if "completions" in body else "/v1/verify"
    r = httpx.post(url + path, json=body, timeout=30)
    assert r.status_code == 422
    locs = [err["loc"] for err in r.json()["detail"]]
    assert any(field in loc for loc in locs), locs
    if field == "extra_flags":
        assert repr(body["extra_flags"][0]) in r.json()["message"]  # type: ignore[index]


def test_not_json_is_422(url: str) -> None:
    r = httpx.post(url + "/v1/verify", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422


def test_reward_endpoint_reports_components(url: str) -> None:
    code = unique(PROMPT + GOOD)
    r = httpx.post(url + "/v1/reward", json={"code": code, "test_code": TEST, "seed": 3}, timeout=120)
    assert r.status_code == 200
    body = r.json()
    assert body["reward"] == 1.0
    comps = body["shaped"]["components"]
    assert set(comps) == {"compile", "run", "test", "warnings", "speed", "sanitizer", "tidy"}
    assert comps["compile"] == 0.3 and comps["test"] == 0.3
    assert body["shaped"]["total"] == pytest.approx(sum(comps.values()))


def test_health_ready_docs(url: str) -> None:
    health = httpx.get(url + "/healthz").json()
    assert health["status"] == "ok" and health["sandboxed"] is True and health["gxx_version"].startswith("g++")
    ready = httpx.get(url + "/readyz").json()
    assert ready["status"] == "ready" and ready["redis"] == "up"
    assert httpx.get(url + "/docs").status_code == 200
    spec = httpx.get(url + "/openapi.json").json()
    assert {"/v1/verify", "/v1/verify/batch", "/v1/reward"} <= set(spec["paths"])


def test_metrics_count_requests_and_classes(url: str) -> None:
    before = httpx.get(url + "/metrics").text
    httpx.post(url + "/v1/verify", json={"code": unique("int main() { return undefined_thing; }")}, timeout=60)
    after = httpx.get(url + "/metrics").text
    req = "cppforge_verifier_requests_total"
    labels = 'endpoint="/v1/verify",status="200"'
    assert metric(after, req, labels) == metric(before, req, labels) + 1
    cls = "cppforge_verifier_error_class_total"
    assert metric(after, cls, 'error_class="undeclared"') == metric(before, cls, 'error_class="undeclared"') + 1


def test_redis_down_still_verifies_uncached_and_readyz_degraded() -> None:
    with serve(create_app(settings(redis_url="redis://127.0.0.1:1/0"))) as base:
        code = unique(PROMPT + GOOD)
        a = httpx.post(base + "/v1/verify", json={"code": code, "test_code": TEST}, timeout=60)
        b = httpx.post(base + "/v1/verify", json={"code": code, "test_code": TEST}, timeout=60)
        ready = httpx.get(base + "/readyz")
    assert a.status_code == b.status_code == 200
    assert a.json()["reward"] == b.json()["reward"] == 1.0
    assert a.json()["cached"] is False and b.json()["cached"] is False
    assert ready.status_code == 200 and ready.json()["status"] == "degraded" and ready.json()["redis"] == "down"


def test_sizes_are_413() -> None:
    with serve(create_app(settings(max_source_bytes=4096, max_batch=3))) as base:
        big = "int x;\n" + "// " + "a" * 5000 + "\n"
        r = httpx.post(base + "/v1/verify", json={"code": big}, timeout=30)
        assert r.status_code == 413 and "code" in r.json()["detail"]
        r = httpx.post(base + "/v1/verify", json={"code": "int x;", "test_code": big}, timeout=30)
        assert r.status_code == 413 and "test_code" in r.json()["detail"]
        r = httpx.post(base + "/v1/verify/batch", json={"completions": ["int x;"] * 4}, timeout=30)
        assert r.status_code == 413 and "completions" in r.json()["detail"]
        # a count of items, with its limit and the setting that raises it (not "bytes")
        detail = r.json()["detail"]
        assert "4 items" in detail and "limit is 3 items" in detail and "CPPFORGE_MAX_BATCH" in detail
        assert "bytes" not in detail
        huge = b'{"code": "' + b"a" * (10 << 20) + b'"}'
        r = httpx.post(base + "/v1/verify", content=huge, headers={"content-type": "application/json"}, timeout=30)
        assert r.status_code == 413


def test_full_queue_is_429_with_retry_after_and_accepted_work_is_answered() -> None:
    with serve(create_app(settings(verifier_workers=1, verifier_max_queue=0))) as base:

        async def scenario() -> tuple[httpx.Response, httpx.Response]:
            async with httpx.AsyncClient(base_url=base, timeout=60) as http:
                slow = asyncio.create_task(
                    http.post("/v1/verify", json={"code": unique(PROMPT + LOOP), "test_code": TEST, "timeout": 3})
                )
                await asyncio.sleep(0.5)  # the slow job now holds the only slot
                rejected = await http.post("/v1/verify", json={"code": unique(PROMPT + GOOD), "test_code": TEST})
                return await slow, rejected

        slow, rejected = asyncio.run(scenario())
        assert rejected.status_code == 429
        assert int(rejected.headers["Retry-After"]) >= 1
        assert slow.status_code == 200 and slow.json()["error_class"] == "runtime_timeout"
        # The sync client honours Retry-After and gets through once the slot is free.
        with VerifierClient(base, max_retries=5, max_retry_delay_s=2) as client:
            assert client.verify(unique(PROMPT + GOOD), TEST).reward == 1.0
        metrics = httpx.get(base + "/metrics").text
        assert metric(metrics, "cppforge_verifier_rejected_total") >= 1


def test_deadline_exceeded_is_503_not_a_hang(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(VerifyPool, "deadline_s", lambda self, job: 1.5)
    with serve(create_app(settings(verifier_workers=1, verifier_max_queue=4))) as base:

        async def scenario() -> list[httpx.Response]:
            async with httpx.AsyncClient(base_url=base, timeout=60) as http:
                slow = asyncio.create_task(
                    http.post("/v1/verify", json={"code": unique(PROMPT + LOOP), "test_code": TEST, "timeout": 3})
                )
                await asyncio.sleep(0.5)  # the slow job holds the only worker; the next one queues
                queued = await http.post("/v1/verify", json={"code": unique(PROMPT + GOOD), "test_code": TEST})
                return [await slow, queued]

        responses = asyncio.run(scenario())
    assert all(r.status_code == 503 for r in responses), [r.status_code for r in responses]
    assert all("Retry-After" in r.headers for r in responses)


def test_client_raises_when_unreachable() -> None:
    with (
        VerifierClient("http://127.0.0.1:1", max_retries=1, max_retry_delay_s=0.05) as client,
        pytest.raises(VerifierUnavailableError),
    ):
        client.verify("int main(){}")


CODE = '"int main() { return 0; }"'
# Raw JSON text: a lone surrogate or a non-finite number where the field is (each was a 500).
BAD_VALUES = [
    ("/v1/verify", '{"code": "int main() {}\\ud800"}', "code"),
    ("/v1/verify", f'{{"code": {CODE}, "test_code": "\\udfff int x;"}}', "test_code"),
    ("/v1/verify", f'{{"code": {CODE}, "std": "c++17\\ud800"}}', "std"),
    ("/v1/verify", f'{{"code": {CODE}, "extra_flags": ["-O2", "-DX=\\ud800"]}}', "extra_flags"),
    ("/v1/verify", f'{{"code": {CODE}, "\\ud800": 1}}', "body"),  # an unknown key that is not text
    ("/v1/verify/batch", '{"completions": ["int x;", "\\udc00"]}', "completions"),
    ("/v1/reward", '{"code": "\\ud83d"}', "code"),
    ("/v1/verify", f'{{"code": {CODE}, "timeout": NaN}}', "timeout"),
    ("/v1/verify", f'{{"code": {CODE}, "timeout": Infinity}}', "timeout"),
    ("/v1/verify/batch", '{"completions": ["int x;"], "timeout": -Infinity}', "timeout"),
    ("/v1/reward", f'{{"code": {CODE}, "timeout": NaN}}', "timeout"),
    ("/v1/reward", f'{{"code": {CODE}, "sanitizer_fraction": NaN}}', "sanitizer_fraction"),
    ("/v1/reward", f'{{"code": {CODE}, "sanitizer_fraction": Infinity}}', "sanitizer_fraction"),
    ("/v1/reward", f'{{"code": {CODE}, "seed": -1}}', "seed"),
    ("/v1/reward", f'{{"code": {CODE}, "seed": {2**64}}}', "seed"),
    ("/v1/reward", f'{{"code": {CODE}, "seed": 1e400}}', "seed"),
]


@pytest.mark.parametrize(("path", "raw", "field"), BAD_VALUES)
def test_surrogates_and_non_finite_numbers_are_422_naming_the_field(url: str, path: str, raw: str, field: str) -> None:
    r = httpx.post(url + path, content=raw.encode(), headers={"content-type": "application/json"}, timeout=30)
    assert r.status_code == 422, r.text
    message = error_message(r)
    assert field in message
    assert any(field in json.dumps(issue["loc"]) for issue in r.json()["detail"])


def test_seed_in_range_is_accepted(url: str) -> None:
    body = {"code": unique(PROMPT + GOOD), "test_code": TEST, "seed": 2**64 - 1, "use_clang_tidy": False}
    r = httpx.post(url + "/v1/reward", json=body, timeout=120)
    assert r.status_code == 200 and r.json()["reward"] == 1.0


def test_errors_are_json_objects(url: str) -> None:
    assert httpx.get(url + "/v1/nope").status_code == 404
    error_message(httpx.get(url + "/v1/nope"))
    r = httpx.get(url + "/v1/verify")
    assert r.status_code == 405 and error_message(r)
    r = httpx.post(url + "/v1/verify", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and "JSON" in error_message(r)
    r = httpx.post(url + "/v1/verify", content=b"", headers={"content-type": "application/json"})
    assert r.status_code == 422 and error_message(r) == "body: Field required"


@pytest.fixture
def exploding_jobs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The pool's verify_cpp raises for code that mentions EXPLODE (a stand-in for any verifier
    bug, such as a marker the harness cannot parse); the calls it saw are recorded."""
    real = pool_module.verify_cpp
    calls: list[str] = []

    def flaky(code: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(code)
        if "EXPLODE" in code:
            raise RuntimeError("simulated verifier bug at /internal/path")
        return real(code, *args, **kwargs)

    monkeypatch.setattr(pool_module, "verify_cpp", flaky)
    return calls


def test_a_job_that_raises_fails_only_its_own_item(url: str, exploding_jobs: list[str]) -> None:
    good, bad = unique(PROMPT + GOOD), unique(PROMPT + BAD)
    boom = unique("// EXPLODE\n" + PROMPT + GOOD)
    with httpx.Client(base_url=url, timeout=120) as http:
        r = http.post("/v1/verify/batch", json={"completions": [good, boom, bad], "test_code": TEST})
        again = http.post("/v1/verify/batch", json={"completions": [boom], "test_code": TEST})
        single = http.post("/v1/verify", json={"code": boom, "test_code": TEST})
        reward = http.post("/v1/reward", json={"code": boom, "test_code": TEST})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["rewards"] == [1.0, None, pytest.approx(0.3)]
    failed = body["results"][1]
    assert failed["reward"] is None and failed["error_class"] == "sandbox_error"
    assert "RuntimeError" in failed["infra_error"] and "/internal/path" not in r.text
    assert body["results"][0]["infra_error"] is None and body["results"][0]["reward"] == 1.0
    # Never cached: the second batch runs it again.
    assert again.status_code == 200 and again.json()["rewards"] == [None]
    assert again.json()["results"][0]["cached"] is False
    assert sum(boom in c for c in exploding_jobs) == 4  # each request ran it again
    # Alone, the failure is a retryable 503 with a JSON message: never a 500 nor a 0.0.
    for answer in (single, reward):
        assert answer.status_code == 503 and "Retry-After" in answer.headers
        assert "RuntimeError" in error_message(answer)


def test_unexpected_exception_is_a_json_500_and_counted(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(self: VerifierService, jobs: object) -> object:
        raise KeyError("secret-internal-detail")

    monkeypatch.setattr(VerifierService, "verify_batch", broken)
    before = httpx.get(url + "/metrics").text
    r = httpx.post(url + "/v1/verify/batch", json={"completions": ["int x;"]}, timeout=30)
    after = httpx.get(url + "/metrics").text
    assert r.status_code == 500
    assert "KeyError" in error_message(r) and "secret-internal-detail" not in r.text
    labels = 'endpoint="/v1/verify/batch",status="500"'
    assert metric(after, "cppforge_verifier_requests_total", labels) == (
        metric(before, "cppforge_verifier_requests_total", labels) + 1
    )


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        line = next(x for x in f if x.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def test_chunked_body_over_the_limit_is_413_without_reading_it() -> None:
    """No Content-Length: the limit holds on the streamed bytes; the rest is never read."""
    chunk = b"a" * 65536
    total_chunks = 150 * 16  # 150 MiB, far over this server's ~208 KiB limit
    produced = 0

    def body() -> Iterator[bytes]:
        nonlocal produced
        yield b'{"code": "'
        for _ in range(total_chunks):
            produced += 1
            yield chunk
        yield b'"}'

    with serve(create_app(settings(max_source_bytes=4096, max_batch=3))) as base:
        rss_before = _rss_mb()  # the server runs in this process
        r = httpx.post(base + "/v1/verify", content=body(), headers={"content-type": "application/json"}, timeout=60)
        grown = _rss_mb() - rss_before
        assert r.status_code == 413
        assert "limit" in error_message(r)
        assert produced < total_chunks // 20, f"the server read {produced} of {total_chunks} chunks"
        assert grown < 50, f"RSS grew by {grown:.0f} MiB for a 150 MiB body"
        # A chunked body within the limit is still served whole.
        small = [b'{"code": "int main() { return 0; }', b'", "timeout": 5}']
        ok = httpx.post(base + "/v1/verify", content=iter(small), headers={"content-type": "application/json"})
        assert ok.status_code == 200 and ok.json()["run_ok"] is True


def test_shaped_rewards_are_bounded_like_the_pool() -> None:
    """Shaping (g++ and clang-tidy outside the pool) runs `workers` at a time with a bounded queue:
    beyond it, 429, never an unbounded pile of processes."""
    import asyncio

    from services.common.settings import VerifierServiceSettings
    from services.verifier.pool import QueueFullError, VerifyJob
    from services.verifier.service import VerifierService

    settings = VerifierServiceSettings(redis_url="", verifier_workers=1, verifier_max_queue=1, prebuild_pch=False)
    service = VerifierService(settings)
    job = VerifyJob(code="int f(int x) { int unused; return x; }\n")

    async def three_at_once() -> list[object]:
        calls = [
            service.reward(job, shaped=True, sanitizer_fraction=0.0, use_clang_tidy=False, seed=0) for _ in range(3)
        ]
        return await asyncio.gather(*calls, return_exceptions=True)

    try:
        outcomes = asyncio.run(three_at_once())
    finally:
        service.close()
    refused = [o for o in outcomes if isinstance(o, QueueFullError)]
    shaped = [o for o in outcomes if isinstance(o, tuple)]
    assert len(refused) == 1 and len(shaped) == 2, outcomes
    assert all(s[1] is not None and s[1].warnings >= 1 for s in shaped)
