"""FastAPI dependencies the inference routers share: the service object, the caller (key, tier), readiness."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from .service import InferenceService
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
