"""OpenAI-compatible routes: speech, transcriptions, models, voices; plus health and metrics."""

from __future__ import annotations

import base64
import json
import math
import re
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal, get_args

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import PlainTextResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from ..asr import ASR_SAMPLE_RATE
from ..audio import FORMATS, StreamEncoder
from ..errors import UnknownVoiceError
from .app import Piece, ServerState, State, to_api_error
from .metrics import CONTENT_TYPE
from .scheduler import Job
from .schemas import (
    CLONING_UNAVAILABLE,
    INSTRUCTIONS_WARNING,
    ApiError,
    Health,
    ModelCard,
    ModelList,
    SpeechFormat,
    SpeechModel,
    SpeechRequest,
    Transcription,
    TranscriptionFormat,
    VerboseTranscription,
    VoiceInfo,
    VoiceList,
    VoiceRef,
    responses,
)

router = APIRouter()

TranscriptionModel = Literal[
    "whisper-1", "whisper-base", "gpt-4o-transcribe", "gpt-4o-mini-transcribe", "parrot"
]
VOICE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
REFERENCE_MAX_SECONDS = 120.0  # longest reference recording a cloned voice may be made from

_AUDIO_CONTENT = {FORMATS[fmt].split(";")[0]: {} for fmt in get_args(SpeechFormat)}


# -- speech ----------------------------------------------------------------------------------------


@router.post(
    "/v1/audio/speech",
    tags=["openai"],
    summary="Text to speech (OpenAI-compatible), streamed as it is made",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "Audio in `response_format`, sent in chunks as it is synthesized (or Server-Sent "
            "Events when `stream_format` is `sse`). Headers: `X-Parrot-Sample-Rate`, and "
            "`X-Parrot-Warning` when `instructions` were ignored.",
            "content": {**_AUDIO_CONTENT, "text/event-stream": {}},
        },
        **responses(400, 404, 429, 503),
    },
)
async def create_speech(body: SpeechRequest, state: State) -> StreamingResponse:
    started = time.perf_counter()
    voice = body.voice.id if isinstance(body.voice, VoiceRef) else body.voice
    rate = state.tts.sample_rate
    encoder = StreamEncoder(body.response_format, rate)
    job = state.start_speech(body.input, voice, speed=body.speed, lang=body.lang, encoder=encoder)
    headers = {"X-Parrot-Sample-Rate": str(rate)}
    if body.instructions and body.instructions.strip():
        headers["X-Parrot-Warning"] = INSTRUCTIONS_WARNING
    if body.stream_format == "sse":
        return state.streaming_response(
            _sse(state, job, body.input, started), job, "text/event-stream", headers
        )
    media_type = FORMATS[body.response_format]
    return state.streaming_response(stream_audio(state, job, "speech", started), job, media_type, headers)


async def stream_audio(
    state: ServerState, job: Job[Piece], route: str, started: float
) -> AsyncIterator[bytes]:
    async for piece in state.consume(job, route, started):
        if piece.data:
            yield piece.data


async def _sse(state: ServerState, job: Job[Piece], text: str, started: float) -> AsyncIterator[str]:
    seconds = 0.0
    try:
        async for piece in state.consume(job, "speech_sse", started):
            seconds += piece.seconds
            if piece.data:
                yield _event({"type": "speech.audio.delta", "audio": base64.b64encode(piece.data).decode()})
    except Exception as exc:  # the status line is long gone: report in-band, as OpenAI does
        yield _event({"type": "error", **to_api_error(exc).body()})
        return
    yield _event({"type": "speech.audio.done", "usage": usage_tokens(text, seconds)})


def _event(data: dict[str, Any]) -> str:
    return f"data: {json.dumps(data, separators=(',', ':'))}\n\n"


def usage_tokens(text: str, seconds: float) -> dict[str, int]:
    """OpenAI-style usage: characters / 4 in (Parrot has no tokenizer), 20 ms audio frames out."""
    input_tokens = math.ceil(len(text) / 4)
    output_tokens = round(seconds * 50)
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "total_tokens": input_tokens + output_tokens,
    }


# -- transcription ---------------------------------------------------------------------------------


