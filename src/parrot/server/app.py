"""The FastAPI application: per-app state, lifespan, middleware and OpenAI-shaped error handling.

``create_app()`` returns an app that loads the model at startup (lifespan); run it with
``uvicorn.run(app, port=7860)`` or ``parrot serve``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import parse_qs

import anyio
import numpy as np
from fastapi import Depends, FastAPI, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import HTTPConnection, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import __version__
from ..audio import AudioError, StreamEncoder, decode
from ..chat.llm import LLMError
from ..engines.base import AudioChunk
from ..errors import InputError, ModelError, ParrotError, UnknownVoiceError
from ..text.segment import check_language
from ..voices.reference import load_reference
from ..voices.voice import Voice
from ..webui import router as webui_router
from .metrics import Metrics
from .scheduler import Job, QueueFull, Scheduler, SchedulerError, ShuttingDown
from .schemas import ApiError, error_response
from .settings import ServerSettings

if TYPE_CHECKING:
    from ..api import Parrot
    from ..asr import Recognizer
    from ..chat.config import ChatSettings
    from ..chat.llm import ChatModel, Message

log = logging.getLogger("uvicorn.error")  # where `parrot serve` shows uvicorn's own messages

# Routes anyone may call even when API keys are configured.
PUBLIC_PATHS = frozenset({"/", "/healthz", "/docs", "/docs/oauth2-redirect", "/openapi.json"})

API_DESCRIPTION = """Offline multilingual speech generation (Mandarin, English, Japanese).

* OpenAI-compatible: `POST /v1/audio/speech`, `POST /v1/audio/transcriptions`, `GET /v1/models`.
* Voice cloning and the voice library: `POST /v1/audio/voices` makes a voice from 3-30 s of one person
  speaking (any audio format; the transcript is optional) and saves it; its name then works as `voice`
  everywhere. List, get, rename (`PATCH`) and delete saved voices; export a voice as a shareable `.voice`
  file (`GET /v1/audio/voices/{name}/export`) and import one (`POST /v1/audio/voices/import`). Cloning
  takes several seconds of CPU; the server clones one voice at a time so speech keeps flowing.
* CosyVoice-compatible: `/inference_sft` (stock voice), `/inference_zero_shot`, `/inference_cross_lingual`
  and `/inference_instruct2` (voice of the uploaded `prompt_wav`, cloned for the request and not saved;
  `instruct_text` is not followed yet). All stream raw 16-bit PCM.
* WebSocket `/v1/audio/speech/stream` (not listed below: OpenAPI cannot describe it). Send JSON text
  frames `{"type": "session.update", "voice", "speed", "lang", "response_format"}`,
  `{"type": "text.delta", "text"}`, `{"type": "text.done"}`, `{"type": "cancel"}`; receive
  `{"type": "audio.delta", "audio": base64, "text", "sample_rate"}`, `{"type": "audio.done"}`,
  `{"type": "audio.cancelled"}`, `{"type": "session.updated"}` and `{"type": "error", "error"}`.
  Audio starts as soon as the first sentence (or long clause) of the text is complete.

* Voice chat: `POST /v1/audio/chat` takes a spoken (or typed) question and returns the answer of a language
  model (any OpenAI-compatible endpoint, `PARROT_LLM_BASE_URL`, or the embedded one) spoken in the chosen
  voice, with the transcript and the answer's text. WebSocket `/v1/realtime` (a subset of OpenAI's Realtime
  API: `input_audio_buffer.append`, `session.update`, `conversation.item.create`, `response.create`,
  `response.cancel` in; `input_audio_buffer.speech_started`/`speech_stopped`,
  `conversation.item.input_audio_transcription.completed`, `response.text.delta`, `response.audio.delta`,
  `response.done` out) is a live conversation with voice activity detection and barge-in.

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


MAX_WAITING_CLONES = 8  # clone requests queued behind the running one before new ones get 429
CHAT_SESSIONS_KEPT = 256  # conversations (by session_id) whose memory POST /v1/audio/chat keeps
PROMPT_CACHE_SIZE = 8  # one-off voices of recent CosyVoice prompt_wav uploads, kept for reuse


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


@dataclass(frozen=True)
class SpeechJob:
    """An admitted synthesis job and the response headers that describe it."""

    job: Job[Piece]
    headers: dict[str, str]  # X-Parrot-Sample-Rate, and X-Parrot-Warning / X-Parrot-Instruction when relevant
    warnings: tuple[str, ...]


def _header_value(text: str) -> str:
    """HTTP headers are Latin-1: keep ASCII, writing anything else as \\uXXXX escapes."""
    return text.encode("ascii", "backslashreplace").decode("ascii")


