"""`run_loop`: the whole post-training loop against running services, over real HTTP, step by step.

verify -> best-of-4 (dev tier) -> a short GSPO job (rollouts from inference, rewards from the verifier)
-> pass@k of base and adapter -> the registry's promotion gate -> the summary (printed, summary.json).
A failing step raises DemoFailed naming the step and the service's error (never a traceback for a
service that is down or refuses).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TextIO

import httpx

from ..common.errors import ServiceError
from ..inference.client import InferenceClient
from ..tasks.jsonl import load_tasks
from ..tasks.sets import HELDOUT_CPP_FILE
from ..trainer.evalharness import EvalInfraError
from ..trainer.registry import RegistryError
from ..verifier.client import VerifierClient
from .evaluation import EvalPlan, eval_step, promotion_step
from .printing import Progress
from .steps import best_of_step, verify_step
from .summary import DemoSummary
from .training import JobFailed, job_overrides, run_job

STEPS = 6


class Urls(Protocol):
    """What run_loop needs of services.stack's StackUrls."""

    @property
    def verifier(self) -> str: ...
    @property
    def inference(self) -> str: ...
    @property
    def trainer(self) -> str: ...


@dataclass(frozen=True)
class DemoOptions:
    model: str | None = None  # the job's base model (None: the trainer's default, the bootstrap model)
    job_steps: int = 5
    lr: float | None = None  # the job's learning rate (None: the recipe's)
    heldout_tasks: int = 8  # the job's held-out score before and after (summary.json's rates, the reward curve)
    job_timeout_s: float = 900.0
    best_of_prompts: int = 3
    eval: EvalPlan = field(default_factory=EvalPlan)


class DemoFailed(Exception):
    def __init__(self, step: str, message: str) -> None:
        super().__init__(f"step '{step}' failed: {message}")
        self.step = step


@contextmanager
def _failing_as(step: str) -> Iterator[None]:
    """The errors a step's services (or the registry) may answer with, as one DemoFailed naming the step."""
    try:
        yield
    except (ServiceError, JobFailed, EvalInfraError, RegistryError, ValueError, OSError) as exc:
        raise DemoFailed(step, str(exc) or type(exc).__name__) from None
    except httpx.HTTPError as exc:
        raise DemoFailed(step, f"{type(exc).__name__}: {exc}") from None


def check_ready(urls: Urls) -> None:
    """Each service's /readyz answers 200, asked once (no retries): a service that is down is named at once."""
    for name, url in (("verifier", urls.verifier), ("inference", urls.inference), ("trainer", urls.trainer)):
        try:
            answer = httpx.get(url.rstrip("/") + "/readyz", timeout=10)
        except httpx.HTTPError as exc:
            raise DemoFailed(
                "services", f"the {name} service at {url} does not answer ({type(exc).__name__})"
            ) from None
        if answer.status_code != 200:
            raise DemoFailed("services", f"the {name} service at {url} is not ready: {answer.text[:300]}")


def run_loop(urls: Urls, out_dir: Path, progress: TextIO, options: DemoOptions | None = None) -> DemoSummary:
    opts = options or DemoOptions()
    out_dir = out_dir.resolve()  # the summary's paths, usable from anywhere
    out_dir.mkdir(parents=True, exist_ok=True)
    show = Progress(progress, STEPS)
    show.line(f"services: verifier {urls.verifier}, inference {urls.inference}, trainer {urls.trainer}")
    check_ready(urls)
    with (
        VerifierClient(urls.verifier, max_retries=2) as verifier,
        InferenceClient(urls.inference, max_retries=2) as inference,
        httpx.Client(base_url=urls.trainer.rstrip("/"), timeout=60) as trainer,
    ):
        with _failing_as("verify"), show.step("verify", "verify: candidates through the verifier's POST /v1/reward"):
            verified = verify_step(verifier, show)
        tasks = load_tasks(HELDOUT_CPP_FILE)[-opts.best_of_prompts :]  # not among the eval's first tasks
        title = "best-of-4 in dev mode: POST /v1/best_of_n, compile scorer"
        with _failing_as("best-of-4"), show.step("best_of", title):
            picked = best_of_step(inference, verifier, tasks, show)
        overrides = job_overrides(verifier_url=urls.verifier, inference_url=urls.inference, steps=opts.job_steps,
                                  heldout_tasks=opts.heldout_tasks, lr=opts.lr)  # fmt: skip
        title = f"GSPO job on the trainer service: {opts.job_steps} steps, rollouts and rewards over HTTP"
        with _failing_as("GSPO job"), show.step("job", title):
            job = run_job(trainer, overrides, show, model=opts.model, timeout_s=opts.job_timeout_s)
        with _failing_as("eval"), show.step("eval", "eval: pass@k of base and adapter through the services"):
            base, tuned, report = eval_step(inference, urls.verifier, job.registry_name, out_dir / "eval",
                                            opts.eval, show)  # fmt: skip
        with _failing_as("promotion"), show.step("promotion", "promotion: the registry's gate on the measured pass@k"):
            decision, entry = promotion_step(job.registry_name, report, show)
    summary = DemoSummary(verify=verified, best_of=picked, job=job, base_eval=base, adapter_eval=tuned,
                          promotion=decision, registry_entry=entry, step_s=dict(show.seconds))  # fmt: skip
    with show.step("summary", "summary"):
        for line in summary.lines():
            show.line(line)
        show.line(f"summary.json:   {summary.write(out_dir)}")
    return summary
