"""The post-training loop end to end, every part real: two short RL jobs of the trainer service (the bootstrap
model, real g++ rewards) register their adapters as drafts; `cppforge registry eval` measures each with the eval
harness; the good one is promoted and the inference service serves it, by its registry name and as the default;
the worse one (the same job at a learning rate that wrecks the weights) is refused, and the refusal names the
numbers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.cli import main
from services.common.settings import InferenceSettings, TrainerServiceSettings, get_settings
from services.inference.app import create_app as create_inference_app
from services.lm.model import load_adapter, load_model
from services.lm.prompts import encode_prompt
from services.lm.sampling import SamplingParams, sample_n
from services.tasks.sets import HELDOUT_CPP_FILE
from services.trainer.app import create_app as create_trainer_app
from services.trainer.registry import load_adapter_artifact
from tests.helpers.servers import serve
from tests.trainer.conftest import wait_for

# No CCCS prefix: with one the bootstrap model passes every sample, DAPO discards every group, nothing trains.
JOB = {"steps": 2, "heldout_tasks": 0, "group_size": 4, "prompts_per_step": 2, "max_gen_len": 64, "num_tasks": 40,
       "dapo_max_refills": 4, "cccs": False}  # fmt: skip
WRECKED = {**JOB, "lr": 1.0}  # two AdamW steps of ~1.0 per LoRA weight: the adapter garbles every completion
EVAL = ["--tasks", str(HELDOUT_CPP_FILE), "--n", "2", "--k", "1,2", "--limit", "8"]
PROMPT = "#include <vector>\n\n// Return the sum of the elements of v.\nint total(const std::vector<int>& v) {"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh CPPFORGE_HOME (its registry is what the CLI, the jobs service and the inference service share)."""
    monkeypatch.setenv("CPPFORGE_HOME", str(tmp_path))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def _train(http: httpx.Client, model: Path, overrides: dict[str, Any]) -> str:
    """Run one job to success; its registry name."""
    r = http.post("/v1/jobs", json={"recipe": "production", "overrides": overrides, "model": str(model)})
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]

    def finished() -> bool:
        return http.get(f"/v1/jobs/{job_id}").json()["status"] in ("succeeded", "failed", "cancelled")

    wait_for(finished, timeout_s=300, what=f"job {job_id}")
    job = http.get(f"/v1/jobs/{job_id}").json()
    assert job["status"] == "succeeded", job.get("error")
    rows = http.get(f"/v1/jobs/{job_id}/metrics").json()["data"]
    assert any(row["groups"] > 0 for row in rows), rows  # the adapter was trained, not left at its init
    assert job["registry_name"], job.get("registry_warning")
    return str(job["registry_name"])


def test_trained_adapter_is_registered_evaluated_promoted_and_served(
    home: Path, base_model: Path, tiny_proxy_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with (
        serve(create_trainer_app(TrainerServiceSettings(home=home, cancel_grace_s=5.0))) as url,
        httpx.Client(base_url=url, timeout=30) as http,
    ):
        good = _train(http, base_model, JOB)
        worse = _train(http, base_model, WRECKED)
    assert [load_adapter_artifact(n).status.value for n in (good, worse)] == ["draft", "draft"]
    assert load_adapter_artifact(good).training_method == "gspo"

    # Promotion takes numbers the harness measured, never none.
    assert main(["registry", "promote", good]) == 2
    assert "eval" in capsys.readouterr().err
    for name in (good, worse):
        assert main(["registry", "eval", name, *EVAL]) == 0
    capsys.readouterr()
    good_eval, worse_eval = (load_adapter_artifact(n).eval for n in (good, worse))
    assert good_eval is not None and worse_eval is not None
    good_p1, worse_p1 = good_eval.pass_at_k["pass@1"], worse_eval.pass_at_k["pass@1"]
    assert good_p1 >= 0.25 and worse_p1 < good_p1, (good_p1, worse_p1)
    assert good_eval.tasks == worse_eval.tasks == 8 and good_eval.n == 2

    assert main(["registry", "promote", good]) == 0
    capsys.readouterr()
    assert main(["registry", "promote", worse]) == 2
    refusal = capsys.readouterr().err
    # Wrecked weights may score under the gate (refused for that) or above it and below the active one.
    reason = "is below the gate 0.050" if worse_p1 < 0.05 else f"does not beat active {good} pass@1 {good_p1:.3f}"
    assert f"refused: {worse} pass@1 {worse_p1:.3f} {reason}" in refusal, refusal
    listed = {e["name"]: e["status"] for e in _registry_list(capsys)}
    assert listed == {good: "active", worse: "draft"}

    # The inference service serves what was evaluated: the active adapter by default, and by its registry name.
    expected = _greedy_with_adapter(base_model, load_adapter_artifact(good).path)
    settings = InferenceSettings(model=str(base_model), proxy_path=tiny_proxy_dir, api_keys=None, open_tier="pro",
                                 registry_dir=home / "registry", serve_registry_active=True)  # fmt: skip
    with serve(create_inference_app(settings)) as url, httpx.Client(base_url=url, timeout=120) as client:
        assert client.get("/healthz").json()["registry"]["active"] == good
        for model in ("cppforge-bootstrap", good):  # the base id: the default model, the active adapter here
            body = {"prompt": PROMPT, "max_tokens": 24, "temperature": 0.0, "model": model}
            answer = client.post("/v1/completions", json=body)
            assert answer.status_code == 200, answer.text
            assert answer.json()["model"] == good
            assert answer.json()["choices"][0]["text"] == expected
        assert good in [m["id"] for m in client.get("/v1/models").json()["data"]]


def _registry_list(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    assert main(["registry", "list", "--json"]) == 0
    listed: list[dict[str, Any]] = json.loads(capsys.readouterr().out)
    return listed


def _greedy_with_adapter(base: Path, adapter: Path) -> str:
    loaded = load_model(base)
    load_adapter(loaded, adapter, "expected")
    ids = encode_prompt(loaded.tokenizer, PROMPT)
    return sample_n(loaded.model, loaded.tokenizer, ids, 1, SamplingParams(max_tokens=24, temperature=0.0))[0][0].text
