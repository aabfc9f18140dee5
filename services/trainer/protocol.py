"""Request/response models of the trainer jobs API (pydantic, the HTTP edge only)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .jobs import JobStatus
from .service import JobView


class JobRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    recipe: str = Field("production", description="A recipe of services/trainer/config.py: production, grpo, sft.")
    overrides: dict[str, Any] = Field(
        default_factory=dict,
        description='TrainConfig fields to change, e.g. {"steps": 50, "lr": 5e-5}; checked before queueing.',
        examples=[{"steps": 50, "group_size": 8}],
    )
    model: str | None = Field(None, description="Local HF model directory (the `model` override).")
    dataset: str | None = Field(None, description="JSONL problem set (the `dataset` override).")


class JobResponse(BaseModel):
    id: str
    object: Literal["training.job"] = "training.job"
    status: JobStatus
    recipe: str
    overrides: dict[str, Any] = Field(description="The overrides the run gets, typed by TrainConfig.")
    created_at: float = Field(description="Unix time (seconds).")
    started_at: float | None = Field(None, description="Unix time the latest attempt started.")
    finished_at: float | None = None
    step: int | None = Field(None, description="Latest step in metrics.jsonl.")
    latest: dict[str, Any] | None = Field(None, description="The last metrics row (step, reward_mean, ...).")
    summary: dict[str, Any] | None = Field(None, description="summary.json, once the run has ended.")
    error: str | None = Field(None, description="Why it failed: the exit status and the last stderr lines.")
    out_dir: str = Field(description="The run's --out directory (metrics.jsonl, summary.json, checkpoints/).")
    exit_code: int | None = None
    queue_position: int | None = Field(None, description="Queued jobs ahead of this one (0: next).")
    resumed: bool = Field(False, description="Queued again after the service stopped while it ran.")
    resumed_from_checkpoint: bool = Field(False, description="The latest attempt ran with --resume.")
    restarts: int = 0
    cancel_requested: bool = False
    pid: int | None = Field(None, description="Process (and process group) id of the latest attempt.")
    registry_name: str | None = Field(
        None, description="Once succeeded: the adapter registry's name of the run's adapter (a draft)."
    )
    registry_warning: str | None = Field(
        None, description="Why a succeeded run's adapter could not be registered (the job still succeeded)."
    )

    @classmethod
    def from_view(cls, view: JobView) -> JobResponse:
        job = view.job
        return cls(
            id=job.id, status=job.status, recipe=job.recipe, overrides=job.overrides, created_at=job.created_at,
            started_at=job.started_at, finished_at=job.finished_at, step=view.step, latest=view.latest,
            summary=job.summary, error=job.error, out_dir=str(job.out_dir), exit_code=job.exit_code,
            queue_position=view.queue_position, resumed=job.resumed,
            resumed_from_checkpoint=job.resumed_from_checkpoint, restarts=job.restarts,
            cancel_requested=job.cancel_requested, pid=job.pid, registry_name=job.registry_name,
            registry_warning=job.registry_warning,
        )  # fmt: skip


class JobList(BaseModel):
    object: Literal["list"] = "list"
    data: list[JobResponse]


class MetricsResponse(BaseModel):
    id: str
    object: Literal["list"] = "list"
    data: list[dict[str, Any]] = Field(description="metrics.jsonl rows in step order (after `since` when given).")
    step: int | None = Field(None, description="The job's latest step.")
