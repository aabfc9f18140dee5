"""The trainer jobs service object (no FastAPI import): validation, the runner, auth, health, metrics.

A request is checked against TrainConfig (`recipe_config`) before anything is queued, so a bad
field is a 400 that names it rather than a job that fails a minute later; the overrides the run
gets are the typed values TrainConfig made of them.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from ..common.auth import bearer_key, parse_api_keys, warn_if_open
from ..common.settings import TrainerServiceSettings
from .config import RECIPES, TrainConfig, recipe_config
from .errors import InvalidJobError, JobConflictError, JobNotFoundError
from .jobs import DEFAULT_COMMAND, Job, JobRunner, JobStateError, JobStatus, JobStore
from .launchers import ProcessLauncher, RunLauncher

log = logging.getLogger(__name__)
FIELDS = frozenset(f.name for f in dataclasses.fields(TrainConfig))
# Overrides are readable by every caller (GET /v1/jobs, job.json, the log): a secret has no place in them.
SECRET_FIELDS = frozenset({"inference_api_key"})


@dataclass(frozen=True)
class JobView:
    """A job with what its run has written so far."""

    job: Job
    latest: dict[str, Any] | None  # the last metrics row
    step: int | None
    queue_position: int | None  # 0: next to run


def _step(rows: Sequence[Mapping[str, Any]]) -> int | None:
    if not rows:
        return None
    step = rows[-1].get("step")
    return step if isinstance(step, int) else len(rows)


def validate_job(recipe: str, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The overrides as the run will see them (typed by TrainConfig), or InvalidJobError naming the field."""
    if recipe not in RECIPES:
        raise InvalidJobError(f"recipe: unknown recipe {recipe!r}; choose one of {', '.join(RECIPES)}", "recipe")
    for name, value in overrides.items():
        if name not in FIELDS:
            raise InvalidJobError(f"overrides.{name}: not a TrainConfig field", f"overrides.{name}")
        if name in SECRET_FIELDS:
            raise InvalidJobError(
                f"overrides.{name}: a job's overrides are readable by every caller; set CPPFORGE_INFERENCE_API_KEY "
                "on the trainer service instead (its runs read it from the environment)",
                f"overrides.{name}",
            )
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidJobError(f"overrides.{name}: must be a finite number, not {value}", f"overrides.{name}")
    try:
        cfg = recipe_config(recipe, **overrides)
    except ValueError as exc:
        # TrainConfig's messages start with the field's name ("lr must be a number, not 'x'").
        message = str(exc)
        first = message.split(" ", 1)[0]
        param = f"overrides.{first}" if first in FIELDS else "overrides"
        raise InvalidJobError(f"{param}: {message}", param) from None
    if not cfg.steps and not cfg.minutes:  # `cppforge train` refuses a run without one (exit 2): say so now
        raise InvalidJobError("overrides.steps: give a budget: steps or minutes (> 0)", "overrides.steps")
    return {name: getattr(cfg, name) for name in overrides}


def with_services(recipe: str, overrides: Mapping[str, Any], settings: TrainerServiceSettings) -> dict[str, Any]:
    """The overrides plus the service's verifier URL (rewards), its model (the base the inference service
    serves) and, for a LoRA RL run, its inference URL (rollouts: the adapter is pushed there); whatever the
    job names itself, even empty, is kept."""
    merged = dict(overrides)
    merged.setdefault("verifier_url", settings.verifier_url)
    if settings.model and not merged.get("model"):
        merged["model"] = settings.model
    if "inference_url" not in merged and recipe in RECIPES:
        try:
            cfg = recipe_config(recipe, **merged)
        except ValueError:  # validate_job names the bad field
            return merged
        if cfg.lora and cfg.method in ("gspo", "grpo"):  # sft and distill sample nothing; full weights can't be pushed
            merged["inference_url"] = settings.inference_url
    return merged


class _JobsCollector(Collector):
    """Gauges read at scrape time from the runner: jobs by status, queue depth, the running job's progress."""

    def __init__(self, runner: JobRunner) -> None:
        self.runner = runner

    def collect(self) -> Iterable[GaugeMetricFamily]:
        jobs = self.runner.jobs()
        by_status = GaugeMetricFamily("cppforge_trainer_jobs", "Jobs by status", labels=["status"])
        for status in JobStatus:
            by_status.add_metric([status.value], sum(j.status == status for j in jobs))
        yield by_status
        yield GaugeMetricFamily(
            "cppforge_trainer_queue_depth", "Jobs waiting to run", value=len(self.runner.queued_ids())
        )
        step = GaugeMetricFamily("cppforge_trainer_running_step", "Latest step of the running job", labels=["job"])
        reward = GaugeMetricFamily(
            "cppforge_trainer_running_reward_mean", "reward_mean of the running job's latest step", labels=["job"]
        )
        for job in jobs:
            if job.status != JobStatus.RUNNING:
                continue
            rows = self.runner.rows(job.id)
            latest_step = _step(rows)
            if latest_step is not None:
                step.add_metric([job.id], latest_step)
            value = rows[-1].get("reward_mean") if rows else None
            if isinstance(value, int | float):
                reward.add_metric([job.id], float(value))
        yield step
        yield reward


class TrainerMetrics:
    def __init__(self, runner: JobRunner) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "cppforge_trainer_requests", "HTTP requests by endpoint and status", ["endpoint", "status"],
            registry=self.registry,
        )  # fmt: skip
        self.registry.register(_JobsCollector(runner))

    def render(self) -> bytes:
        return generate_latest(self.registry)


