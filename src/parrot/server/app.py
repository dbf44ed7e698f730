"""The FastAPI application: per-app state, lifespan, middleware and OpenAI-shaped error handling.

``create_app()`` returns an app that loads the model at startup (lifespan); run it with
``uvicorn.run(app, port=7860)`` or ``parrot serve``.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import parse_qs

import numpy as np
from fastapi import Depends, FastAPI, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import HTTPConnection, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import __version__
from ..audio import AudioError, StreamEncoder, decode
from ..engines.base import AudioChunk
from ..errors import InputError, ModelError, ParrotError, UnknownVoiceError
from ..voices.voice import Voice
from .metrics import Metrics
from .scheduler import Job, QueueFull, Scheduler, SchedulerError, ShuttingDown
from .schemas import ApiError, error_response
from .settings import ServerSettings

if TYPE_CHECKING:
    from ..api import Parrot
    from ..asr import Recognizer

log = logging.getLogger("uvicorn.error")  # where `parrot serve` shows uvicorn's own messages

# Routes anyone may call even when API keys are configured.
PUBLIC_PATHS = frozenset({"/", "/healthz", "/docs", "/docs/oauth2-redirect", "/openapi.json"})

API_DESCRIPTION = """Offline multilingual speech generation (Mandarin, English, Japanese).

* OpenAI-compatible: `POST /v1/audio/speech`, `POST /v1/audio/transcriptions`, `GET /v1/models`.
* CosyVoice-compatible: `/inference_sft` (and, once voice cloning exists, the other `/inference_*`).
* WebSocket `/v1/audio/speech/stream` (not listed below: OpenAPI cannot describe it). Send JSON text
  frames `{"type": "session.update", "voice", "speed", "lang", "response_format"}`,
  `{"type": "text.delta", "text"}`, `{"type": "text.done"}`, `{"type": "cancel"}`; receive
  `{"type": "audio.delta", "audio": base64, "text", "sample_rate"}`, `{"type": "audio.done"}`,
  `{"type": "audio.cancelled"}`, `{"type": "session.updated"}` and `{"type": "error", "error"}`.
  Audio starts as soon as the first sentence (or long clause) of the text is complete.

