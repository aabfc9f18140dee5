"""The served models and adapters: `GET /v1/models[/{id}]` (any key) and `/v1/adapters`.

Loading, activating and unloading adapters is an operator's action: once the service has any key,
it needs one from CPPFORGE_ADMIN_KEYS (403 `admin_key_required`), and an open service takes them from
loopback clients only (exposure.py); `path` loads must resolve inside
CPPFORGE_ADAPTER_DIRS, and every failed one answers the same 400 `adapter_invalid` whatever is on
disk (adapter_paths.py). Serving a loaded adapter (`model=<name>`) and listing them stay open to
every key.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request

from .deps import Caller, Service, require_ready
from .errors import BadRequestError, ModelNotFoundError
from .exposure import require_admin
from .protocol import AdapterList, AdapterRequest, AdapterResponse, ErrorResponse, ModelCard, ModelList
from .service import ServedModel

router = APIRouter(prefix="/v1", dependencies=[Depends(require_ready)])
_ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorResponse} for code in (400, 401, 403, 404, 409, 503)}


def _card(m: ServedModel) -> ModelCard:
    return ModelCard(id=m.id, created=m.created, root=m.root, parent=m.parent)


@router.get("/models", response_model=ModelList, tags=["openai"])
async def models(service: Service, who: Caller) -> ModelList:
    return ModelList(data=[_card(m) for m in service.served_models()])


@router.get("/models/{model_id:path}", response_model=ModelCard, responses=_ERRORS, tags=["openai"])
async def model(model_id: str, service: Service, who: Caller) -> ModelCard:
    if not model_id:  # `GET /v1/models/`: no id is no model (a route-style 404, as for any unknown path)
        raise HTTPException(404)
    served = service.served_models()
    for m in served:
        if m.id == model_id:
            return _card(m)
    raise ModelNotFoundError(model_id, [m.id for m in served])


@router.get("/adapters", response_model=AdapterList, responses=_ERRORS, tags=["cppforge"])
async def list_adapters(service: Service, who: Caller) -> AdapterList:
    assert service.loaded is not None
    return AdapterList(loaded=service.adapters, active=service.loaded.active_adapter)


@router.post("/adapters", response_model=AdapterResponse, responses=_ERRORS, tags=["cppforge"])
async def load_adapter(req: AdapterRequest, request: Request, service: Service, who: Caller) -> AdapterResponse:
    require_admin(service.gate, who[0], request.client.host if request.client else None)
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


@router.delete("/adapters/{name}", response_model=AdapterList, responses=_ERRORS, tags=["cppforge"])
async def unload_adapter(name: str, request: Request, service: Service, who: Caller) -> AdapterList:
    """Unload adapter `name`: requests naming it 404 from then on; the base is the default if it was active."""
    require_admin(service.gate, who[0], request.client.host if request.client else None)
    done = await asyncio.to_thread(service.unload_adapter, name)
    return AdapterList(loaded=done.loaded, active=done.active)
