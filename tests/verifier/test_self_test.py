"""The verifier's start-up self-test: a sandbox that is installed but cannot start (a container whose seccomp
profile refuses namespaces) must make the service unhealthy and refuse work, never score every program 0.0."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from services.common.settings import VerifierServiceSettings
from services.verifier.app import create_app
from services.verifier.core import sandbox
from tests.helpers.servers import serve

BROKEN_BWRAP = """#!/bin/sh
echo "bwrap: No permissions to create new namespace" >&2
exit 1
"""
GOOD = {"code": "int add(int a, int b) { return a + b; }", "test_code": "int main() { return add(2, 3) == 5 ? 0 : 1; }"}


def _settings() -> VerifierServiceSettings:
    return VerifierServiceSettings(redis_url="", prebuild_pch=False)


def _wait_self_test(http: httpx.Client) -> dict[str, object]:
    deadline = time.monotonic() + 60
    while True:
        body: dict[str, object] = http.get("/healthz").json()
        if body["self_test"] != "pending" or time.monotonic() > deadline:
            return body
        time.sleep(0.1)


def test_a_working_sandbox_passes_the_self_test() -> None:
    with serve(create_app(_settings())) as url, httpx.Client(base_url=url, timeout=60) as http:
        health = _wait_self_test(http)
        assert health["self_test"] == "passed" and health["status"] == "ok", health
        assert http.post("/v1/verify", json=GOOD).json()["reward"] == 1.0


def test_a_sandbox_that_cannot_start_fails_the_service_not_the_programs(monkeypatch: pytest.MonkeyPatch) -> None:
    # Outside pytest's 0700 tmp dirs: as root the sandbox drops to nobody, who must reach the broken bwrap.
    with tempfile.TemporaryDirectory(prefix="cppforge-selftest-") as tmp:
        os.chmod(tmp, 0o755)
        fake = Path(tmp) / "bwrap"
        fake.write_text(BROKEN_BWRAP)
        fake.chmod(0o755)
        _check_refused(monkeypatch, fake)


def _check_refused(monkeypatch: pytest.MonkeyPatch, fake: Path) -> None:
    # The sandbox's own PATH (not the service's) finds bwrap: the broken one first.
    monkeypatch.setattr(sandbox, "SANDBOX_PATH", f"{fake.parent}{os.pathsep}{sandbox.SANDBOX_PATH}")
    with serve(create_app(_settings())) as url, httpx.Client(base_url=url, timeout=60) as http:
        health = _wait_self_test(http)
        assert health["status"] == "unhealthy" and str(health["self_test"]).startswith("failed: "), health
        assert "namespace" in str(health["self_test"])
        assert http.get("/healthz").status_code == 503
        assert http.get("/readyz").json()["status"] == "not_ready"
        for path, body in (
            ("/v1/verify", GOOD),
            ("/v1/verify/batch", {"completions": [GOOD["code"]], "test_code": GOOD["test_code"]}),
        ):
            answer = http.post(path, json=body)
            assert answer.status_code == 503, answer.text  # refused: never a reward of 0.0
            assert "self-test failed" in answer.text
