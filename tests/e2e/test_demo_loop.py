"""`cppforge demo`'s loop against the three services served on free ports (real HTTP, real g++, the
bootstrap model): every step's results are real, and a service that is down fails the step by name."""

from __future__ import annotations

import dataclasses
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from services.common.settings import InferenceSettings, TrainerServiceSettings, VerifierServiceSettings, get_settings
from services.demo import DemoFailed, DemoOptions, run_loop
from services.demo.evaluation import EvalPlan
from services.inference.app import create_app as create_inference_app
from services.trainer.app import create_app as create_trainer_app
from services.trainer.registry import load_adapter_artifact
from services.verifier.app import create_app as create_verifier_app
from tests.helpers.servers import free_port, serve

TINY = DemoOptions(job_steps=3, heldout_tasks=2, best_of_prompts=2, eval=EvalPlan(limit=4, n=2, ks=(1, 2)))


@dataclass(frozen=True)
class Urls:
    verifier: str
    inference: str
    trainer: str


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """One CPPFORGE_HOME for the services, the job and the registry the demo promotes in."""
    monkeypatch.setenv("CPPFORGE_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    yield tmp_path / "home"
    get_settings.cache_clear()


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    """The in-thread inference service decodes in this process: on one thread (two ran ~10x slower on 2 busy cores)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _counter(text: str, endpoint: str) -> float:
    match = re.search(rf'^cppforge_verifier_rewards_total{{endpoint="{endpoint}"}} ([0-9.e+]+)$', text, re.M)
    return float(match.group(1)) if match else 0.0


# ~1 min: the same chain as test_local_stack.py (in make test) with the demo's printing; `make demo` itself runs in
# .ci/run. make test-all runs this one.
@pytest.mark.slow
def test_the_loop_over_http(
    home: Path, tmp_path: Path, base_model: Path, tiny_proxy_dir: Path, one_torch_thread: None
) -> None:
    progress = io.StringIO()
    verifier = create_verifier_app(VerifierServiceSettings(home=home, prebuild_pch=False))
    with serve(verifier) as v_url:
        inference = create_inference_app(InferenceSettings(
            home=home, model=str(base_model), proxy_path=tiny_proxy_dir, api_keys=None, verifier_url=v_url,
            registry_dir=home / "registry"))  # fmt: skip
        trainer = create_trainer_app(TrainerServiceSettings(home=home, cancel_grace_s=5.0))
        with serve(inference) as i_url, serve(trainer) as t_url:
            out = tmp_path / "demo"
            options = dataclasses.replace(TINY, model=str(base_model))
            summary = run_loop(Urls(v_url, i_url, t_url), out, progress, options=options)
            rewards_metrics = httpx.get(f"{v_url}/metrics").text
    printed = progress.getvalue()

    # verify: the correct candidates earn 1.0, the wrong one part of it, no hack any test credit.
    by_kind = {r.kind: r for r in summary.verify}
    assert [r.reward for r in summary.verify if r.kind in ("correct", "think")] == [1.0, 1.0]
    assert by_kind["wrong"].reward < 1.0 and by_kind["broken"].reward == 0.0
    hacks = [r for r in summary.verify if r.kind == "hack"]
    assert len(hacks) == 5 and all(r.tests_passed == 0 and r.reward < 1.0 for r in hacks), hacks
    # best-of-4: the dev tier compiled the candidates through the verifier service.
    assert len(summary.best_of) == 2 and all(r.n == 4 and r.scorer == "compile" for r in summary.best_of)
    assert all(0 <= r.compiling <= 4 for r in summary.best_of)
    # The job: rollouts from the inference service, rewards from the verifier's batch endpoint.
    job = summary.job
    assert (job.rollouts, job.rewards, job.steps) == ("http", "http", 3)
    assert _counter(rewards_metrics, "verify_batch") > 0
    assert job.compile_rate_before is not None and job.compile_rate_after is not None
    assert job.reward_curve_png and Path(job.reward_curve_png).read_bytes()[:4] == b"\x89PNG"
    # The eval: pass@k of base and adapter, sampled by the inference service, with their PNGs.
    for ev in (summary.base_eval, summary.adapter_eval):
        assert set(ev.pass_at_k) == {"pass@1", "pass@2"} and ev.tasks == 4 and ev.n == 2
        assert ev.pass_at_k_png and Path(ev.pass_at_k_png).read_bytes()[:4] == b"\x89PNG"
    assert summary.adapter_eval.model == job.registry_name
    # The promotion: the registry's decision, as the registry now records it.
    artifact = load_adapter_artifact(job.registry_name)
    assert artifact.status.value == ("active" if summary.promotion.promoted else "draft")
    assert artifact.eval is not None and artifact.eval.pass_at_k == summary.adapter_eval.pass_at_k
    if not summary.promotion.promoted:
        assert summary.promotion.message.startswith(f"refused: {job.registry_name}")
    assert Path(summary.registry_entry) == artifact.path
    # summary.json and the progress printed on the way.
    written = json.loads((out / "summary.json").read_text())
    assert written["job"]["registry_name"] == job.registry_name
    assert set(written["step_s"]) == {"verify", "best_of", "job", "eval", "promotion"}
    assert written["adapter_eval"]["pass_at_k"] == summary.adapter_eval.pass_at_k
    for header in ("== 1/6 verify", "== 3/6 GSPO job", "== 6/6 summary", "PROMOTED" if summary.promotion.promoted
                   else "REFUSED", job.reward_curve_png):  # fmt: skip
        assert header in printed, header
    assert re.search(r"^ +3 +[0-9.]+ ", printed, re.M)  # the job's step 3, printed as it came


def test_a_service_that_is_down_is_named(tmp_path: Path) -> None:
    up = create_trainer_app(TrainerServiceSettings(home=tmp_path / "home"))
    down = f"http://127.0.0.1:{free_port()}"
    with serve(up) as url, pytest.raises(DemoFailed) as failed:
        run_loop(Urls(url, down, url), tmp_path / "demo", io.StringIO())
    assert failed.value.step == "services"
    assert (
        str(failed.value) == f"step 'services' failed: the inference service at {down} does not answer (ConnectError)"
    )


def test_a_refusing_service_fails_its_step_by_name(tmp_path: Path) -> None:
    """Every /readyz says 200, but the "verifier" is the trainer app: its 404 on /v1/reward names the step."""
    trainer = create_trainer_app(TrainerServiceSettings(home=tmp_path / "home"))
    with serve(trainer) as url, pytest.raises(DemoFailed) as failed:
        run_loop(Urls(url, url, url), tmp_path / "demo", io.StringIO())
    assert failed.value.step == "verify" and "404" in str(failed.value), failed.value
