"""The inference HTTP API: OpenAI-compatible completions and chat, /v1/best_of_n, adapters, health.

Thin: parse, authenticate and check the tier, call InferenceService, answer. Errors use OpenAI's
shape {"error": {"message", "type", "param", "code"}}: 401 bad key, 403 over the tier, 404 unknown
`model` (model_not_found) or registry adapter (adapter_not_found), 409 a registry adapter of another
base model (base_model_mismatch), with damaged files (adapter_corrupt) or on a base whose files changed
since the service loaded it (base_model_changed), or a directory under a registry name
(registry_name_taken), 429 rate limited (Retry-After), 400 unsupported options, 422 malformed body, 500 an
unreadable registry (registry_unreadable) or anything unexpected, 503 while the model is loading
(model_loading, Retry-After) or after it failed to load (model_unavailable). Responses name
the model that generated: a LoRA adapter's name or the base model id (service.py says how a
request's `model` picks one).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Request
from fastapi.responses import JSONResponse, Response

from ..common.asgi import CountRequests
from ..common.openai_errors import install_error_handlers
from ..common.settings import InferenceSettings
from ..lm.model import LoadedModel
from .errors import BadRequestError
from .protocol import (
    AdapterRequest,
    AdapterResponse,
    BestOfNRequest,
    BestOfNResponse,
    ChatChoice,
    ChatChoiceMessage,
    ChatCompletionRequest,
    ChatCompletionResponse,
    CompletionChoice,
    CompletionRequest,
    CompletionResponse,
    ErrorResponse,
    ModelCard,
    ModelList,
    Usage,
)
from .service import Generation, InferenceService, completion_id
from .startup import Startup
from .tiers import Tier


def get_service(request: Request) -> InferenceService:
    service: InferenceService = request.app.state.service
    return service


Service = Annotated[InferenceService, Depends(get_service)]


def caller(service: Service, authorization: Annotated[str | None, Header()] = None) -> tuple[str, Tier]:
    return service.gate.authenticate(authorization)


Caller = Annotated[tuple[str, Tier], Depends(caller)]


def require_ready(request: Request) -> None:
    """Every /v1 endpoint: 503 `model_loading` (Retry-After) until the background load is done (startup.py)."""
    startup: Startup = request.app.state.startup
    startup.require_ready()


router = APIRouter(prefix="/v1", tags=["openai"], dependencies=[Depends(require_ready)])
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (400, 401, 403, 404, 409, 429, 503)
}


def _usage(gen: Generation) -> Usage:
    return Usage(
        prompt_tokens=gen.prompt_tokens,
        completion_tokens=gen.completion_tokens,
        total_tokens=gen.prompt_tokens + gen.completion_tokens,
    )


def _ranking(gen: Generation) -> dict[str, Any] | None:
    if gen.metrics.n == 1:
        return None
    m = gen.metrics.to_dict()
    m.pop("candidates", None)
    return m


async def _run(
    service: InferenceService,
    who: tuple[str, Tier],
    prompt: str,
    *,
    req: CompletionRequest | ChatCompletionRequest,
    best_of: int | None,
    max_tokens: int | None,
) -> Generation:
    if req.stream:
        raise BadRequestError("stream=true is not supported: best-of ranking needs every candidate", "stream")
    key, tier = who
    model = service.resolve_model(req.model)  # before the rate limit: a 404 costs no token
    candidates = service.gate.check_limits(key, tier, req.n, best_of)
    params = req.sampling_params(service.settings.max_tokens_default)
    if max_tokens is not None:
        params = dataclasses.replace(params, max_tokens=max_tokens)
    return await service.generate(prompt, candidates=candidates, n_return=req.n, params=params, tier=tier, model=model)


@router.post("/completions", response_model=CompletionResponse, responses=_ERRORS)
async def completions(req: CompletionRequest, service: Service, who: Caller) -> CompletionResponse:
    if req.logprobs is not None:
        raise BadRequestError("logprobs are not supported", "logprobs")
    try:
        prompt = req.prompt_text()
    except ValueError as exc:
        raise BadRequestError(str(exc), "prompt") from None
    gen = await _run(service, who, prompt, req=req, best_of=req.best_of, max_tokens=None)
    choices = [
        CompletionChoice(index=i, text=(prompt + text) if req.echo else text, finish_reason=finish, stop_reason=stop)
        for i, (text, finish, stop) in enumerate(gen.choices)
    ]
    return CompletionResponse(
        id=completion_id("cmpl"), created=int(time.time()), model=gen.model, choices=choices,
        usage=_usage(gen), cppforge=_ranking(gen),
    )  # fmt: skip


@router.post("/chat/completions", response_model=ChatCompletionResponse, responses=_ERRORS)
async def chat_completions(req: ChatCompletionRequest, service: Service, who: Caller) -> ChatCompletionResponse:
    prompt = service.chat_prompt([{"role": m.role, "content": m.content or ""} for m in req.messages])
    gen = await _run(service, who, prompt, req=req, best_of=req.best_of, max_tokens=req.max_completion_tokens)
    choices = [
        ChatChoice(index=i, message=ChatChoiceMessage(content=text), finish_reason=finish)
        for i, (text, finish, _stop) in enumerate(gen.choices)
    ]
    return ChatCompletionResponse(
        id=completion_id("chatcmpl"), created=int(time.time()), model=gen.model, choices=choices,
        usage=_usage(gen), cppforge=_ranking(gen),
    )  # fmt: skip


@router.get("/models", response_model=ModelList)
async def models(service: Service, who: Caller) -> ModelList:
    now = int(time.time())
    cards = [ModelCard(id=m.id, created=now, root=m.root, parent=m.parent) for m in service.served_models()]
    return ModelList(data=cards)


@router.post("/best_of_n", response_model=BestOfNResponse, responses=_ERRORS, tags=["cppforge"])
async def best_of_n(req: BestOfNRequest, service: Service, who: Caller) -> BestOfNResponse:
    key, tier = who
    model = service.resolve_model(req.model)
    candidates = service.gate.check_limits(key, tier, 1, req.n)
    gen = await service.generate(
        req.prompt, candidates=candidates, n_return=1, params=req.sampling_params(), tier=tier, model=model
    )
    return BestOfNResponse(
        best=gen.choices[0][0], best_index=gen.metrics.best_index, metrics=gen.metrics.to_dict(), model=gen.model
    )


@router.post("/adapters", response_model=AdapterResponse, tags=["cppforge"], responses=_ERRORS)
async def adapters(req: AdapterRequest, service: Service, who: Caller) -> AdapterResponse:
    # Off the event loop: the load waits for the decode in progress (the batcher's lock) and may hash the base.
    try:
        if req.registry is not None:
            done = await asyncio.to_thread(
                service.load_registry_adapter, req.registry, activate=req.activate, replace=req.replace
            )
        else:
            assert req.path is not None  # the request's validator: exactly one of path and registry
            done = await asyncio.to_thread(
                service.load_adapter, req.path, req.load_name, activate=req.activate, replace=req.replace
            )
    except (FileNotFoundError, ValueError) as exc:
        raise BadRequestError(str(exc), "registry" if req.registry else "path") from None
    return AdapterResponse(loaded=done.loaded, active=done.active, replaced=done.replaced)


health_router = APIRouter(tags=["health"])


def get_startup(request: Request) -> Startup:
    startup: Startup = request.app.state.startup
    return startup


StartupState = Annotated[Startup, Depends(get_startup)]


@health_router.get("/healthz")
async def healthz(startup: StartupState) -> dict[str, Any]:
    """Liveness: 200 from the moment the port opens; the body's `phase` says how far start-up is."""
    return startup.health()