Every error has OpenAI's shape `{"error": {"message", "type", "param", "code"}}`. When the server has API
keys, send `Authorization: Bearer KEY` (WebSocket: that header or `?api_key=KEY`). Too many streams at
once: HTTP 429 with `Retry-After`.
"""

# OpenAI's voice names and the gender each sounds; each maps to a stock voice of that gender.
OPENAI_VOICES: dict[str, str] = {
    "alloy": "female", "coral": "female", "nova": "female", "sage": "female", "shimmer": "female",
    "marin": "female", "ash": "male", "ballad": "male", "echo": "male", "fable": "male", "onyx": "male",
    "verse": "male", "cedar": "male",
}  # fmt: skip


def _default_recognizer() -> Recognizer:
    from ..asr import Recognizer

    return Recognizer()


@dataclass(frozen=True)
class Piece:
    """One scheduler step of a speech job: the engine's chunk (None for the encoder's tail) and the
    encoded bytes ready to send (empty when the job was started without an encoder)."""

    chunk: AudioChunk | None
    data: bytes

    @property
    def seconds(self) -> float:
        return self.chunk.duration if self.chunk is not None else 0.0


def _pieces(chunks: Iterator[AudioChunk], encoder: StreamEncoder | None) -> Iterator[Piece]:
    """Runs in scheduler workers: one model call (and its encoding) per ``next()``."""
    for chunk in chunks:
        yield Piece(chunk, encoder.write(chunk.audio) if encoder else b"")
    if encoder is not None and (tail := encoder.close()):
        yield Piece(None, tail)


class ServerState:
    """Everything one app instance owns: settings, the model, the scheduler, metrics, the recognizer."""

    def __init__(
        self,
        settings: ServerSettings,
        tts: Parrot | None,
        recognizer_factory: Callable[[], Recognizer],
    ) -> None:
        self.settings = settings
        self.scheduler = Scheduler(settings.workers, settings.max_jobs, settings.max_buffered_chunks)
        self.metrics = Metrics(self.scheduler)
        self.started = int(time.time())
        self._tts = tts
        self._recognizer_factory = recognizer_factory
        self._recognizer: Recognizer | None = None
        self._recognizer_lock = threading.Lock()
        self.aliases: dict[str, str] = {}

    # -- model ---------------------------------------------------------------------------------------

    def load(self) -> None:
        """Load (if not given) and warm up the model; runs in a thread at startup."""
        if self._tts is None:
            from ..api import Parrot

            self._tts = Parrot()
        warm_up = getattr(self._tts.engine, "warm_up", None)
        if callable(warm_up):
            warm_up()
        self.aliases = _voice_aliases(self._tts.voices())

    @property
    def tts(self) -> Parrot:
        if self._tts is None:
            raise ApiError(503, "the model is still loading; retry in a few seconds", code="model_loading")
        return self._tts

    def voice(self, name: str | None) -> Voice:
        """A voice by Parrot name or OpenAI alias; ``UnknownVoiceError`` lists what exists."""
        if name and name not in {v.name for v in self.tts.voices()} and name.lower() in self.aliases:
            name = self.aliases[name.lower()]
        return self.tts.voice(name)

    def check_text(self, text: str, queued: int = 0) -> None:
        """400 if ``text`` (plus ``queued`` characters already waiting) is over the text limit."""
        limit = self.settings.max_text_chars
        if len(text) + queued > limit:
            raise ApiError(
                400,
                f"text is {len(text) + queued:,} characters; the limit is {limit:,} (split it, or raise "
                "PARROT_MAX_TEXT_CHARS on the server)",
                code="text_too_long",
                param="input",
            )

    def start_speech(
        self,
        text: str,
        voice: str | None,
        *,
        speed: float = 1.0,
        lang: str | None = None,
        encoder: StreamEncoder | None = None,
    ) -> Job[Piece]:
        """Validate now (raising ``InputError``/``ApiError``), then admit the job (``SchedulerError``)."""
        self.check_text(text)
        chunks = self.tts.stream(text, self.voice(voice), speed=speed, lang=lang)
        return self.scheduler.submit(_pieces(chunks, encoder))

    async def consume(self, job: Job[Piece], route: str, started: float) -> AsyncIterator[Piece]:
        """The job's pieces, recording time-to-first-audio and audio produced; cancels the job when the
        consumer stops early (client gone) and counts failures."""
        first = True
        try:
            async for piece in job:
                if first and (piece.data or piece.chunk is not None):
                    self.metrics.first_audio_seconds.labels(route).observe(time.perf_counter() - started)
                    first = False
                if piece.seconds:
                    self.metrics.audio_seconds.labels(route).inc(piece.seconds)
                yield piece
        except Exception as exc:
            self.count_error(to_api_error(exc))
            log.error("speech stream failed after it started: %s", exc)
            raise
        finally:
            job.cancel()

    def streaming_response(
        self, content: AsyncIterator[bytes | str], job: Job[Any], media_type: str, headers: dict[str, str]
    ) -> StreamingResponse:
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", **headers}
        return JobStreamingResponse(content, job, media_type=media_type, headers=headers)

    # -- uploads -------------------------------------------------------------------------------------

    async def decode_upload(
        self, upload: UploadFile, param: str, *, sample_rate: int | None = None, max_seconds: float = 600.0
    ) -> tuple[np.ndarray, int]:
        """Read an uploaded file within the size limit (413) and decode it by content (400 if not audio)."""
        limit = self.settings.max_upload_bytes
        data = await upload.read(limit + 1)
        if len(data) > limit:
            raise ApiError(413, _too_large_message(self.settings), code="file_too_large", param=param)
        try:
            return await run_in_threadpool(decode, data, sample_rate, max_seconds=max_seconds)
        except AudioError as exc:
            raise ApiError(400, f"{param}: {exc}", code=exc.kind, param=param) from exc

    # -- speech recognition --------------------------------------------------------------------------

    async def recognizer(self) -> Recognizer:
        """The Whisper recognizer, created on first use (once per app, in a thread)."""
        if self._recognizer is None:
            await run_in_threadpool(self._load_recognizer)
        assert self._recognizer is not None
        return self._recognizer

    def _load_recognizer(self) -> None:
        with self._recognizer_lock:
            if self._recognizer is None:
                self._recognizer = self._recognizer_factory()

    # -- errors --------------------------------------------------------------------------------------

    def count_error(self, error: ApiError) -> None:
        self.metrics.errors.labels(error.code or f"http_{error.status}").inc()


def get_state(conn: HTTPConnection) -> ServerState:
    return conn.app.state.parrot


State = Annotated[ServerState, Depends(get_state)]


def _voice_aliases(voices: list[Voice]) -> dict[str, str]:
    """Spread OpenAI's names over the stock voices of the matching gender (all voices if none)."""
    names = [v.name for v in voices if v.kind == "stock"] or [v.name for v in voices]
    aliases: dict[str, str] = {}
    for gender in ("female", "male"):
        pool = [v.name for v in voices if v.gender == gender and v.name in names] or names
        wanted = [alias for alias, g in OPENAI_VOICES.items() if g == gender]
        for i, alias in enumerate(wanted):
            aliases[alias] = pool[i % len(pool)]
    return aliases