class ServerState:
    """Everything one app instance owns: settings, the model, the scheduler, metrics, the recognizer."""

    def __init__(
        self,
        settings: ServerSettings,
        tts: Parrot | None,
        chat: ChatSettings | None = None,
    ) -> None:
        self.settings = settings
        self._chat_settings = chat
        self._chat_model: ChatModel | None = None
        self._chat_model_lock = anyio.Lock()
        self.chat_histories: OrderedDict[str, list[Message]] = OrderedDict()  # HTTP chat memory by session_id
        self.scheduler = Scheduler(settings.workers, settings.max_jobs, settings.max_buffered_chunks)
        self.metrics = Metrics(self.scheduler)
        self.started = int(time.time())
        self._tts = tts
        self.aliases: dict[str, str] = {}
        # Cloning is CPU-heavy: one at a time, so it cannot starve the synthesis workers.
        self.clone_limiter = anyio.CapacityLimiter(1)
        self._clones_pending = 0
        self._prompt_voices: OrderedDict[str, Voice] = OrderedDict()

    # -- model ---------------------------------------------------------------------------------------

    def load(self) -> None:
        """Load (if not given) and warm up the model; runs in a thread at startup."""
        if self._tts is None:
            from ..api import Parrot

            self._tts = Parrot()
        warm_up = getattr(self._tts.engine, "warm_up", None)
        if callable(warm_up):
            warm_up()
        self.aliases = _voice_aliases(self._tts.voices.list())

    @property
    def tts(self) -> Parrot:
        if self._tts is None:
            raise ApiError(503, "the model is still loading; retry in a few seconds", code="model_loading")
        return self._tts

    def voice(self, name: str | Voice | None) -> Voice:
        """A voice by Parrot name (built-in or saved) or OpenAI alias, or a ``Voice`` object as it is;
        ``UnknownVoiceError`` lists what exists. A saved voice named like an alias wins over the alias."""
        if isinstance(name, str) and name.lower() in self.aliases:
            library = self.tts.voices
            if not library.is_builtin(name) and not library.store.exists(name):
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
        voice: str | Voice | None,
        *,
        speed: float = 1.0,
        lang: str | None = None,
        instruction: str | None = None,
        encoder: StreamEncoder | None = None,
    ) -> SpeechJob:
        """Validate now (raising ``InputError``/``ApiError``), then admit the job (``SchedulerError``)."""
        self.check_text(text)
        stream = self.tts.stream(text, self.voice(voice), speed=speed, lang=lang, instruction=instruction)
        job = self.scheduler.submit(_pieces(stream, encoder))
        headers = {"X-Parrot-Sample-Rate": str(self.tts.sample_rate)}
        if stream.warnings:
            headers["X-Parrot-Warning"] = _header_value(" | ".join(stream.warnings))
        if stream.instruction is not None:
            headers["X-Parrot-Instruction"] = _header_value(", ".join(stream.instruction.understood) or "none")
        return SpeechJob(job, headers, stream.warnings)

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

    async def read_upload(self, upload: UploadFile, param: str) -> bytes:
        """The bytes of an uploaded file, within the size limit (413)."""
        limit = self.settings.max_upload_bytes
        data = await upload.read(limit + 1)
        if len(data) > limit:
            raise ApiError(413, _too_large_message(self.settings), code="file_too_large", param=param)
        return data

    async def decode_upload(
        self, upload: UploadFile, param: str, *, sample_rate: int | None = None, max_seconds: float = 600.0
    ) -> tuple[np.ndarray, int]:
        """Read an uploaded file within the size limit (413) and decode it by content (400 if not audio)."""
        data = await self.read_upload(upload, param)
        try:
            return await run_in_threadpool(decode, data, sample_rate, max_seconds=max_seconds)
        except AudioError as exc:
            raise ApiError(400, f"{param}: {exc}", code=exc.kind, param=param) from exc

    # -- voice cloning -------------------------------------------------------------------------------

    async def clone_voice(
        self,
        data: bytes,
        transcript: str | None,
        *,
        name: str,
        param: str,
        transcript_param: str,
        language: str | None = None,
        reuse: bool = False,
    ) -> Voice:
        """Clone a voice (not saved) from an uploaded recording.

        The recording is decoded (once, by content) and checked right away, in parallel with other
        requests, so bad clips are refused at once (400 naming ``param``). The heavy part (Whisper for a
        missing ``transcript``, then the engine's fitting) runs in a thread under ``clone_limiter``; too
        many clones waiting gives 429. ``reuse`` keeps recent one-off voices by content, so a client that
        sends the same prompt with every request (as CosyVoice clients do) pays for the clone once.
        """
        tts = self.tts
        try:
            language = check_language(language)
        except InputError as exc:
            raise ApiError(400, str(exc), code=exc.kind, param="language") from exc
        transcript = transcript.strip() if transcript and transcript.strip() else None
        try:
            reference = await run_in_threadpool(load_reference, data)
        except AudioError as exc:
            raise ApiError(400, f"{param}: {exc}", code=exc.kind, param=param) from exc
        key = _prompt_key(data, transcript, language) if reuse else None
        if key is not None and (cached := self._cached_prompt(key)) is not None:
            return cached
        if self._clones_pending > MAX_WAITING_CLONES:
            raise ApiError(
                429,
                f"{self._clones_pending} voice clones are already in progress or waiting; retry shortly",
                code="rate_limit_exceeded",
                headers={"Retry-After": "15"},
            )
        self._clones_pending += 1
        try:
            async with self.clone_limiter:
                if key is not None and (cached := self._cached_prompt(key)) is not None:
                    return cached  # an identical request finished while this one waited
                started = time.perf_counter()
                try:
                    voice = await run_in_threadpool(
                        lambda: tts.clone(reference, transcript, name=name, language=language)
                    )
                except InputError as exc:  # e.g. a transcript with nothing speakable in it
                    where = transcript_param if transcript else param
                    raise ApiError(400, f"{where}: {exc}", code=exc.kind, param=where) from exc
                self.metrics.clone_seconds.observe(time.perf_counter() - started)
        finally:
            self._clones_pending -= 1
        if key is not None:
            self._prompt_voices[key] = voice
            while len(self._prompt_voices) > PROMPT_CACHE_SIZE:
                self._prompt_voices.popitem(last=False)
        return voice

    def _cached_prompt(self, key: str) -> Voice | None:
        voice = self._prompt_voices.get(key)
        if voice is not None:
            self._prompt_voices.move_to_end(key)
        return voice

    # -- speech recognition --------------------------------------------------------------------------

    async def recognizer(self) -> Recognizer:
        """The Whisper recognizer, created on first use (in a thread: loading takes a second)."""
        tts = self.tts
        return await run_in_threadpool(lambda: tts.recognizer)

    # -- voice chat ----------------------------------------------------------------------------------

    @property
    def chat_settings(self) -> ChatSettings:
        if self._chat_settings is None:
            from ..chat.config import ChatSettings

            self._chat_settings = ChatSettings.from_env()
        return self._chat_settings

    async def chat_model(self) -> ChatModel:
        """The configured language model, created on first use (loading the embedded one takes a second)."""
        async with self._chat_model_lock:
            if self._chat_model is None:
                from ..chat.config import load_model

                chat, settings = self.chat_settings, self.tts.settings
                self._chat_model = await run_in_threadpool(lambda: load_model(chat, settings))
            return self._chat_model

    def remember_chat(self, session_id: str, history: list[Message]) -> None:
        """Keep a conversation's memory for its next HTTP turn (the least recently used are forgotten)."""
        self.chat_histories[session_id] = list(history)
        self.chat_histories.move_to_end(session_id)
        while len(self.chat_histories) > CHAT_SESSIONS_KEPT:
            self.chat_histories.popitem(last=False)

    # -- errors --------------------------------------------------------------------------------------

    def count_error(self, error: ApiError) -> None:
        self.metrics.errors.labels(error.code or f"http_{error.status}").inc()


