"""The verifier's HTTP API (FastAPI): parse, call VerifierService, answer. Nothing else lives here.

Errors are JSON objects, never a traceback: `{"detail": "<message>"}`, except 422 (malformed body
or refused flag), which keeps FastAPI's issue list and adds a one-line `message` naming the field:
`{"detail": [{"loc", "msg", "type"}], "message": "..."}` (the offending input is never echoed:
it may be huge, or not encodable). 400 unparseable body, 404/405 no such route, 413 source, batch
or body too large, 429 queue full (Retry-After), 503 deadline exceeded, no sandbox or an
infrastructure failure (Retry-After), 500 anything unexpected (logged on the server).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from ..common.asgi import CountRequests, LimitBody
from ..common.errors import ServiceError
from ..common.settings import VerifierServiceSettings, get_verifier_service_settings
from .core.reward import InfrastructureError
from .core.verify import VerifierConfig
from .pool import VerifyJob
from .protocol import (
    BatchRequest,
    BatchResponse,
    ErrorResponse,
    RewardRequest,
    RewardResponse,
    ShapedResponse,
    ValidationErrorResponse,
    VerifyRequest,
    VerifyResponse,
)
from .service import ScoredResult, VerifierService

MAX_ISSUES = 20  # a batch of 1024 bad items need not answer 1024 issues


def get_service(request: Request) -> VerifierService:
    service: VerifierService = request.app.state.service
    return service


Service = Annotated[VerifierService, Depends(get_service)]
router = APIRouter(prefix="/v1", tags=["verify"])
_ERRORS: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorResponse},
    422: {"model": ValidationErrorResponse},
    429: {"model": ErrorResponse},
    500: {"model": ErrorResponse},
    503: {"model": ErrorResponse},
}


def _job(req: VerifyRequest | BatchRequest, code: str) -> VerifyJob:
    return VerifyJob(
        code=code,
        test_code=req.test_code,
        timeout=req.timeout,
        std=req.std,
        flags=tuple(req.extra_flags),
        strip_think=req.strip_think,
    )


def _response(scored: ScoredResult, structured: bool) -> VerifyResponse:
    return VerifyResponse.from_result(scored.result, reward=scored.reward, structured=structured)


@router.post("/verify", response_model=VerifyResponse, responses=_ERRORS, summary="Verify one candidate")
async def verify(req: VerifyRequest, service: Service) -> VerifyResponse:
    scored = await service.verify(_job(req, req.code))
    return _response(scored, req.return_structured)


@router.post("/verify/batch", response_model=BatchResponse, responses=_ERRORS, summary="Verify many against one test")
async def verify_batch(req: BatchRequest, service: Service) -> BatchResponse:
    scored, unique = await service.verify_batch([_job(req, c) for c in req.completions])
    return BatchResponse(
        results=[_response(s, req.return_structured) for s in scored],
        rewards=[s.reward for s in scored],
        unique=unique,
    )


@router.post("/reward", response_model=RewardResponse, responses=_ERRORS, summary="Verify, then reward and shape")
async def reward(req: RewardRequest, service: Service) -> RewardResponse:
    scored, shaped = await service.reward(
        _job(req, req.code),
        shaped=req.shaped,
        sanitizer_fraction=req.sanitizer_fraction,
        use_clang_tidy=req.use_clang_tidy,
        seed=req.seed,
    )
    if scored.reward is None:  # service.verify raises first; kept so a reward is never made up
        raise InfrastructureError(f"verification failed, no reward: {scored.result.infra_error}")
    shaped_model = ShapedResponse.from_shaped(shaped) if shaped is not None else None
    return RewardResponse(reward=scored.reward, shaped=shaped_model, result=_response(scored, req.return_structured))


health_router = APIRouter(tags=["health"])


@health_router.get("/healthz", summary="Sandbox, compiler and PCH status")
async def healthz(service: Service) -> JSONResponse:
    body = service.health()
    return JSONResponse(body, status_code=200 if body["status"] == "ok" else 503)


@health_router.get("/readyz", summary="Ready, degraded (no Redis: uncached) or not ready")
async def readyz(service: Service) -> JSONResponse:
    body = service.readiness()
    return JSONResponse(body, status_code=503 if body["status"] == "not_ready" else 200)


@health_router.get("/metrics", summary="Prometheus metrics")
async def metrics(service: Service) -> Response:
    return Response(service.metrics.render(), media_type="text/plain; version=0.0.4")


def _printable(value: object, limit: int = 200) -> str:
    """Safe to put in a JSON answer: bounded, and lone surrogates escaped."""
    text = str(value)
    if len(text) > limit:
        text = text[:limit] + "..."
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def validation_body(errors: Sequence[Any]) -> dict[str, Any]:
    """FastAPI's 422 issue list without the echoed input, plus the first issue as one line."""
    issues = []
    for err in list(errors)[:MAX_ISSUES]:
        loc = [p if isinstance(p, int) else _printable(p, 100) for p in err.get("loc", ())]
        msg = _printable(err.get("msg", "invalid value"), 500)
        ctx = err.get("ctx") or {}
        if err.get("type") == "json_invalid" and "error" in ctx:
            at = f" at position {loc[1]}" if len(loc) > 1 else ""
            msg, loc = f"{msg}{at}: {_printable(ctx['error'])}", loc[:1]
        issues.append({"loc": loc, "msg": msg, "type": _printable(err.get("type", "value_error"), 60)})
    if not issues:
        issues.append({"loc": ["body"], "msg": "invalid request", "type": "value_error"})
    first = issues[0]
    where = ".".join(str(p) for p in first["loc"][1:] if p != "body") or "body"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return {"detail": issues, "message": f"{where}: {first['msg']}{more}"}


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(validation_body(exc.errors()), 422)

    # Queue full 429, deadline/sandbox/infrastructure 503, source too large 413: each error
    # carries its status and Retry-After (services/common/errors.py).
    @app.exception_handler(ServiceError)
    async def _service_error(request: Request, exc: ServiceError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, exc.status, headers=exc.headers())

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Starlette re-raises after answering, so the server logs the traceback; the client
        # gets the exception's type only.
        path = _printable(request.url.path, 100)
        detail = f"internal error ({type(exc).__name__}) while handling {path}; logged on the server"
        return JSONResponse({"detail": detail}, 500)


def create_app(settings: VerifierServiceSettings | None = None, config: VerifierConfig | None = None) -> FastAPI:
    settings = settings or get_verifier_service_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service = VerifierService(settings, config)
        app.state.service = service
        await service.start()
        try:
            yield
        finally:
            service.close()

    app = FastAPI(
        title="cppforge verifier",
        version="0.1.0",
        description="Sandboxed compile-and-run of untrusted C++ with cheat-proof test credit and rewards.",
        lifespan=lifespan,
    )
    app.include_router(router)
    app.include_router(health_router)
    _install_error_handlers(app)

    def record(scope: Any, path: str, status: int) -> None:
        service: VerifierService | None = getattr(app.state, "service", None)
        if service is not None:
            service.metrics.requests.labels(path, str(status)).inc()

    app.add_middleware(CountRequests, record=record, routes=(*router.routes, *health_router.routes))
    # A batch carries up to max_batch sources; the per-field check gives the precise 413.
    app.add_middleware(LimitBody, limit=settings.max_source_bytes * 4 + settings.max_batch * 64 * 1024)
    return app
