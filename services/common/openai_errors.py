"""Error answers in OpenAI's shape, `{"error": {"message", "type", "param", "code"}}`, for FastAPI apps.

Used by the inference and trainer services. Each ServiceError carries its status, `error_type`,
`code`, `param` and Retry-After (errors.py), so one handler renders them all. Like OpenAI, every
invalid request is a 400: a body that is not JSON (param null, the parser's complaint and where), a
field that fails validation (`param` = its dotted name, e.g. "overrides.lr", named in the message
too), a field the model does not declare ("unsupported parameter: X", code `unsupported_parameter`).
An unknown route is a 404 (`not_found`), a wrong method a 405 (`method_not_allowed`); anything
unexpected is a 500 with the exception's type only (the traceback stays in the server's log).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from .errors import ServiceError

# Starlette's own HTTP errors (no route, wrong method) -> OpenAI-style codes.
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


class ErrorBody(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    """For the OpenAPI docs: what every error answer looks like."""

    error: ErrorBody


def error_body(message: str, kind: str = "invalid_request_error") -> dict[str, object]:
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


def error_response(
    status: int, message: str, *, kind: str, param: str | None, code: str | None, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return JSONResponse(body, status, headers=headers)


def validation_error(issues: list[Any]) -> tuple[str, str | None, str | None]:
    """(message, param, code) of a RequestValidationError's first issue."""
    first: dict[str, Any] = issues[0] if issues else {"loc": (), "msg": "invalid request", "type": ""}
    kind = first.get("type", "")
    if kind == "json_invalid":  # loc is ("body", <character offset>): not a field
        offset = first["loc"][1] if len(first["loc"]) > 1 else "?"
        reason = (first.get("ctx") or {}).get("error", "malformed JSON")
        return f"the request body is not valid JSON: {reason} (at character {offset})", None, None
    param = ".".join(str(p) for p in first["loc"][1:]) or None
    if param is None and kind in ("model_attributes_type", "dict_type", "missing"):  # no body, an array, text
        return "the request body must be a JSON object (Content-Type: application/json)", None, None
    if kind == "extra_forbidden":
        return f"unsupported parameter: {param}", param, "unsupported_parameter"
    # A pydantic custom error (params.py) carries its own OpenAI-style code as its type.
    if kind == "unsupported_value":  # its message names the field already
        return str(first["msg"]), param, kind
    return f"{param or 'body'}: {first['msg']}", param, None


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def _service_error(request: Request, exc: ServiceError) -> JSONResponse:
        return error_response(
            exc.status, str(exc), kind=exc.error_type, param=exc.param, code=exc.code, headers=exc.headers()
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        message, param, code = validation_error(list(exc.errors()))
        return error_response(400, message, kind="invalid_request_error", param=param, code=code)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        where = f"{request.method} {request.url.path}"
        if exc.status_code == 404 and exc.detail == "Not Found":
            message = f"unknown route: {where}"
        elif exc.status_code == 405:
            message = f"method not allowed: {where} (allowed: {(exc.headers or {}).get('Allow', '?')})"
        else:
            message = str(exc.detail)
        code = _HTTP_CODES.get(exc.status_code)
        kind = "invalid_request_error" if exc.status_code < 500 else "server_error"
        return error_response(
            exc.status_code, message, kind=kind, param=None, code=code, headers=dict(exc.headers or {})
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Starlette re-raises after answering, so the server logs the traceback; the client gets the type only.
        message = f"internal error ({type(exc).__name__}); logged on the server"
        return error_response(500, message, kind="server_error", param=None, code=None)
