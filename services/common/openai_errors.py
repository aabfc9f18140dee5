"""Error answers in OpenAI's shape, `{"error": {"message", "type", "param", "code"}}`, for FastAPI apps.

Used by the inference and trainer services. Each ServiceError carries its status, `error_type`,
`code`, `param` and Retry-After (errors.py), so one handler renders them all; a malformed body is
a 422 naming the first bad field in `param`; anything unexpected is a 500 with the exception's type
only (the traceback stays in the server's log).
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from .errors import ServiceError


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


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def _service_error(request: Request, exc: ServiceError) -> JSONResponse:
        return error_response(
            exc.status, str(exc), kind=exc.error_type, param=exc.param, code=exc.code, headers=exc.headers()
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        param = ".".join(str(p) for p in first["loc"][1:]) or None
        message = f"{param or 'body'}: {first['msg']}"
        return error_response(422, message, kind="invalid_request_error", param=param, code=None)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Starlette re-raises after answering, so the server logs the traceback; the client gets the type only.
        message = f"internal error ({type(exc).__name__}); logged on the server"
        return error_response(500, message, kind="server_error", param=None, code=None)
