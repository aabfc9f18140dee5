"""Admission control (services/inference/admission.py): the controller alone (limits, the per-key share,
Retry-After, release once, threads), its settings, then over real HTTP against the tiny model: a full
tier answers 429 + Retry-After while another tier serves, a request larger than the pool is 403, and the
capacity comes back when held streams end, are left unread, or disconnect."""

from __future__ import annotations

import contextlib
import dataclasses
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from services.common.settings import InferenceSettings
from services.inference.admission import Admission, ConcurrencyLimitError
from services.inference.app import create_app
from services.inference.errors import TierLimitError
from services.inference.tiers import (
    TIERS,
    Gatekeeper,
    Tier,
    TierOverrides,
    parse_api_keys,
    parse_max_queued_tokens,
    parse_max_sequences,
)
from tests.helpers.servers import serve

ROOT = Path(__file__).resolve().parents[2]
BASE = "cppforge-bootstrap"
PROMPT = "int add(int a, int b) {"


def _tier(name: str = "pro", **limits: int) -> Tier:
    return dataclasses.replace(TIERS[name], **limits)  # type: ignore[arg-type]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


# -- the controller ---------------------------------------------------------------------------------


def test_sequences_and_tokens_are_bounded_per_tier() -> None:
    tier = _tier("free", max_sequences=4, max_queued_tokens=4096)
    admission = Admission([tier], {"free": 1})
    held = [admission.admit("k", tier, rows=1, tokens=100) for _ in range(4)]
    with pytest.raises(ConcurrencyLimitError) as refused:
        admission.admit("k", tier, rows=1, tokens=100)
    assert refused.value.status == 429 and refused.value.code == "concurrency_limit_exceeded"
    assert "4/4 sequences" in str(refused.value)
    held[0].release()
    held.append(admission.admit("k", tier, rows=1, tokens=3796))  # the token pool is now exactly full
    held[1].release()
    with pytest.raises(ConcurrencyLimitError, match="3/4 sequences, 3996/4096 tokens"):  # a free row, too few tokens
        admission.admit("k", tier, rows=1, tokens=101)
    use = admission.snapshot()["free"]
    assert (use.sequences, use.tokens, use.max_sequences, use.max_queued_tokens) == (3, 3996, 4, 4096)
    for ticket in held:
        ticket.release()
    assert (admission.snapshot()["free"].sequences, admission.snapshot()["free"].tokens) == (0, 0)


def test_a_request_larger_than_the_empty_pool_is_403_not_429() -> None:
    tier = _tier("pro", max_sequences=2, max_queued_tokens=1000)
    admission = Admission([tier], {"pro": 1})
    with pytest.raises(TierLimitError) as info:
        admission.admit("k", tier, rows=4, tokens=10, rows_param="best_of")
    assert (info.value.status, info.value.code, info.value.param) == (403, "tier_limit_exceeded", "best_of")
    assert "max_sequences" in str(info.value) and info.value.retry_after_s is None
    with pytest.raises(TierLimitError) as info:
        admission.admit("k", tier, rows=1, tokens=1001)
    assert info.value.param == "max_tokens" and "max_queued_tokens" in str(info.value)
    assert admission.snapshot()["pro"].sequences == 0  # a refusal holds nothing
    admission.admit("k", tier, rows=2, tokens=1000).release()  # the whole pool is admissible


def test_a_key_of_a_shared_tier_holds_at_most_its_share() -> None:
    tier = _tier("pro", max_sequences=16, max_queued_tokens=10_000)  # max_candidates 4: share 8 rows, 5000 tokens
    assert Admission.key_share(tier) == (8, 5000)
    admission = Admission([tier], {"pro": 2})
    a = [admission.admit("a", tier, rows=4, tokens=100) for _ in range(2)]
    with pytest.raises(ConcurrencyLimitError, match="this key holds its share"):
        admission.admit("a", tier, rows=1, tokens=100)
    b = [admission.admit("b", tier, rows=4, tokens=100) for _ in range(2)]  # the other key is not locked out
    with pytest.raises(ConcurrencyLimitError, match="tier is at its limit"):
        admission.admit("c", tier, rows=1, tokens=1)
    for ticket in a + b:
        ticket.release()
    # A key holding nothing is judged against the tier alone: one request may exceed the share...
    big = admission.admit("a", tier, rows=2, tokens=7000)
    with pytest.raises(ConcurrencyLimitError, match="this key holds its share"):  # ...but nothing more beside it
        admission.admit("a", tier, rows=1, tokens=10)
    admission.admit("b", tier, rows=1, tokens=3000).release()
    big.release()