def make_launcher(settings: TrainerServiceSettings) -> tuple[RunLauncher, Sequence[str]]:
    """The launcher `job_runner` names and its default launch prefix. The docker runner needs a daemon that
    answers: RuntimeError saying which one did not (the service does not start without it)."""
    if settings.job_runner == "process":
        return ProcessLauncher(), DEFAULT_COMMAND
    from .containers import ContainerSpec, make_container_launcher  # the docker SDK

    spec = ContainerSpec(
        image=settings.job_image, jobs_root=settings.jobs_root, jobs_source=settings.job_volume,
        mounts=settings.job_mount_list, memory_mb=settings.job_memory_mb, cpus=settings.job_cpus,
        pids_limit=settings.job_pids_limit, gpus=settings.job_gpus, network=settings.job_network,
        user=settings.job_container_user,
    )  # fmt: skip
    return make_container_launcher(spec, settings.docker_url), shlex.split(settings.job_command)


class TrainerService:
    """`command` is the launch prefix of a run (default `python -m services.cli train`, or the image's
    `cppforge train` with the docker runner); `launcher` overrides the one `settings.job_runner` names."""

    def __init__(
        self,
        settings: TrainerServiceSettings,
        *,
        command: Sequence[str] | None = None,
        env: Mapping[str, str] | None = None,
        launcher: RunLauncher | None = None,
    ) -> None:
        self.settings = settings
        self.keys = parse_api_keys(settings.api_keys)
        store = JobStore(settings.jobs_root)
        default_command: Sequence[str] = DEFAULT_COMMAND
        if launcher is None:
            launcher, default_command = make_launcher(settings)
        self.runner = JobRunner(
            store, command=command or default_command, grace_s=settings.cancel_grace_s, env=env,
            registry_root=settings.registry_root, launcher=launcher,
        )  # fmt: skip
        self.metrics = TrainerMetrics(self.runner)

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        warn_if_open(log, "trainer", self.keys, "; any caller may submit training jobs")
        self.runner.start()
        log.info("trainer jobs in %s", self.settings.jobs_root)

    def close(self) -> None:
        self.runner.close()

    def authenticate(self, authorization: str | None) -> str | None:
        """The caller's key (any valid key may submit jobs); None when the service runs open."""
        if not self.keys:
            return None
        return bearer_key(authorization, self.keys)

    # -- jobs --------------------------------------------------------------------------------
    def submit(
        self, recipe: str, overrides: Mapping[str, Any], *, model: str | None = None, dataset: str | None = None
    ) -> JobView:
        merged = dict(overrides)
        for name, value in (("model", model), ("dataset", dataset)):
            if value is None:
                continue
            if name in merged and merged[name] != value:
                raise InvalidJobError(f"{name}: given both in the body and in overrides, with different values", name)
            merged[name] = value
        if self.settings.job_use_services:
            merged = with_services(recipe, merged, self.settings)
        job = self.runner.submit(recipe, validate_job(recipe, merged))
        shown = {k: v for k, v in job.overrides.items() if k not in SECRET_FIELDS}  # (refused above; never logged)
        log.info("job %s queued: recipe %s, overrides %s", job.id, recipe, shown)
        return self.view(job.id)

    def view(self, job_id: str) -> JobView:
        try:
            job = self.runner.get(job_id)
            rows = self.runner.rows(job_id)
        except KeyError:
            raise JobNotFoundError(job_id) from None
        queued = self.runner.queued_ids()
        position = queued.index(job_id) if job_id in queued else None
        return JobView(job=job, latest=rows[-1] if rows else None, step=_step(rows), queue_position=position)

    def views(self, status: JobStatus | None = None) -> list[JobView]:
        return [self.view(j.id) for j in self.runner.jobs() if status is None or j.status == status]

    def rows(self, job_id: str, since: int | None = None) -> list[dict[str, Any]]:
        try:
            rows = self.runner.rows(job_id)
        except KeyError:
            raise JobNotFoundError(job_id) from None
        if since is None:
            return rows
        return [r for r in rows if isinstance(r.get("step"), int) and r["step"] > since]

    def cancel(self, job_id: str) -> JobView:
        try:
            self.runner.cancel(job_id)
        except KeyError:
            raise JobNotFoundError(job_id) from None
        except JobStateError as exc:
            raise JobConflictError(str(exc), param="job_id") from None
        return self.view(job_id)

    # -- health ------------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        jobs = self.runner.jobs()
        running = [j.id for j in jobs if j.status == JobStatus.RUNNING]
        launcher = self.runner.launcher.health()
        return {
            "status": "ok" if self.ready(launcher) else "not_ready",
            "runner": "alive" if self.runner.alive else "stopped",
            "job_runner": self.runner.launcher.kind,
            **{k: v for k, v in launcher.items() if k != "ok"},
            "running": running[0] if running else None,
            "queued": len(self.runner.queued_ids()),
            "jobs": len(jobs),
            "jobs_dir": str(self.settings.jobs_root),
            "auth": "open" if not self.keys else "api_keys",
        }

    def ready(self, launcher_health: Mapping[str, Any] | None = None) -> bool:
        """The runner loop is alive and its launcher can start runs (the docker daemon answers)."""
        launcher_health = launcher_health or self.runner.launcher.health()
        return self.runner.alive and bool(launcher_health.get("ok", True))
