"""FastAPI dependencies the inference routers share: the service object and the caller (key, tier)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from .service import InferenceService
from .tiers import Tier


def get_service(request: Request) -> InferenceService:
    service: InferenceService = request.app.state.service
    return service


Service = Annotated[InferenceService, Depends(get_service)]


def caller(service: Service, authorization: Annotated[str | None, Header()] = None) -> tuple[str, Tier]:
    return service.gate.authenticate(authorization)


Caller = Annotated[tuple[str, Tier], Depends(caller)]
