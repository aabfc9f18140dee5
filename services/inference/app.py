"""The inference HTTP API: OpenAI-compatible completions and chat, /v1/best_of_n, health.

Thin: parse, authenticate and check the tier, call InferenceService, answer (models and adapters:
models_api.py). Errors use OpenAI's shape {"error": {"message", "type", "param", "code"}}: 400 an
invalid request (not JSON, a bad or unsupported field: params.py; a prompt over the model's context:
context_length_exceeded, context.py), 413 a body over CPPFORGE_MAX_REQUEST_BYTES (request_too_large),
401 bad key, 403 over the tier (tier_limit_exceeded: more candidates or max_tokens than it allows, or more
sequences or tokens than its whole admission pool holds: admission.py) or an adapter change without an
admin key (admin_key_required), 404 unknown `model` (model_not_found), adapter (adapter_not_found) or route
(not_found), 405 wrong method, 409 a registry adapter of another base model (base_model_mismatch), with
damaged files (adapter_corrupt) or on a base whose files changed since the service loaded it
(base_model_changed), or a directory under a registry name (registry_name_taken), 429 rate limited
(rate_limit_exceeded) or over the sequences or tokens its tier, or the key's share of it, may have in
flight (concurrency_limit_exceeded), both with Retry-After,
500 an unreadable registry (registry_unreadable) or anything unexpected, 503 while the model is loading (model_loading,
Retry-After) or after it failed to load (model_unavailable). Responses name the model that generated: a LoRA
adapter's name or the base model id (service.py says how a request's `model` picks one). `stream=true` answers
server-sent events (sse.py) once every check above has passed; a failure after that ends the stream
with an error event.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from ..common.asgi import CountRequests, LimitBody
from ..common.openai_errors import install_error_handlers
from ..common.settings import InferenceSettings
from ..lm.model import LoadedModel
from ..lm.sampling import SamplingParams
from . import models_api
from .admission import ConcurrencyLimitError, Ticket
from .context import encode_checked
from .deps import Caller, Service, require_ready
from .errors import BadRequestError, TierLimitError
from .hangup import until_done_or_gone
from .logprobs import TokenLogprob, chat_logprobs, completion_logprobs, sample_logprobs
from .protocol import (
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
    Usage,
)
from .service import Generation, InferenceService, ModelChoice, completion_id
from .sse import stream_chat, stream_completions
from .startup import Startup
from .streaming import GenerationStream
from .tiers import Tier

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
    if not gen.ranked:  # every candidate returned: nothing was ranked
        return None
    m = gen.metrics.to_dict()
    m.pop("candidates", None)
    return m


def _prepare(
    service: InferenceService,
    who: tuple[str, Tier],
    *,
    req: CompletionRequest | ChatCompletionRequest,
    best_of: int | None,
    max_tokens: int | None,
) -> tuple[ModelChoice, int, SamplingParams]:
    """Every check before generation (so a stream's errors are still plain JSON answers):
    (the model, the candidates to draw, the sampling params)."""
    if req.stream and best_of is not None and best_of > req.n:
        raise BadRequestError(
            f"stream=true with best_of ({best_of}) > n ({req.n}): best-of ranking needs every candidate", "best_of"
        )
    if req.stream_options is not None and not req.stream:
        raise BadRequestError("stream_options needs stream=true", "stream_options")
    key, tier = who
    model = service.resolve_model(req.model)  # before the rate limit: a 404 costs no token
    asked, param = (max_tokens, "max_completion_tokens") if max_tokens is not None else (req.max_tokens, "max_tokens")
    budget = service.gate.check_max_tokens(tier, asked, default=service.settings.max_tokens_default, param=param)
    candidates = service.gate.check_limits(key, tier, req.n, best_of)
    params = dataclasses.replace(req.sampling_params(), max_tokens=budget, logprobs=req.logprobs_count())
    return model, candidates, params


def _admit(
    service: InferenceService,
    who: tuple[str, Tier],
    *,
    candidates: int,
    ids: list[int],
    params: SamplingParams,
    rows_param: str = "n",
) -> Ticket:
    """After the rate limit and the encode: hold the request's rows and tokens in its tier's pool
    (admission.py; 403 if it could never fit, 429 with Retry-After if not now)."""
    key, tier = who
    tokens = candidates * (len(ids) + params.max_tokens)
    try:
        return service.admission.admit(key, tier, rows=candidates, tokens=tokens, rows_param=rows_param)
    except (TierLimitError, ConcurrencyLimitError) as exc:
        service.metrics.admission_refused.labels(tier.name, str(exc.status)).inc()
        raise


def _stream(
    service: InferenceService, ticket: Ticket, ids: list[int], *, n: int, params: SamplingParams, model: ModelChoice
) -> GenerationStream:
    """A queued stream that releases `ticket` when its decode ends (finished or failed) or its caller goes
    away (its rows are then dropped from the queue or end at the next step). A caller that stops reading
    holds nothing once its decode has ended: the decode never waits for the reader."""
    try:
        return GenerationStream(service, ids, n=n, params=params, model=model, on_done=ticket.release)
    except BaseException:
        ticket.release()  # never queued
        raise


def _rows_param(n: int, best_of: int | None) -> str:
    return "best_of" if best_of is not None and best_of > n else "n"


async def _encode(
    service: InferenceService, prompt: str, params: SamplingParams, param: str, *, defaulted: bool
) -> tuple[list[int], SamplingParams]:
    """The prompt's ids, checked against the model's context (400 context_length_exceeded), off the event
    loop, and the params with a `defaulted` max_tokens clipped to the context the prompt leaves."""
    assert service.loaded is not None
    ids, budget = await asyncio.to_thread(
        encode_checked, service.loaded, prompt, params.max_tokens, param, defaulted=defaulted
    )
    return ids, dataclasses.replace(params, max_tokens=budget)


async def _generate(
    request: Request,
    service: InferenceService,
    prompt: str,
    ids: list[int],
    *,
    candidates: int,
    n_return: int,
    params: SamplingParams,
    tier: Tier,
    model: ModelChoice,
) -> Generation:
    """A non-streamed generation that stops decoding if the client hangs up (hangup.py)."""
    return await until_done_or_gone(
        request,
        lambda cancel: service.generate(
            prompt, candidates=candidates, n_return=n_return, params=params, tier=tier, model=model,
            prompt_ids=ids, cancel=cancel,
        ),
    )  # fmt: skip


def _include_usage(req: CompletionRequest | ChatCompletionRequest) -> bool:
    return req.stream_options is not None and req.stream_options.include_usage


async def _logprobs(service: InferenceService, gen: Generation) -> list[list[TokenLogprob]]:
    """Each choice's token logprobs (decoding the tokens' texts: off the event loop)."""
    assert service.loaded is not None
    tokenizer = service.loaded.tokenizer
    return await asyncio.to_thread(lambda: [sample_logprobs(tokenizer, s) for s in gen.samples])


@router.post("/completions", response_model=CompletionResponse, responses=_ERRORS)
async def completions(
    req: CompletionRequest, service: Service, who: Caller, request: Request
) -> CompletionResponse | Response:
    if req.echo and req.logprobs is not None:
        raise BadRequestError("echo with logprobs (the prompt's logprobs) is not supported", "echo")
    try:
        assert service.loaded is not None  # require_ready
        prompt = req.prompt_text(service.loaded.tokenizer)
    except ValueError as exc:
        raise BadRequestError(str(exc), "prompt") from None
    model, candidates, params = _prepare(service, who, req=req, best_of=req.best_of, max_tokens=None)
    ids, params = await _encode(service, prompt, params, "prompt", defaulted=req.max_tokens is None)
    ticket = _admit(
        service, who, candidates=candidates, ids=ids, params=params, rows_param=_rows_param(req.n, req.best_of)
    )
    if req.stream:
        stream = _stream(service, ticket, ids, n=req.n, params=params, model=model)
        return stream_completions(stream, echo=prompt if req.echo else None, include_usage=_include_usage(req))
    with ticket:
        gen = await _generate(request, service, prompt, ids, candidates=candidates, n_return=req.n, params=params,
                              tier=who[1], model=model)  # fmt: skip
    lps = [completion_logprobs(e) for e in await _logprobs(service, gen)] if req.logprobs is not None else None
    choices = [
        CompletionChoice(
            index=i,
            text=(prompt + text) if req.echo else text,
            finish_reason=finish,
            stop_reason=stop,
            logprobs=lps[i] if lps is not None else None,
        )
        for i, (text, finish, stop) in enumerate(gen.choices)
    ]
    return CompletionResponse(
        id=completion_id("cmpl"), created=int(time.time()), model=gen.model, choices=choices,
        usage=_usage(gen), cppforge=_ranking(gen),
    )  # fmt: skip


@router.post("/chat/completions", response_model=ChatCompletionResponse, responses=_ERRORS)
async def chat_completions(
    req: ChatCompletionRequest, service: Service, who: Caller, request: Request
) -> ChatCompletionResponse | Response:
    if req.top_logprobs is not None and not req.logprobs:
        raise BadRequestError("top_logprobs needs logprobs=true", "top_logprobs")
    messages = [{"role": m.role, "content": m.text()} for m in req.messages]
    prompt = await asyncio.to_thread(service.chat_prompt, messages)  # a template over a long chat: off the loop
    model, candidates, params = _prepare(
        service, who, req=req, best_of=req.best_of, max_tokens=req.max_completion_tokens
    )
    defaulted = req.max_tokens is None and req.max_completion_tokens is None
    ids, params = await _encode(service, prompt, params, "messages", defaulted=defaulted)
    ticket = _admit(
        service, who, candidates=candidates, ids=ids, params=params, rows_param=_rows_param(req.n, req.best_of)
    )
    if req.stream:
        stream = _stream(service, ticket, ids, n=req.n, params=params, model=model)
        return stream_chat(stream, include_usage=_include_usage(req))
    with ticket:
        gen = await _generate(request, service, prompt, ids, candidates=candidates, n_return=req.n, params=params,
                              tier=who[1], model=model)  # fmt: skip
    lps = [chat_logprobs(e) for e in await _logprobs(service, gen)] if req.logprobs else None
    choices = [
        ChatChoice(
            index=i,
            message=ChatChoiceMessage(content=text),
            finish_reason=finish,
            logprobs=lps[i] if lps is not None else None,
        )
        for i, (text, finish, _stop) in enumerate(gen.choices)
    ]
    return ChatCompletionResponse(
        id=completion_id("chatcmpl"), created=int(time.time()), model=gen.model, choices=choices,
        usage=_usage(gen), cppforge=_ranking(gen),
    )  # fmt: skip


@router.post("/best_of_n", response_model=BestOfNResponse, responses=_ERRORS, tags=["cppforge"])
async def best_of_n(req: BestOfNRequest, service: Service, who: Caller, request: Request) -> BestOfNResponse:
    key, tier = who
    model = service.resolve_model(req.model)
    asked = req.max_tokens if "max_tokens" in req.model_fields_set else None  # its default is clipped, not refused
    budget = service.gate.check_max_tokens(tier, asked, default=req.max_tokens)
    # A default n (4) is clipped to the tier's candidates, as a default max_tokens is; one asked for is checked.
    n = req.n if "n" in req.model_fields_set else min(req.n, tier.max_candidates)
    candidates = service.gate.check_limits(key, tier, 1, n, param="n")
    params = dataclasses.replace(req.sampling_params(), max_tokens=budget)
    ids, params = await _encode(service, req.prompt, params, "prompt", defaulted=asked is None)
    with _admit(service, who, candidates=candidates, ids=ids, params=params):
        gen = await _generate(request, service, req.prompt, ids, candidates=candidates, n_return=1, params=params,
                              tier=tier, model=model)  # fmt: skip
    metrics = gen.metrics.to_dict()
    if "stopped_by" in metrics:  # null, not "", where EOS or the token budget ended a candidate
        metrics["stopped_by"] = [s or None for s in metrics["stopped_by"]]
    return BestOfNResponse(best=gen.choices[0][0], best_index=gen.metrics.best_index, metrics=metrics, model=gen.model)


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
    service.metrics.observe_admission(service.admission.snapshot())
    return Response(service.metrics.render(), media_type="text/plain; version=0.0.4")


def set_cpu_threads(threads: int | None) -> None:
    """The serving process's CPU decoding threads (torch intra-op; process-wide, so `cppforge serve` sets
    them, not the app): `threads`, by default one less than the cores. Measured on 2 busy cores
    (bench/inference_fairness.py): with torch's default of 2, an 8-token request took 25 ms or, in
    stretches, 0.7 s (a step waits for the descheduled second thread); with 1, 25-50 ms throughout."""
    import torch

    torch.set_num_threads(threads or max(1, (os.cpu_count() or 1) - 1))


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
    app.include_router(models_api.router)  # /v1/models, /v1/adapters
    app.include_router(health_router)
    # OpenAI's shape: 400 invalid request, 401 bad key, 403 over the tier, 404/405 route, 429 rate limited.
    install_error_handlers(app)

    def record(scope: Any, path: str, status: int) -> None:  # path: the route's template, or "unmatched"
        service: InferenceService | None = getattr(app.state, "service", None)
        if service is not None:
            service.metrics.requests.labels(path, str(status)).inc()

    # Before auth and parsing: a huge body is refused unread (413, OpenAI's shape); counted (outer middleware).
    app.add_middleware(LimitBody, limit=settings.max_request_bytes, error_body=_too_large)
    app.add_middleware(
        CountRequests, record=record, routes=(*router.routes, *models_api.router.routes, *health_router.routes)
    )
    return app


def _too_large(message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": "request_too_large"}}