def test_a_tier_with_one_key_may_use_the_whole_pool() -> None:
    tier = _tier("pro", max_sequences=16, max_queued_tokens=10_000)
    for admission in (Admission([tier], {"pro": 1}), Admission([tier], {})):
        held = [admission.admit("only", tier, rows=4, tokens=2000) for _ in range(4)]
        with pytest.raises(ConcurrencyLimitError, match="tier is at its limit"):
            admission.admit("only", tier, rows=1, tokens=1)
        for ticket in held:
            ticket.release()


def test_release_is_once_and_the_context_manager_releases_on_errors() -> None:
    tier = _tier("free", max_sequences=2, max_queued_tokens=100)
    admission = Admission([tier], {"free": 1})
    first = admission.admit("k", tier, rows=1, tokens=50)
    second = admission.admit("k", tier, rows=1, tokens=50)
    first.release()
    first.release()  # a second release must not free `second`'s hold
    assert (admission.snapshot()["free"].sequences, admission.snapshot()["free"].tokens) == (1, 50)
    with pytest.raises(ConcurrencyLimitError):
        admission.admit("k", tier, rows=2, tokens=10)
    with pytest.raises(RuntimeError), admission.admit("k", tier, rows=1, tokens=50) as third:
        assert not third.released
        raise RuntimeError("the generation failed")
    assert third.released and admission.snapshot()["free"].sequences == 1
    second.release()
    assert admission.snapshot()["free"].sequences == 0


def test_retry_after_is_the_typical_hold_less_the_oldest_age() -> None:
    clock = Clock()
    tier = _tier("free", max_sequences=1, max_queued_tokens=100)
    admission = Admission([tier], {"free": 1}, clock=clock)
    ticket = admission.admit("k", tier, rows=1, tokens=1)
    with pytest.raises(ConcurrencyLimitError) as refused:
        admission.admit("k", tier, rows=1, tokens=1)
    assert refused.value.retry_after_s == 1  # nothing released yet: 1 s
    assert refused.value.headers() == {"Retry-After": "1"} and str(refused.value).endswith("retry in 1s")
    clock.now += 10.0
    ticket.release()  # held 10 s: the first hold time is the estimate
    ticket = admission.admit("k", tier, rows=1, tokens=1)
    clock.now += 3.0
    with pytest.raises(ConcurrencyLimitError) as refused:
        admission.admit("k", tier, rows=1, tokens=1)
    assert refused.value.retry_after_s == 7  # ceil(10 - 3)
    clock.now += 20.0  # overdue: come back soon
    with pytest.raises(ConcurrencyLimitError) as refused:
        admission.admit("k", tier, rows=1, tokens=1)
    assert refused.value.retry_after_s == 1
    clock.now += 1000.0
    ticket.release()  # held 1023 s: the average jumps, Retry-After stays within a minute
    ticket = admission.admit("k", tier, rows=1, tokens=1)
    with pytest.raises(ConcurrencyLimitError) as refused:
        admission.admit("k", tier, rows=1, tokens=1)
    assert refused.value.retry_after_s == 60


