"""The trainer jobs HTTP API: submit, list, watch and cancel training runs; health and metrics.

Thin: parse, authenticate, call TrainerService, answer. Errors use the inference service's OpenAI
shape {"error": {"message", "type", "param", "code"}}: 401 bad key, 404 unknown job, 409 cancelling
a finished job, 413 body too large, 400 bad body (not JSON, an unknown field) or a recipe/override
TrainConfig refuses (`param` names the field, e.g. "overrides.lr"), 404/405 unknown route or method,
500 anything unexpected.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request
from fastapi.responses import JSONResponse, Response

from ..common.asgi import CountRequests, LimitBody
from ..common.openai_errors import ErrorResponse, error_body, install_error_handlers
from ..common.settings import TrainerServiceSettings, get_trainer_service_settings
from .jobs import JobStatus
from .protocol import JobList, JobRequest, JobResponse, MetricsResponse
from .service import TrainerService

MAX_BODY_BYTES = 1 << 20  # a job request is a recipe name and a few overrides


def get_service(request: Request) -> TrainerService:
    service: TrainerService = request.app.state.service
    return service


Service = Annotated[TrainerService, Depends(get_service)]


def authorize(service: Service, authorization: Annotated[str | None, Header()] = None) -> None:
    service.authenticate(authorization)


router = APIRouter(prefix="/v1/jobs", tags=["jobs"], dependencies=[Depends(authorize)])
_ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorResponse} for code in (400, 401, 404, 409)}


@router.post("", status_code=202, response_model=JobResponse, responses=_ERRORS, summary="Queue a training run")
async def submit(req: JobRequest, service: Service) -> JobResponse:
    view = service.submit(req.recipe, req.overrides, model=req.model, dataset=req.dataset)
    return JobResponse.from_view(view)


@router.get("", response_model=JobList, responses=_ERRORS, summary="Every job, in submission order")
async def list_jobs(service: Service, status: JobStatus | None = None) -> JobList:
    return JobList(data=[JobResponse.from_view(v) for v in service.views(status)])


@router.get("/{job_id}", response_model=JobResponse, responses=_ERRORS, summary="One job and its latest step")
async def get_job(job_id: str, service: Service) -> JobResponse:
    return JobResponse.from_view(service.view(job_id))


@router.get("/{job_id}/metrics", response_model=MetricsResponse, responses=_ERRORS, summary="metrics.jsonl rows")
async def job_metrics(
    job_id: str, service: Service, since: Annotated[int | None, Query(description="Only rows after this step.")] = None
) -> MetricsResponse:
    rows = service.rows(job_id, since)
    return MetricsResponse(id=job_id, data=rows, step=service.view(job_id).step)


@router.delete(
    "/{job_id}", response_model=JobResponse, responses={**_ERRORS, 202: {"model": JobResponse}},
    summary="Cancel: a queued job at once (200); a running one gets SIGTERM, then SIGKILL after the grace (202)",
)  # fmt: skip
async def cancel_job(job_id: str, service: Service) -> JSONResponse:
    view = service.cancel(job_id)
    status = 202 if view.job.status == JobStatus.RUNNING else 200
    return JSONResponse(JobResponse.from_view(view).model_dump(mode="json"), status)


health_router = APIRouter(tags=["health"])


@health_router.get("/healthz", summary="Runner (process or docker, and the daemon), queue and auth status")
async def healthz(service: Service) -> dict[str, Any]:
    return await asyncio.to_thread(service.health)


@health_router.get("/readyz", summary="Ready while the runner loop is alive (and, docker runner, the daemon answers)")
async def readyz(service: Service) -> JSONResponse:
    ok = await asyncio.to_thread(service.ready)  # a docker ping: off the event loop
    return JSONResponse({"status": "ready" if ok else "not_ready"}, 200 if ok else 503)


@health_router.get("/metrics", summary="Prometheus metrics")
async def metrics(service: Service) -> Response:
    return Response(service.metrics.render(), media_type="text/plain; version=0.0.4")


def create_app(settings: TrainerServiceSettings | None = None, *, command: Sequence[str] | None = None) -> FastAPI:
    """`command`: the launch prefix of a run (default `python -m services.cli train`; tests use a stand-in)."""
    settings = settings or get_trainer_service_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service = TrainerService(settings, command=command)
        service.start()
        app.state.service = service
        try:
            yield
        finally:
            # A running job gets SIGTERM and up to the grace period to checkpoint: off the event loop.
            await asyncio.to_thread(service.close)

    app = FastAPI(title="cppforge trainer", version="0.1.0", lifespan=lifespan,
                  description="Queue, watch and cancel verifier-grounded training runs, one at a time.")  # fmt: skip
    app.include_router(router)
    app.include_router(health_router)
    install_error_handlers(app)

    def record(scope: Any, path: str, status: int) -> None:
        service: TrainerService | None = getattr(app.state, "service", None)
        if service is not None:
            # `path` is the route's template (/v1/jobs/{job_id}), not one series per job id
            service.metrics.requests.labels(path, str(status)).inc()

    app.add_middleware(CountRequests, record=record, routes=(*router.routes, *health_router.routes))
    app.add_middleware(LimitBody, limit=MAX_BODY_BYTES, error_body=error_body)
    return app
