"""Property tests over request bodies for /v1/verify, /v1/verify/batch and /v1/reward.

Whatever arrives (any JSON value in any field, lone surrogates, NaN and infinities, huge
integers, unknown fields, nested or huge structures, bytes that are not JSON, empty bodies,
wrong content types), the real app (real sandbox, real Redis) never answers 5xx, and every
error is a JSON object with a message. Deterministic (derandomized) and without an example
database, so a run neither depends on nor leaves anything behind.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.common.settings import VerifierServiceSettings
from services.verifier.app import create_app
from tests.helpers.http import error_message
from tests.helpers.servers import serve

ENDPOINTS = ("/v1/verify", "/v1/verify/batch", "/v1/reward")
MAX_SOURCE = 16 * 1024
MAX_BATCH = 8
PROPERTY = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=50,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    config = VerifierServiceSettings(
        redis_url="redis://127.0.0.1:6379/0", prebuild_pch=False, max_source_bytes=MAX_SOURCE, max_batch=MAX_BATCH
    )
    with serve(create_app(config)) as base, httpx.Client(base_url=base, timeout=120) as client:
        yield client


# -- values ----------------------------------------------------------------------------------
SURROGATES = st.sampled_from(["\ud800", "\udbff", "\udc00", "\udfff"])
TEXT = st.text(st.one_of(st.characters(), SURROGATES), max_size=40)
HUGE_INTS = st.sampled_from([2**63, -(2**63) - 1, 2**64, 10**100, -(10**300), 10**4000])
NUMBERS = st.one_of(
    st.integers(),
    HUGE_INTS,
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 1e-300, 1e308, 120.0000001]),
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, TEXT)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=4)),
    max_leaves=12,
)

# Candidates that exercise the whole pipeline, kept cheap: compile errors, a clean run, a test.
# A per-session comment keeps them out of the Redis cache, so every run compiles for real.
SESSION = uuid.uuid4().hex
PROGRAMS = st.sampled_from(
    [
        "int main() { return 0; }\n",
        "int f(int a) { return a + 1; }\n",
        "int main() { return undefined_name; }\n",
        '#include <cstdio>\nint main() { std::printf("PASSED 3/3\\n"); }\n',
        "<think>draft</think>int main() { return 1; }\n",
    ]
).map(lambda program: f"// {SESSION}\n{program}")
TESTS = st.sampled_from([None, "#include <cassert>\nint main() { assert(1 + 1 == 2); }\n", ""])
GOOD_FLAGS = st.lists(st.sampled_from(["-O0", "-O2", "-g", "-DN=3", "-Wno-unused", "-Iinc"]), max_size=3)
BAD_FLAGS = st.lists(st.one_of(st.sampled_from(["-I", "-Wno-cpp", "-o", "@x", "-I/etc"]), TEXT), min_size=1, max_size=3)


def wrong(tricky: st.SearchStrategy[Any] | None = None) -> st.SearchStrategy[Any]:
    """A near miss for the field, or anything JSON can carry."""
    return JSON_VALUES if tricky is None else st.one_of(tricky, JSON_VALUES)


Field = tuple[st.SearchStrategy[Any], st.SearchStrategy[Any]]  # (valid values, wrong values)
COMMON: dict[str, Field] = {
    "test_code": (TESTS, wrong(TEXT)),
    "timeout": (st.sampled_from([0.5, 1, 2.5]), wrong(NUMBERS)),
    "std": (st.sampled_from(["c++17", "c++20", "gnu++14"]), wrong(st.sampled_from(["c++98", "", "c++17 -O2"]))),
    "extra_flags": (GOOD_FLAGS, wrong(BAD_FLAGS)),
    "return_structured": (st.booleans(), wrong()),
    "strip_think": (st.booleans(), wrong()),
}
FIELDS: dict[str, dict[str, Field]] = {
    "/v1/verify": {"code": (PROGRAMS, wrong(TEXT)), **COMMON},
    "/v1/verify/batch": {
        "completions": (st.lists(PROGRAMS, min_size=1, max_size=3), wrong(st.lists(TEXT, max_size=3))),
        **COMMON,
    },
    "/v1/reward": {
        "code": (PROGRAMS, wrong(TEXT)),
        **COMMON,
        "shaped": (st.booleans(), wrong()),
        # Kept off the slow paths (clang-tidy, sanitizer runs) when valid: they are tested elsewhere.
        "sanitizer_fraction": (st.just(0.0), wrong(NUMBERS)),
        "use_clang_tidy": (st.just(False), wrong()),
        "seed": (st.one_of(st.none(), st.integers(0, 2**64 - 1)), wrong(st.one_of(HUGE_INTS, st.integers()))),
    },
}
REQUIRED = {"/v1/verify": "code", "/v1/verify/batch": "completions", "/v1/reward": "code"}


@st.composite
def bodies(draw: st.DrawFn, path: str) -> Any:
    """A valid request for `path` with up to three of its fields made wrong or left out, sometimes
    unknown fields, sometimes not an object at all."""
    fields = FIELDS[path]
    optional = sorted(set(fields) - {REQUIRED[path]})
    names = {REQUIRED[path], *draw(st.lists(st.sampled_from(optional), unique=True))}
    body: dict[str, Any] = {name: draw(fields[name][0]) for name in sorted(names)}
    for name in draw(st.lists(st.sampled_from(sorted(fields)), unique=True, max_size=3)):
        if draw(st.booleans()):
            body[name] = draw(fields[name][1])
        else:
            body.pop(name, None)
    if draw(st.integers(0, 5)) == 0:
        body.update(draw(st.dictionaries(TEXT, JSON_VALUES, min_size=1, max_size=2)))
    if draw(st.integers(0, 7)) == 0:
        return draw(JSON_VALUES)
    return body


def to_json(body: Any) -> bytes:
    """Python's JSON: NaN/Infinity as bare tokens, lone surrogates as \\ud800 escapes."""
    return json.dumps(body, allow_nan=True).encode()


