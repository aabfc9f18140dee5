"""CPPFORGE_JOB_USE_SERVICES: jobs get the service's verifier URL, model and (LoRA RL) inference URL unless
they name their own; off by default. Over real HTTP, runs played by fake_train.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from services.common.settings import TrainerServiceSettings
from services.trainer.app import create_app
from tests.helpers.servers import serve
from tests.trainer.conftest import fake_command

VERIFIER, INFERENCE = "http://127.0.0.1:18001", "http://127.0.0.1:18002"


def _submitted(tmp_path: Path, use: bool, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    settings = TrainerServiceSettings(home=tmp_path, verifier_url=VERIFIER, inference_url=INFERENCE,
                                      job_use_services=use, model="/base", cancel_grace_s=2.0)  # fmt: skip
    out = []
    with serve(create_app(settings, command=fake_command())) as url, httpx.Client(base_url=url, timeout=10) as http:
        for body in bodies:
            r = http.post("/v1/jobs", json=body)
            assert r.status_code == 202, r.text
            out.append(r.json()["overrides"])
    return out


def test_jobs_get_the_services_urls_when_on(tmp_path: Path) -> None:
    bodies = [
        {"recipe": "production", "overrides": {"steps": 1}},
        {"recipe": "grpo", "overrides": {"steps": 1, "verifier_url": "http://v:9", "inference_url": ""}, "model": "/m"},
        {"recipe": "production", "overrides": {"steps": 1, "lora": False}},  # full weights: nothing to push
        {"recipe": "sft", "overrides": {"steps": 1, "sft_data": "/d.jsonl"}},  # samples nothing
    ]
    plain, own, full, sft = _submitted(tmp_path, True, bodies)
    assert plain == {"steps": 1, "verifier_url": VERIFIER, "inference_url": INFERENCE, "model": "/base"}
    assert own == {"steps": 1, "verifier_url": "http://v:9", "inference_url": "", "model": "/m"}  # the job's own win
    assert full == {"steps": 1, "lora": False, "verifier_url": VERIFIER, "model": "/base"}
    assert sft == {"steps": 1, "sft_data": "/d.jsonl", "verifier_url": VERIFIER, "model": "/base"}


def test_off_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert TrainerServiceSettings(home=tmp_path).job_use_services is False
    monkeypatch.setenv("CPPFORGE_JOB_USE_SERVICES", "1")
    assert TrainerServiceSettings(home=tmp_path).job_use_services is True
    (plain,) = _submitted(tmp_path, False, [{"recipe": "production", "overrides": {"steps": 1}}])
    assert plain == {"steps": 1}