def get_state(conn: HTTPConnection) -> ServerState:
    return conn.app.state.parrot


State = Annotated[ServerState, Depends(get_state)]


def _prompt_key(data: bytes, transcript: str | None, language: str | None) -> str:
    digest = hashlib.sha256(data)
    digest.update(b"\0" + (transcript or "").encode() + b"\0" + (language or "").encode())
    return digest.hexdigest()


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
    if isinstance(exc, LLMError):
        return ApiError(502, str(exc), code=exc.kind)
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
    chat: ChatSettings | None = None,
) -> FastAPI:
    """A new app with its own scheduler and metrics. ``tts`` may be shared between apps; when it is
    None the model is loaded at startup. ``chat`` configures voice chat (default: from the environment)."""

    from . import routes_chat, routes_cosyvoice, routes_openai, routes_ws

    state = ServerState(settings or ServerSettings.from_env(), tts, chat)

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
        docs_url=None,  # served below from local files: the default page loads Swagger UI from a CDN
    )
    app.state.parrot = state
    app.openapi = lambda: _openapi_without_422(app)  # type: ignore[method-assign]
    _install_error_handlers(app, state)
    app.add_middleware(LimitsMiddleware, state=state)
    app.include_router(routes_openai.router)
    app.include_router(routes_cosyvoice.router)
    app.include_router(routes_ws.router)
    app.include_router(routes_chat.router)
    app.include_router(webui_router)  # the web UI at /

    _mount_offline_docs(app)

    return app


def _mount_offline_docs(app: FastAPI) -> None:
    """Swagger UI at /docs from the files of the ``swagger-ui-bundle`` package (works offline)."""
    import swagger_ui_bundle
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.staticfiles import StaticFiles

    app.mount("/docs/static", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="swagger-ui")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="Parrot API",
            swagger_js_url="/docs/static/swagger-ui-bundle.js",
            swagger_css_url="/docs/static/swagger-ui.css",
            swagger_favicon_url="/docs/static/favicon-32x32.png",
        )