def check(response: httpx.Response, path: str) -> None:
    assert response.status_code < 500, (path, response.status_code, response.text[:500])
    if response.status_code >= 400:
        error_message(response)
        return
    answer = response.json()
    if path == "/v1/verify/batch":
        assert len(answer["results"]) == len(answer["rewards"]) >= 1
    else:
        assert isinstance(answer["reward"], float)


@pytest.mark.parametrize("path", ENDPOINTS)
@PROPERTY
@given(data=st.data())
def test_any_json_body_gets_an_answer_never_a_5xx(http: httpx.Client, path: str, data: st.DataObject) -> None:
    body = data.draw(bodies(path))
    response = http.post(path, content=to_json(body), headers={"content-type": "application/json"})
    check(response, path)


CONTENT_TYPES = st.sampled_from(
    [
        None,
        "application/json",
        "application/json; charset=latin-1",
        "application/vnd.x+json",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/json; boundary",
        "not a type",
    ]
)
RAW = st.one_of(
    st.binary(max_size=200),
    st.just(b""),
    TEXT.map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.builds(to_json, bodies("/v1/verify")),
    st.integers(1, 100_000).map(lambda depth: b"[" * depth + b"]" * depth),
    st.integers(1, 100_000).map(lambda depth: b'{"code":' * depth),
)


@PROPERTY
@given(path=st.sampled_from(ENDPOINTS), raw=RAW, content_type=CONTENT_TYPES)
def test_any_bytes_with_any_content_type_never_a_5xx(
    http: httpx.Client, path: str, raw: bytes, content_type: str | None
) -> None:
    headers = {} if content_type is None else {"content-type": content_type}
    response = http.post(path, content=raw, headers=headers)
    check(response, path)


@pytest.mark.parametrize(
    ("path", "raw"),
    [
        ("/v1/verify", b'{"code": "' + b"x" * (MAX_SOURCE + 1) + b'"}'),  # over the per-field limit: 413
        ("/v1/verify/batch", to_json({"completions": ["int x;"] * (MAX_BATCH + 1)})),  # too many: 413
        ("/v1/verify/batch", to_json({"completions": ["int x;"] * 200_000})),  # over the body limit: 413
        ("/v1/verify", to_json({"code": "int main(){}", "extra_flags": ["-O2"] * 50_000})),
        ("/v1/verify", b'{"code": "int main(){}", "timeout": 1' + b"0" * 5000 + b"}"),  # 5000 digits
        ("/v1/reward", b'{"code": "int main(){}", "seed": 1' + b"0" * 4000 + b"}"),
        ("/v1/verify", b"[" * 1_000_000 + b"]" * 1_000_000),  # nesting deeper than any parser's stack
        ("/v1/verify", to_json({"code": "int main(){}", "x": {"y": [[[[{}]]]] * 1000}})),
        ("/v1/reward", to_json({"code": "\ud800" * 1000})),
    ],
    ids=["long-code", "batch-over-max", "over-limit", "many-flags", "huge-int", "huge-seed", "deep", "wide", "sur"],
)
def test_huge_and_nested_bodies_never_a_5xx(http: httpx.Client, path: str, raw: bytes) -> None:
    response = http.post(path, content=raw, headers={"content-type": "application/json"})
    check(response, path)
    assert 400 <= response.status_code < 500
