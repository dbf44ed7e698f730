"""OpenAI-compatible routes: speech, transcriptions, models, voices; plus health and metrics."""

from __future__ import annotations

import base64
import json
import math
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal, get_args

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import PlainTextResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from ..asr import ASR_SAMPLE_RATE
from ..audio import FORMATS, StreamEncoder
from .errors import to_api_error
from .metrics import CONTENT_TYPE
from .scheduler import Job
from .schemas import (
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
    VoiceRef,
    responses,
)
from .speech import AudioStep, consume, start_speech, stream_audio, streaming_response
from .state import ServerState, State
from .uploads import decode_upload

router = APIRouter()

TranscriptionModel = Literal[
    "whisper-1", "whisper-base", "gpt-4o-transcribe", "gpt-4o-mini-transcribe", "parrot"
]

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
            "Events when `stream_format` is `sse`). Headers: `X-Parrot-Sample-Rate`; `X-Parrot-Instruction` "
            "(how `instructions` were understood, e.g. `happy, faster (a bit)`); `X-Parrot-Warning` when part of "
            "the request cannot be followed (a dialect, singing, markup this engine leaves out).",
            "content": {**_AUDIO_CONTENT, "text/event-stream": {}},
        },
        **responses(400, 404, 429, 503),
    },
)
async def create_speech(body: SpeechRequest, state: State) -> StreamingResponse:
    started = time.perf_counter()
    voice = body.voice.id if isinstance(body.voice, VoiceRef) else body.voice
    encoder = StreamEncoder(body.response_format, state.tts.sample_rate)
    speech = await start_speech(
        state, body.input, voice, speed=body.speed, lang=body.lang, instruction=body.instructions, encoder=encoder
    )
    job, headers = speech.job, speech.headers
    if body.stream_format == "sse":
        return streaming_response(_sse(state, job, body.input, started), job, "text/event-stream", headers)
    media_type = FORMATS[body.response_format]
    return streaming_response(stream_audio(state, job, "speech", started), job, media_type, headers)


async def _sse(state: ServerState, job: Job[AudioStep], text: str, started: float) -> AsyncIterator[str]:
    seconds = 0.0
    try:
        async for piece in consume(state, job, "speech_sse", started):
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
    audio, _ = await decode_upload(state.settings, file, "file", sample_rate=ASR_SAMPLE_RATE)
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
        voices=len(state.tts.voices.list()),
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