class JobStreamingResponse(StreamingResponse):
    """A streaming response that cancels its scheduler job however it ends (done, client gone, error)."""

    def __init__(self, content: AsyncIterator[bytes | str], job: Job[Any], **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self._job = job

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._job.cancel()


# -- errors ----------------------------------------------------------------------------------------


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
    if isinstance(exc, InputError):
        return ApiError(400, str(exc), code=exc.kind)
    if isinstance(exc, ModelError):
        return ApiError(503, f"the speech model is unavailable: {exc}", code=exc.kind)
    if isinstance(exc, ParrotError):
        return ApiError(500, str(exc), code=exc.kind)
    if isinstance(exc, RequestValidationError):
        return _validation_error(exc)
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


def _openapi_without_422(app: FastAPI) -> dict[str, Any]:
    """FastAPI documents its validation errors as 422 with its own body; here they are 400s in OpenAI's
    shape (documented on each route), so drop the 422 entries and their schemas."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        for operation in (op for path in schema.get("paths", {}).values() for op in path.values()):
            operation.get("responses", {}).pop("422", None)
        for name in ("HTTPValidationError", "ValidationError"):
            schema.get("components", {}).get("schemas", {}).pop(name, None)
        app.openapi_schema = schema
    return app.openapi_schema


def _too_large_message(settings: ServerSettings) -> str:
    return (
        f"upload is larger than the {settings.max_upload_mb:g} MB limit (PARROT_MAX_UPLOAD_MB on the server)"
    )


def _install_error_handlers(app: FastAPI, state: ServerState) -> None:
    async def handle(request: Request, exc: Exception) -> Any:
        error = to_api_error(exc, request)
        state.count_error(error)
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


# -- middleware (pure ASGI, so streaming responses pass straight through) ---------------------------


class _BodyTooLarge(StarletteHTTPException):
    pass


class LimitsMiddleware:
    """API keys, request size limit and request latency metrics."""

    def __init__(self, app: ASGIApp, state: ServerState) -> None:
        self.app = app
        self.state = state
        self._keys = [k.encode() for k in state.settings.api_keys]
        # Uploads travel inside a multipart body: allow the file plus room for the form around it.
        self._max_body = state.settings.max_upload_bytes + 256 * 1024

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if self._keys and scope["path"] not in PUBLIC_PATHS and not self._authorized(scope):
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
            error = ApiError(413, _too_large_message(self.state.settings), code="request_too_large")
            self.state.count_error(error)
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
                    raise _BodyTooLarge(413, _too_large_message(self.state.settings))
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
        self.state.metrics.request_seconds.labels(path, scope.get("method", ""), str(status)).observe(
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
        self.state.count_error(error)
        if scope["type"] == "websocket":  # refuse the handshake (the client sees HTTP 403)
            await send({"type": "websocket.close", "code": 1008, "reason": "invalid API key"})
            return
        await error_response(error)(scope, receive, send)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


# -- the app ---------------------------------------------------------------------------------------


def create_app(
    tts: Parrot | None = None,
    settings: ServerSettings | None = None,
    recognizer_factory: Callable[[], Recognizer] = _default_recognizer,
) -> FastAPI:
    """A new app with its own scheduler and metrics. ``tts`` may be shared between apps; when it is
    None the model is loaded at startup."""
    from fastapi.responses import RedirectResponse

    from . import routes_cosyvoice, routes_openai, routes_ws

    state = ServerState(settings or ServerSettings.from_env(), tts, recognizer_factory)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        started = time.perf_counter()
        await run_in_threadpool(state.load)
        state.scheduler.start()
        log.info(
            "parrot: model ready in %.1f s (%d workers, up to %d streams)",
            time.perf_counter() - started,
            state.settings.workers,
            state.settings.max_jobs,
        )
        try:
            yield
        finally:
            await state.scheduler.shutdown(state.settings.shutdown_timeout)

    app = FastAPI(
        title="Parrot",
        version=__version__,
        description=API_DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.parrot = state
    app.openapi = lambda: _openapi_without_422(app)  # type: ignore[method-assign]
    _install_error_handlers(app, state)
    app.add_middleware(LimitsMiddleware, state=state)
    app.include_router(routes_openai.router)
    app.include_router(routes_cosyvoice.router)
    app.include_router(routes_ws.router)

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/docs")

    return app
