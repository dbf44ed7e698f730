"""Pure ASGI middleware (so streaming responses pass straight through): API keys, body size, latency."""

from __future__ import annotations

import hmac
import time
from urllib.parse import parse_qs

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import count_error, too_large_message
from .metrics import Metrics
from .schemas import ApiError, error_response
from .settings import ServerSettings

# Routes anyone may call even when API keys are configured.
PUBLIC_PATHS = frozenset({"/", "/healthz", "/docs", "/docs/oauth2-redirect", "/openapi.json"})


class _BodyTooLarge(StarletteHTTPException):
    pass


class LimitsMiddleware:
    """API keys, request size limit and request latency metrics."""

    def __init__(self, app: ASGIApp, settings: ServerSettings, metrics: Metrics) -> None:
        self.app = app
        self.settings = settings
        self.metrics = metrics
        self._keys = [k.encode() for k in settings.api_keys]
        # Uploads travel inside a multipart body: allow the file plus room for the form around it.
        self._max_body = settings.max_upload_bytes + 256 * 1024

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        public = scope["path"] in PUBLIC_PATHS or scope["path"].startswith("/docs/static/")
        if self._keys and not public and not self._authorized(scope):
            await self._reject_unauthorized(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        await self._http(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        status = 500
        length = _header(scope, b"content-length")
        if length is not None and length.isdigit() and int(length) > self._max_body:
            error = ApiError(413, too_large_message(self.settings), code="request_too_large")
            count_error(self.metrics, error)
            await error_response(error)(scope, receive, send)
            self._observe(scope, started, 413)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self._max_body:
                    raise _BodyTooLarge(413, too_large_message(self.settings))
            return message

        async def observed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, limited_receive, observed_send)
        finally:
            self._observe(scope, started, status)

    def _observe(self, scope: Scope, started: float, status: int) -> None:
        route = scope.get("route")
        path = getattr(route, "path", None) or "unmatched"
        self.metrics.request_seconds.labels(path, scope.get("method", ""), str(status)).observe(
            time.perf_counter() - started
        )

    def _authorized(self, scope: Scope) -> bool:
        supplied: bytes | None = None
        auth = _header(scope, b"authorization")
        if auth and auth.lower().startswith("bearer "):
            supplied = auth[7:].strip().encode()
        elif scope["type"] == "websocket":
            values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("api_key")
            supplied = values[0].encode() if values else None
        if not supplied:
            return False
        return any(hmac.compare_digest(supplied, key) for key in self._keys)

    async def _reject_unauthorized(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = ApiError(
            401,
            "missing or invalid API key; send the header 'Authorization: Bearer YOUR_KEY'"
            + (" (or ?api_key=YOUR_KEY on WebSocket URLs)" if scope["type"] == "websocket" else ""),
            code="invalid_api_key",
            headers={"WWW-Authenticate": "Bearer"},
        )
        count_error(self.metrics, error)
        if scope["type"] == "websocket":  # refuse the handshake (the client sees HTTP 403)
            await send({"type": "websocket.close", "code": 1008, "reason": "invalid API key"})
            return
        await error_response(error)(scope, receive, send)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


