"""The one mapping from any exception to the OpenAI-shaped error a client sees, and the app's handlers."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import HTTPConnection, Request

from ..chat.llm import ChatRuntimeNotReady, LLMError
from ..errors import (
    InputError,
    LibraryDamagedError,
    ModelError,
    ParrotError,
    ProtectedVoiceError,
    UnknownVoiceError,
    VoiceExistsError,
)
from .metrics import Metrics
from .scheduler import QueueFull, SchedulerError, ShuttingDown
from .schemas import ApiError, error_response
from .settings import ServerSettings

log = logging.getLogger("uvicorn.error")  # where `parrot serve` shows uvicorn's own messages
T = TypeVar("T")


def to_api_error(exc: BaseException, request: HTTPConnection | None = None) -> ApiError:
    """The one mapping from any exception to the status, message and code the client sees."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, QueueFull):
        return ApiError(
            429, str(exc), code="rate_limit_exceeded", headers={"Retry-After": str(exc.retry_after)}
        )
    if isinstance(exc, ShuttingDown):
        return ApiError(503, str(exc), code="shutting_down", headers={"Retry-After": "5"})
    if isinstance(exc, SchedulerError):
        return ApiError(503, str(exc), code="unavailable")
    if isinstance(exc, UnknownVoiceError):
        return ApiError(404, str(exc), code=exc.kind, param="voice")
    if isinstance(exc, VoiceExistsError):
        return ApiError(409, str(exc), code=exc.kind, param="name")
    if isinstance(exc, ProtectedVoiceError):
        return ApiError(403, str(exc), code=exc.kind, param="name")
    if isinstance(exc, LibraryDamagedError):
        return ApiError(503, str(exc), code=exc.kind, headers={"Retry-After": "60"})
    if isinstance(exc, InputError):
        return ApiError(400, str(exc), code=exc.kind)
    if isinstance(exc, ChatRuntimeNotReady):
        retry = "30" if exc.status.state == "building" else "300"
        return ApiError(503, str(exc), code=exc.kind, headers={"Retry-After": retry})
    if isinstance(exc, LLMError):
        return ApiError(502, str(exc), code=exc.kind)
    if isinstance(exc, ModelError):
        return ApiError(503, f"the speech model is unavailable: {exc}", code=exc.kind)
    if isinstance(exc, ParrotError):
        return ApiError(500, str(exc), code=exc.kind)
    if isinstance(exc, RequestValidationError):
        return _validation_error(exc)
    if isinstance(exc, RecursionError):  # json.loads of a body nested thousands of levels deep
        return ApiError(400, "the request body is nested too deeply", code="invalid_request")
    if isinstance(exc, StarletteHTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else "request failed"
        where = f"{request.url.path}" if request is not None else "this path"
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"there is no endpoint at {where}; see /docs for the API"
        elif exc.status_code == 405 and detail == "Method Not Allowed":
            detail = f"{where} does not accept this method; see /docs for the API"
        code = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}.get(exc.status_code)
        return ApiError(exc.status_code, detail, code=code, headers=dict(exc.headers or {}))
    return ApiError(500, "internal server error; the details are in the server log", code="internal_error")


def _validation_error(exc: RequestValidationError) -> ApiError:
    errors = list(exc.errors())
    if not errors:
        return ApiError(400, "invalid request", code="invalid_request")
    first = errors[0]
    where = [p for p in first.get("loc", ()) if p not in ("body", "query", "path", "header", "form")]
    param = str(where[0]) if where and isinstance(where[0], str) else None
    if first.get("type") == "missing":
        message = f"{param!r} is required" if param else "a required field is missing"
    elif first.get("type") == "json_invalid":
        message = f"the request body is not valid JSON ({first.get('ctx', {}).get('error', 'parse error')})"
    else:
        message = f"{param}: {first.get('msg')}" if param else str(first.get("msg"))
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return ApiError(400, message, code="invalid_value" if param else "invalid_request", param=param)




def checked(check: Callable[[Any], T], value: Any, param: str) -> T:
    """``check(value)``, with an ``InputError`` turned into a 400 naming the request field ``param``."""
    try:
        return check(value)
    except InputError as exc:
        raise ApiError(400, str(exc), code=exc.kind, param=param) from exc


def too_large_message(settings: ServerSettings) -> str:
    return (
        f"upload is larger than the {settings.max_upload_mb:g} MB limit (PARROT_MAX_UPLOAD_MB on the server)"
    )


def count_error(metrics: Metrics, error: ApiError) -> None:
    metrics.errors.labels(error.code or f"http_{error.status}").inc()


def install_error_handlers(app: FastAPI, metrics: Metrics) -> None:
    """Every exception a route raises becomes an OpenAI-shaped error, counted in ``metrics``."""

    async def handle(request: Request, exc: Exception) -> Any:
        error = to_api_error(exc, request)
        count_error(metrics, error)
        if error.status >= 500 and not isinstance(exc, ApiError | ParrotError | SchedulerError):
            log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return error_response(error)

    for kind in (
        ApiError,
        ParrotError,
        SchedulerError,
        RequestValidationError,
        StarletteHTTPException,
        Exception,
    ):
        app.add_exception_handler(kind, handle)