@health_router.get("/readyz")
async def readyz(startup: StartupState) -> JSONResponse:
    """503 while bootstrapping/loading (with progress) or failed (with the reason); 200 ready or degraded."""
    status, body = startup.readiness()
    return JSONResponse(body, status)


@health_router.get("/metrics")
async def metrics(service: Service) -> Response:
    return Response(service.metrics.render(), media_type="text/plain; version=0.0.4")


def create_app(settings: InferenceSettings | None = None, loaded: LoadedModel | None = None) -> FastAPI:
    settings = settings or InferenceSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The port opens at once: the model loads (or the bootstrap model trains) in the background.
        service = InferenceService(settings, loaded)
        startup = Startup(service)
        app.state.service, app.state.startup = service, startup
        startup.start()
        try:
            yield
        finally:
            startup.stop()  # a bootstrap in progress stops at its next step; never waits for it to finish
            service.close()

    app = FastAPI(title="cppforge inference", version="0.1.0", lifespan=lifespan,
                  description="OpenAI-compatible C++ code generation with compile-aware best-of-N.")  # fmt: skip
    app.include_router(router)
    app.include_router(health_router)
    # 400 bad option, 401 bad key, 403 over the tier, 429 rate limited (Retry-After), 422 bad body.
    install_error_handlers(app)

    def record(scope: Any, path: str, status: int) -> None:
        service: InferenceService | None = getattr(app.state, "service", None)
        if service is not None:
            service.metrics.requests.labels(path, str(status)).inc()

    app.add_middleware(CountRequests, record=record)
    return app