@router.post(
    "/v1/audio/transcriptions",
    tags=["openai"],
    summary="Speech to text with the embedded Whisper base model (OpenAI-compatible)",
    response_model=Transcription | VerboseTranscription,
    responses={
        200: {"content": {"text/plain": {}}, "description": "JSON, or plain text for response_format=text"},
        **responses(400, 413),
    },
)
async def create_transcription(
    state: State,
    file: Annotated[UploadFile, File(description="The recording (WAV, MP3, FLAC, Ogg, AAC/M4A, WebM...)")],
    model: Annotated[
        TranscriptionModel, Form(description="Any of these names selects Whisper base")
    ] = "whisper-1",
    language: Annotated[
        str | None, Form(description="ISO-639-1 code, e.g. en, zh, ja; default: detect")
    ] = None,
    prompt: Annotated[str | None, Form(description="Text to guide spelling and style")] = None,
    response_format: Annotated[TranscriptionFormat, Form()] = "json",
    temperature: Annotated[float | None, Form(description="Accepted for compatibility; ignored")] = None,
) -> Any:
    audio, _ = await state.decode_upload(file, "file", sample_rate=ASR_SAMPLE_RATE)
    recognizer = await state.recognizer()
    try:
        transcript = await run_in_threadpool(
            lambda: recognizer.transcribe(audio, language=language or None, prompt=prompt or None)
        )
    except ValueError as exc:
        if language:  # faster-whisper's complaint about an unknown code lists the accepted ones
            raise ApiError(400, str(exc), code="unsupported_language", param="language") from exc
        raise
    if response_format == "text":
        return PlainTextResponse(transcript.text + "\n")
    if response_format == "verbose_json":
        return VerboseTranscription(
            language=transcript.language, duration=transcript.duration, text=transcript.text
        )
    return Transcription(text=transcript.text)


# -- models, health, metrics -----------------------------------------------------------------------


@router.get(
    "/v1/models",
    tags=["openai"],
    summary="Model names this server answers to",
    response_model=ModelList,
    responses=responses(),
)
async def list_models(state: State) -> ModelList:
    names = [*get_args(SpeechModel), *get_args(TranscriptionModel)]
    cards = [ModelCard(id=name, created=state.started, owned_by="parrot") for name in dict.fromkeys(names)]
    return ModelList(data=cards)


@router.get("/healthz", tags=["server"], summary="Liveness, engine and queue state", response_model=Health)
async def health(state: State) -> Health:
    stats = state.scheduler.stats()
    return Health(
        status="shutting_down" if state.scheduler.closing else "ok",
        engine=state.tts.engine.name,
        voices=len(state.tts.voices()),
        queue=stats,
    )


@router.get(
    "/metrics",
    tags=["server"],
    summary="Prometheus metrics",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {}}, "description": "Prometheus text exposition format"},
        **responses(),
    },
)
async def metrics(state: State) -> Response:
    return Response(state.metrics.render(), media_type=CONTENT_TYPE)


# -- voices ----------------------------------------------------------------------------------------


@router.get(
    "/v1/audio/voices",
    tags=["voices"],
    summary="Voices and OpenAI voice aliases",
    response_model=VoiceList,
    responses=responses(),
)
async def list_voices(state: State) -> VoiceList:
    voices = [VoiceInfo(**v.info()) for v in state.tts.voices()]
    return VoiceList(voices=voices, aliases=state.aliases)


@router.get(
    "/v1/audio/voices/{name}",
    tags=["voices"],
    summary="One voice (by name or OpenAI alias)",
    response_model=VoiceInfo,
    responses=responses(400, 404),
)
async def get_voice(name: str, state: State) -> VoiceInfo:
    check_voice_name(name)
    return VoiceInfo(**state.voice(name).info())


@router.post(
    "/v1/audio/voices",
    tags=["voices"],
    summary="Clone a voice from a recording (not available in this build yet)",
    status_code=201,
    response_model=VoiceInfo,
    responses=responses(400, 409, 413, 501),
)
async def create_voice(
    state: State,
    name: Annotated[str, Form(description="New voice name: letters, digits, '_', '.', '-' (max 64)")],
    file: Annotated[UploadFile, File(description="A clean recording of the speaker, 3-30 s")],
    text: Annotated[str | None, Form(description="What the recording says (improves cloning)")] = None,
) -> VoiceInfo:
    check_voice_name(name)
    if name in {v.name for v in state.tts.voices()}:
        raise ApiError(
            409, f"a voice named {name!r} already exists; choose another name", code="voice_exists"
        )
    await state.decode_upload(file, "file", max_seconds=REFERENCE_MAX_SECONDS)
    raise ApiError(501, CLONING_UNAVAILABLE, code="not_implemented")


@router.delete(
    "/v1/audio/voices/{name}",
    tags=["voices"],
    summary="Delete a saved voice (stock voices cannot be deleted)",
    status_code=204,
    responses=responses(400, 403, 404),
)
async def delete_voice(name: str, state: State) -> Response:
    check_voice_name(name)
    try:
        voice = state.tts.voice(name)
    except UnknownVoiceError as exc:
        raise ApiError(404, f"no saved voice named {name!r}", code=exc.kind, param="name") from exc
    if voice.kind != "cloned":
        raise ApiError(
            403,
            f"{name!r} is a {voice.kind} voice built into the engine; it cannot be deleted",
            code="voice_protected",
        )
    raise ApiError(501, CLONING_UNAVAILABLE, code="not_implemented")  # no saved-voice library yet


def check_voice_name(name: str, param: str = "name") -> None:
    """Voice names become file names later: refuse anything that could leave the voice folder."""
    if not VOICE_NAME.match(name) or ".." in name:
        raise ApiError(
            400,
            f"invalid voice name {name!r}: use 1-64 letters, digits, '_', '.' or '-', starting with a "
            "letter or digit, and no '..'",
            code="invalid_voice_name",
            param=param,
        )
