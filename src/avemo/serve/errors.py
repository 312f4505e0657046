"""The service's errors: :class:`ServiceError` (an HTTP status, a machine-readable code and a one-line message),
the JSON every error is answered with, ``{"error": {"code", "message"}}``, and the app's exception handlers."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from avemo.errors import AudioTooShortError, AvemoError, MediaDecodeError, ParameterError

log = logging.getLogger(__name__)


class ServiceError(Exception):
    """An error the service answers with ``status`` and ``{"error": {"code", "message"}}``."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": " ".join(str(message).split())}}, status_code=status,
                        headers=headers)


def avemo_error_status(exc: AvemoError) -> tuple[int, str]:
    """The HTTP status and code of an error avemo raised while predicting."""
    if isinstance(exc, AudioTooShortError):
        return 422, "too_short"
    if isinstance(exc, MediaDecodeError):
        return 422, "undecodable"
    if isinstance(exc, ParameterError):
        return 422, "invalid_request"
    return 422, "unprocessable"


async def _service_error(request: Request, exc: ServiceError) -> JSONResponse:
    return error_response(exc.status, exc.code, exc.message, exc.headers)


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:3])
    return error_response(422, "invalid_request", problems)


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return error_response(exc.status_code, code, str(exc.detail))


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("internal error on %s", request.url.path)
    return error_response(500, "internal", f"internal error ({type(exc).__name__}); the server keeps running")


def add_error_handlers(app: FastAPI) -> None:
    """Answer every error as JSON ``{"error": {"code", "message"}}``: service errors with their status, invalid
    parameters 422, unknown paths 404, anything unforeseen 500 (logged; the server keeps running)."""
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _internal_error)
