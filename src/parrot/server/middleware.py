"""Pure ASGI middleware (so streaming responses pass straight through): API keys, body size, latency."""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from collections import OrderedDict
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


class RateLimiter:
    """A token bucket per client: ``per_minute`` requests a minute on average, bursts up to the same number.
    Only the ``MAX_CLIENTS`` most recently seen clients are tracked."""

    MAX_CLIENTS = 10_000

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client -> (tokens, when)

    def retry_after(self, client: str, now: float | None = None) -> int:
        """0 if ``client`` may make a request now (and count it), else the seconds to wait."""
        now = time.monotonic() if now is None else now
        tokens, when = self._buckets.pop(client, (float(self.per_minute), now))
        tokens = min(float(self.per_minute), tokens + (now - when) * self.per_minute / 60.0)
        wait = 0 if tokens >= 1.0 else math.ceil((1.0 - tokens) * 60.0 / self.per_minute)
        self._buckets[client] = (tokens - 1.0 if wait == 0 else tokens, now)
        while len(self._buckets) > self.MAX_CLIENTS:
            self._buckets.popitem(last=False)
        return wait


class LimitsMiddleware:
    """API keys, per-client rate limits, request size limits and request latency metrics."""

    def __init__(self, app: ASGIApp, settings: ServerSettings, metrics: Metrics) -> None:
        self.app = app
        self.settings = settings
        self.metrics = metrics
        self._keys = [k.encode() for k in settings.api_keys]
        # Uploads travel inside a multipart body: allow the file plus room for the form around it.
        self._max_body = settings.max_upload_bytes + 256 * 1024
        self._limiter = RateLimiter(settings.rate_limit) if settings.rate_limit > 0 else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        public = scope["path"] in PUBLIC_PATHS or scope["path"].startswith("/docs/static/")
        key = self._supplied_key(scope)
        if self._keys and not public and not self._valid(key):
            await self._reject_unauthorized(scope, receive, send)
            return
        if self._limiter is not None and not public and scope.get("method") != "OPTIONS":
            client = "key:" + hashlib.sha256(key).hexdigest() if key and self._keys else _client_address(scope)
            if wait := self._limiter.retry_after(client):
                await self._reject(scope, receive, send, ApiError(
                    429,
                    f"too many requests: the limit is {self._limiter.per_minute} a minute (PARROT_RATE_LIMIT on "
                    f"the server); retry in {wait} s",
                    code="rate_limit_exceeded",
                    headers={"Retry-After": str(wait)},
                ))  # fmt: skip
                return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        await self._http(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        status = 500
        length = _header(scope, b"content-length")
        is_json = (_header(scope, b"content-type") or "").lower().startswith("application/json")
        # JSON is parsed in one piece: keep it to what the longest text needs. Uploads may be larger.
        max_body, message = (
            (self.settings.max_json_bytes, f"JSON body is over the {self.settings.max_json_bytes:,}-byte limit")
            if is_json
            else (self._max_body, too_large_message(self.settings))
        )
        if length is not None and length.isdigit() and int(length) > max_body:
            error = ApiError(413, message, code="request_too_large")
            count_error(self.metrics, error)
            await error_response(error)(scope, receive, send)
            self._observe(scope, started, 413)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            event = await receive()
            if event["type"] == "http.request":
                received += len(event.get("body", b""))
                if received > max_body:
                    raise _BodyTooLarge(413, message)
            return event

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

    @staticmethod
    def _supplied_key(scope: Scope) -> bytes | None:
        auth = _header(scope, b"authorization")
        if auth and auth.lower().startswith("bearer "):
            return auth[7:].strip().encode() or None
        if scope["type"] == "websocket":
            values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("api_key")
            return values[0].encode() if values and values[0] else None
        return None

    def _valid(self, supplied: bytes | None) -> bool:
        return supplied is not None and any(hmac.compare_digest(supplied, key) for key in self._keys)

    async def _reject_unauthorized(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = ApiError(
            401,
            "missing or invalid API key; send the header 'Authorization: Bearer YOUR_KEY'"
            + (" (or ?api_key=YOUR_KEY on WebSocket URLs)" if scope["type"] == "websocket" else ""),
            code="invalid_api_key",
            headers={"WWW-Authenticate": "Bearer"},
        )
        await self._reject(scope, receive, send, error)

    async def _reject(self, scope: Scope, receive: Receive, send: Send, error: ApiError) -> None:
        count_error(self.metrics, error)
        if scope["type"] == "websocket":  # refuse the handshake (the client sees HTTP 403)
            await send({"type": "websocket.close", "code": 1008, "reason": error.message[:120]})
            return
        await error_response(error)(scope, receive, send)


def _client_address(scope: Scope) -> str:
    client = scope.get("client")
    return f"addr:{client[0]}" if client else "addr:unknown"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