def test_threads_never_overshoot_and_every_hold_comes_back() -> None:
    tier = _tier("pro", max_sequences=8, max_queued_tokens=800)
    admission = Admission([tier], {"pro": 4})
    share_rows, share_tokens = Admission.key_share(tier)
    seen: list[tuple[int, int]] = []
    admitted = [0]
    lock = threading.Lock()

    def worker(key: str, seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(400):
            try:
                ticket = admission.admit(key, tier, rows=rng.randint(1, 4), tokens=rng.randint(1, 300))
            except ConcurrencyLimitError:
                continue
            use = admission.snapshot()["pro"]
            with lock:
                seen.append((use.sequences, use.tokens))
                admitted[0] += 1
            # release from two threads at once: exactly one of them gives the hold back
            other = threading.Thread(target=ticket.release)
            other.start()
            ticket.release()
            other.join()

    threads = [threading.Thread(target=worker, args=(f"k{i % 4}", i)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert admitted[0] > 100  # the workers got through, not just refused
    assert all(rows <= 8 and tokens <= 800 for rows, tokens in seen), max(seen)
    assert (admission.snapshot()["pro"].sequences, admission.snapshot()["pro"].tokens) == (0, 0)
    assert share_rows == 4 and share_tokens == 400


# -- settings -----------------------------------------------------------------------------------


def test_limits_are_overridable_per_tier() -> None:
    overrides = TierOverrides(max_sequences=parse_max_sequences("free:2, dev:9"),
                              max_queued_tokens=parse_max_queued_tokens("free:300"))  # fmt: skip
    gate = Gatekeeper(parse_api_keys("f:free,g:free,d:dev,p:pro"), overrides=overrides)
    free, dev, pro = gate.keys["f"], gate.keys["d"], gate.keys["p"]
    assert (free.max_sequences, free.max_queued_tokens) == (2, 300)
    assert (dev.max_sequences, dev.max_queued_tokens) == (9, TIERS["dev"].max_queued_tokens)
    assert (pro.max_sequences, pro.max_queued_tokens) == (16, 32768)
    assert gate.keys_per_tier() == {"free": 2, "dev": 1, "pro": 1}
    assert Gatekeeper({}, open_tier="pro").keys_per_tier() == {"pro": 1}
    assert {(t.name, t.max_sequences, t.max_queued_tokens) for t in TIERS.values()} == {
        ("free", 4, 4096), ("pro", 16, 32768), ("dev", 16, 16384), ("train", 64, 262144),
    }  # fmt: skip


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("max_sequences", "free:0", "bad CPPFORGE_MAX_SEQUENCES entry 'free:0': expected tier:sequences"),
        ("max_sequences", "gold:3", "bad CPPFORGE_MAX_SEQUENCES entry 'gold:3'"),
        ("max_sequences", "free:2,free:3", "CPPFORGE_MAX_SEQUENCES gives the free tier twice"),
        ("max_queued_tokens", "free:lots", "bad CPPFORGE_MAX_QUEUED_TOKENS entry 'free:lots': expected tier:tokens"),
        ("max_queued_tokens", "free:²", "bad CPPFORGE_MAX_QUEUED_TOKENS entry"),
    ],
)
def test_bad_limits_are_refused_naming_the_variable(field: str, value: str, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        InferenceSettings(**{field: value})  # type: ignore[arg-type]


def test_serve_with_a_bad_limit_is_one_line_exit_2(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "CPPFORGE_HOME": str(tmp_path / "home"),
           "CPPFORGE_MAX_SEQUENCES": "free:4,dev:none"}  # fmt: skip
    out = subprocess.run([sys.executable, "-m", "services.cli", "serve", "inference"], capture_output=True,
                         text=True, cwd=tmp_path, env=env, timeout=120)  # fmt: skip
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    assert lines[0].startswith("cppforge: error: bad inference settings: ")
    assert "bad CPPFORGE_MAX_SEQUENCES entry 'dev:none'" in lines[0]


# -- over HTTP ------------------------------------------------------------------------------------

KEYS = "f1:free,f2:free,f3:free,p1:pro,d1:dev"


@pytest.fixture(scope="module")
def app_url(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str]]:
    settings = InferenceSettings(
        model=str(tiny_model_dir), proxy_path=tmp_path_factory.mktemp("admission") / "no-proxy", api_keys=KEYS,
        rate_limits="free:6000,pro:6000,dev:6000", max_sequences="free:2,pro:2", max_queued_tokens="free:300,pro:200",
        max_tokens_default=16, verifier_url="http://127.0.0.1:1",
    )  # fmt: skip
    app = create_app(settings)
    with serve(app) as url:
        yield app, url


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _post(url: str, key: str, path: str = "/v1/completions", **body: Any) -> httpx.Response:
    prompt = {} if "messages" in body else {"prompt": PROMPT}
    return httpx.post(url + path, json={"model": BASE, **prompt, **body}, headers=_auth(key), timeout=60)


@contextlib.contextmanager
def _held_stream(url: str, key: str, **body: Any) -> Iterator[httpx.Response]:
    """A streamed completion whose events are never read (the headers only); closing it disconnects."""
    ask = {"model": BASE, "prompt": PROMPT, "stream": True, **body}
    with httpx.stream("POST", url + "/v1/completions", json=ask, headers=_auth(key), timeout=60) as r:
        assert r.status_code == 200, r.read()
        yield r


def _opened_and_closed(url: str, key: str, **body: Any) -> httpx.Response:
    """A streamed completion that is disconnected as soon as its status is known."""
    ask = {"model": BASE, "prompt": PROMPT, "stream": True, "max_tokens": 4, **body}
    with httpx.stream("POST", url + "/v1/completions", json=ask, headers=_auth(key), timeout=60) as r:
        if r.status_code != 200:
            r.read()
        return r


def _refused(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.read()
    error: dict[str, Any] = r.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return error


def _concurrency_429(r: httpx.Response) -> dict[str, Any]:
    error = _refused(r, 429)
    assert (error["code"], error["type"]) == ("concurrency_limit_exceeded", "rate_limit_exceeded")
    retry = r.headers["Retry-After"]
    assert retry.isdigit() and int(retry) >= 1 and error["message"].endswith(f"retry in {retry}s")
    return error


def _until_admitted(send: Callable[[], httpx.Response], within_s: float = 60.0) -> httpx.Response:
    """Retry a 429 until it is admitted: the capacity must come back (bounded wait)."""
    deadline = time.monotonic() + within_s
    while (r := send()).status_code == 429:
        assert time.monotonic() < deadline, f"never admitted again: {r.text}"
        time.sleep(0.05)
    return r


def _in_flight(url: str, tier: str) -> tuple[float, float]:
    """(sequences, tokens) of `tier` as /metrics shows them."""
    values = {}
    for line in httpx.get(url + "/metrics").text.splitlines():
        for name in ("sequences", "tokens"):
            if line.startswith(f'cppforge_inference_inflight_{name}{{tier="{tier}"}}'):
                values[name] = float(line.split()[-1])
    return values["sequences"], values["tokens"]


def _drained(url: str, tier: str, within_s: float = 60.0) -> None:
    deadline = time.monotonic() + within_s
    while _in_flight(url, tier) != (0.0, 0.0):
        assert time.monotonic() < deadline, f"{tier} still holds {_in_flight(url, tier)}"
        time.sleep(0.05)


def test_a_full_tier_is_429_while_another_tier_serves(app_url: tuple[Any, str]) -> None:
    app, url = app_url
    service = app.state.service
    client = openai.OpenAI(base_url=url + "/v1", api_key="f3", max_retries=0)
    with contextlib.ExitStack() as streams:
        with service.batcher.lock:  # the decode waits: what is admitted stays admitted
            streams.enter_context(_held_stream(url, "f1", max_tokens=16))
            error = _concurrency_429(_post(url, "f1"))  # f1 holds its share (1 of free's 2)
            assert "this key holds its share of the free tier" in error["message"]
            streams.enter_context(_held_stream(url, "f2", max_tokens=16))
            error = _concurrency_429(
                _post(url, "f3", "/v1/chat/completions", messages=[{"role": "user", "content": "hi"}])
            )
            assert "the free tier is at its limit (2/2 sequences" in error["message"]
            with pytest.raises(openai.RateLimitError) as caught:
                client.completions.create(model=BASE, prompt=PROMPT, max_tokens=4)
            assert caught.value.code == "concurrency_limit_exceeded"
            streams.enter_context(_held_stream(url, "d1", max_tokens=8))  # dev has its own pool
            assert _in_flight(url, "free")[0] == 2.0 and _in_flight(url, "dev")[0] == 1.0
            health = httpx.get(url + "/healthz").json()["admission"]
            assert (health["free"]["sequences"], health["free"]["max_sequences"]) == (2, 2)
        # The decode runs on; the held streams are still open and unread, yet their decode ends and frees the pool.
        answer = _until_admitted(lambda: _post(url, "f3", max_tokens=4))
        assert answer.status_code == 200, answer.text
    _drained(url, "free")
    _drained(url, "dev")
    metrics = httpx.get(url + "/metrics").text
    assert 'cppforge_inference_admission_refused_total{status="429",tier="free"}' in metrics


def test_a_disconnected_stream_gives_its_slot_back_at_once(app_url: tuple[Any, str]) -> None:
    app, url = app_url
    with app.state.service.batcher.lock:  # no decode runs: only the disconnects can free the slots
        with _held_stream(url, "f1", max_tokens=64), _held_stream(url, "f2", max_tokens=64):
            _concurrency_429(_opened_and_closed(url, "f3"))
        for key in ("f3", "f1", "f2"):  # each opened (admitted), then disconnected in turn
            assert _until_admitted(lambda key=key: _opened_and_closed(url, key)).status_code == 200  # type: ignore[misc]
        _drained(url, "free")
    # Served after the cut-short decodes (the queue is FIFO): none is left running when the server stops.
    assert _post(url, "f1", max_tokens=1).status_code == 200


LONG_PROMPT = "int v = 0; // count\n" * 12


def test_a_request_larger_than_the_pool_is_403(app_url: tuple[Any, str]) -> None:
    _app, url = app_url
    asks: list[tuple[str, str, dict[str, Any], str, str]] = [
        ("p1", "/v1/completions", {"n": 4}, "n", "max_sequences"),
        ("p1", "/v1/completions", {"best_of": 3}, "best_of", "max_sequences"),
        ("p1", "/v1/completions", {"n": 3, "stream": True}, "n", "max_sequences"),
        ("p1", "/v1/best_of_n", {"n": 4}, "n", "max_sequences"),
        # (within the free tier's 256 max_tokens; the prompt makes it over the pool's 300 tokens)
        ("f1", "/v1/completions", {"max_tokens": 250, "prompt": LONG_PROMPT}, "max_tokens", "max_queued_tokens"),
        ("f1", "/v1/chat/completions", {"max_tokens": 250, "messages": [{"role": "user", "content": LONG_PROMPT}]},
         "max_tokens", "max_queued_tokens"),
    ]  # fmt: skip
    for key, path, body, param, limit in asks:
        r = _post(url, key, path, **body)
        error = _refused(r, 403)
        assert (error["code"], error["param"]) == ("tier_limit_exceeded", param), (path, body, error)
        assert limit in error["message"] and "Retry-After" not in r.headers
    _drained(url, "pro")
    _drained(url, "free")


def test_the_queued_tokens_limit_is_429_until_tokens_come_back(app_url: tuple[Any, str]) -> None:
    app, url = app_url
    p = _post(url, "p1", max_tokens=1).json()["usage"]["prompt_tokens"]
    assert p <= 25  # pro's pool of 200 holds 100 + p and 50 + p, not 100 + p twice
    with app.state.service.batcher.lock, _held_stream(url, "p1", max_tokens=100):
        error = _concurrency_429(_post(url, "p1", max_tokens=100))
        assert f"1/2 sequences, {100 + p}/200 tokens" in error["message"]
        with _held_stream(url, "p1", max_tokens=50):  # a smaller one still fits
            assert _in_flight(url, "pro") == (2.0, 150.0 + 2 * p)
    answer = _until_admitted(lambda: _post(url, "p1", max_tokens=100))
    assert answer.status_code == 200, answer.text
    _drained(url, "pro")
