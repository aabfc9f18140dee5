"""Training against the running services: rollouts from the inference service (the adapter pushed
through /v1/adapters and sampled under its own model name), rewards from the verifier's batch
endpoint. The adapter shows up in /v1/models and the verifier's /metrics counts every reward."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from services.common.settings import InferenceSettings, VerifierServiceSettings
from services.inference.app import create_app as create_inference_app
from services.trainer.config import recipe_config
from services.trainer.outputs import read_metrics
from services.trainer.run import RunHooks, adapter_name, run_training
from services.verifier.app import create_app as create_verifier_app
from tests.helpers.servers import serve

TINY = {"steps": 2, "heldout_tasks": 2, "heldout_samples": 1, "group_size": 4, "prompts_per_step": 1,
        "max_gen_len": 48, "num_tasks": 40, "dapo_max_refills": 1, "sync_every": 1}  # fmt: skip


def _counter(text: str, name: str, endpoint: str) -> float:
    match = re.search(rf'^{name}_total{{endpoint="{endpoint}"}} ([0-9.e+]+)$', text, re.M)
    return float(match.group(1)) if match else 0.0


def test_rollouts_and_rewards_over_http(tmp_path: Path, base_model: Path) -> None:
    model = str(base_model)
    verifier = create_verifier_app(VerifierServiceSettings(home=tmp_path / "v", prebuild_pch=False))
    inference = create_inference_app(  # the run's weight syncs land under tmp_path/run: an allowed adapter dir
        InferenceSettings(home=tmp_path / "i", model=model, open_tier="train", adapter_dirs=str(tmp_path))
    )
    with serve(verifier) as v_url, serve(inference) as i_url:
        out = tmp_path / "run"
        cfg = recipe_config("production", model=model, verifier_url=v_url, inference_url=i_url, **TINY)
        summary = run_training(cfg, out, hooks=RunHooks(progress=None))
        models = httpx.get(f"{i_url}/v1/models").json()["data"]
        metrics = httpx.get(f"{v_url}/metrics").text
    name = adapter_name(out)
    card = next(m for m in models if m["id"] == name)  # the pushed adapter, served under the run's name
    assert Path(card["root"]).is_dir() and card["parent"] is not None
    assert summary["rollouts"] == "http" and summary["rewards"] == "http" and summary["steps"] == 2
    rows = read_metrics(out / "metrics.jsonl")
    assert [r["step"] for r in rows] == [1, 2] and all(r["dropped"] == 0 for r in rows)
    # Every training sample and every held-out program (2 tasks x (1 sampled + 1 greedy), before and
    # after) was rewarded by the verifier's batch endpoint, and nothing else was.
    heldout = 2 * (1 + 1) * 2
    assert _counter(metrics, "cppforge_verifier_rewards", "verify_batch") == sum(r["samples"] for r in rows) + heldout
