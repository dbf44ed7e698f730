"""OpenAI-compatible routes: speech, transcriptions, models, voices; plus health and metrics."""

from __future__ import annotations

import base64
import json
import math
import time
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, Literal, get_args
from urllib.parse import quote

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import PlainTextResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from ..asr import ASR_SAMPLE_RATE
from ..audio import FORMATS, StreamEncoder
from ..errors import InputError, UnknownVoiceError
from ..voices.library import VoiceLibrary
from ..voices.store import decode_voice_file, validate_name
from ..voices.voice import Voice
from .app import Piece, ServerState, State, to_api_error
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
    VoiceInfo,
    VoiceList,
    VoiceRef,
    VoiceRename,
    responses,
)

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
    speech = state.start_speech(
        body.input, voice, speed=body.speed, lang=body.lang, instruction=body.instructions, encoder=encoder
    )
    job, headers = speech.job, speech.headers
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


# -- voices ----------------------------------------------------------------------------------------

VOICE_NAME_HELP = (
    "1-64 characters: letters of any script, digits, '_', '-', '.' and inner spaces; not starting or ending "
    "with a space or '.', no '..'"
)


@router.get(
    "/v1/audio/voices",
    tags=["voices"],
    summary="Voices (built-in and saved) and OpenAI voice aliases",
    response_model=VoiceList,
    responses=responses(),
)
async def list_voices(state: State) -> VoiceList:
    voices = await run_in_threadpool(state.tts.voices.list)
    return VoiceList(voices=[voice_info(v) for v in voices], aliases=state.aliases)


@router.get(
    "/v1/audio/voices/{name}",
    tags=["voices"],
    summary="One voice (by name or OpenAI alias)",
    response_model=VoiceInfo,
    responses=responses(400, 404),
)
async def get_voice(name: str, state: State) -> VoiceInfo:
    name = check_voice_name(name)
    return voice_info(await run_in_threadpool(state.voice, name))


@router.post(
    "/v1/audio/voices",
    tags=["voices"],
    summary="Clone a voice from a recording and save it",
    description="Takes several seconds (one clone at a time per server). The recording can be any audio "
    "format; 3-30 s of one person speaking clearly, without music, works best. Without `text`, the words are "
    "transcribed with Whisper first. The new voice's name then works as `voice` in every speech route.",
    status_code=201,
    response_model=VoiceInfo,
    responses=responses(400, 409, 413, 429, 503),
)
async def create_voice(
    state: State,
    response: Response,
    name: Annotated[str, Form(description=f"Name of the new voice: {VOICE_NAME_HELP}")],
    file: Annotated[UploadFile, File(description="A clean recording of the speaker, 3-30 s, any format")],
    text: Annotated[
        str | None, Form(description="What the recording says (default: transcribed with Whisper)")
    ] = None,
    language: Annotated[
        str | None, Form(description="Language of the recording: zh, en, ja or auto (default: detect)")
    ] = None,
) -> VoiceInfo:
    name = check_voice_name(name)
    library = state.tts.voices
    await run_in_threadpool(_refuse_taken_name, library, name)
    data = await state.read_upload(file, "file")
    voice = await state.clone_voice(
        data, text, name=name, param="file", transcript_param="text", language=language
    )
    saved = await _save(library.save, voice)
    response.headers["Location"] = f"/v1/audio/voices/{quote(saved.name)}"
    return voice_info(saved)


@router.post(
    "/v1/audio/voices/import",
    tags=["voices"],
    summary="Import a .voice file (from GET /v1/audio/voices/{name}/export) into the library",
    status_code=201,
    response_model=VoiceInfo,
    responses=responses(400, 409, 413),
)
async def import_voice(
    state: State,
    response: Response,
    file: Annotated[UploadFile, File(description="A Parrot .voice file")],
    name: Annotated[
        str | None, Form(description=f"Save it under this name instead of its own: {VOICE_NAME_HELP}")
    ] = None,
) -> VoiceInfo:
    name = check_voice_name(name) if name is not None and name.strip() else None
    data = await state.read_upload(file, "file")
    try:
        voice = await run_in_threadpool(lambda: decode_voice_file(data, name=name))
    except InputError as exc:
        raise ApiError(400, f"file: {exc}", code="invalid_voice_file", param="file") from exc
    engine = state.tts.engine.name
    if voice.engine != engine:
        raise ApiError(
            400,
            f"file: this voice was made for the {voice.engine} engine; this server runs {engine}",
            code="invalid_voice_file",
            param="file",
        )
    saved = await _save(state.tts.voices.save, voice)
    response.headers["Location"] = f"/v1/audio/voices/{quote(saved.name)}"
    return voice_info(saved)


@router.get(
    "/v1/audio/voices/{name}/export",
    tags=["voices"],
    summary="Download a voice as a shareable .voice file (import it with POST /v1/audio/voices/import)",
    response_class=Response,
    responses={
        200: {"content": {"application/zip": {}}, "description": "The .voice file (a zip archive)"},
        **responses(400, 404),
    },
)
async def export_voice(name: str, state: State) -> Response:
    name = check_voice_name(name)
    voice = await run_in_threadpool(state.voice, name)
    data = await run_in_threadpool(state.tts.voices.export, voice.name)
    return Response(
        data,
        media_type="application/zip",
        headers={"Content-Disposition": _attachment(f"{voice.name}.voice")},
    )


@router.patch(
    "/v1/audio/voices/{name}",
    tags=["voices"],
    summary="Rename a saved voice (built-in voices cannot be renamed)",
    response_model=VoiceInfo,
    responses=responses(400, 403, 404, 409),
)
async def rename_voice(name: str, body: VoiceRename, state: State) -> VoiceInfo:
    name = check_voice_name(name)
    new = check_voice_name(body.name)
    library = state.tts.voices
    _refuse_builtin(library, name, "renamed")
    try:
        renamed = await _save(library.rename, name, new)
    except UnknownVoiceError as exc:
        raise ApiError(404, str(exc), code=exc.kind, param="name") from exc
    return voice_info(renamed)


@router.delete(
    "/v1/audio/voices/{name}",
    tags=["voices"],
    summary="Delete a saved voice (built-in voices cannot be deleted)",
    status_code=204,
    responses=responses(400, 403, 404),
)
async def delete_voice(name: str, state: State) -> Response:
    name = check_voice_name(name)
    library = state.tts.voices
    _refuse_builtin(library, name, "deleted")
    try:
        await run_in_threadpool(library.delete, name)
    except UnknownVoiceError as exc:
        raise ApiError(404, str(exc), code=exc.kind, param="name") from exc
    return Response(status_code=204)


def check_voice_name(name: str, param: str = "name") -> str:
    """The name, NFC-normalised, if it is a valid voice name (the library's rules; names never become
    paths, but '/', '\\' and '..' are refused all the same); else 400."""
    try:
        return validate_name(name)
    except InputError as exc:
        raise ApiError(400, str(exc), code="invalid_voice_name", param=param) from exc


def voice_info(voice: Voice) -> VoiceInfo:
    meta = voice.meta or {}
    transcript = meta.get("transcript")
    notes = meta.get("notes")
    return VoiceInfo(
        **voice.info(),
        transcript=transcript if isinstance(transcript, str) else None,
        notes=[str(n) for n in notes] if isinstance(notes, list) else [],
    )


def _refuse_taken_name(library: VoiceLibrary, name: str) -> None:
    """409 before any work if ``name`` is taken (ignoring case), by a built-in or a saved voice."""
    if library.is_builtin(name):
        raise ApiError(
            409,
            f"a built-in voice named {library.get(name).name!r} already exists; choose another name",
            code="voice_exists",
            param="name",
        )
    if library.store.exists(name):
        raise ApiError(
            409,
            f"a saved voice named {name!r} already exists; choose another name, or rename or delete that one",
            code="voice_exists",
            param="name",
        )


def _refuse_builtin(library: VoiceLibrary, name: str, what: str) -> None:
    if library.is_builtin(name):
        voice = library.get(name)
        raise ApiError(
            403,
            f"{voice.name!r} is a {voice.kind} voice built into the engine; it cannot be {what}",
            code="voice_protected",
            param="name",
        )


async def _save(operation: Callable[..., Voice], *args: Any) -> Voice:
    """Run a library write in a thread; a name that is taken (the library says so in its message) is 409."""
    try:
        return await run_in_threadpool(operation, *args)
    except UnknownVoiceError:
        raise
    except InputError as exc:
        message = str(exc)
        if "already exists" in message or "name of a built-in voice" in message:
            raise ApiError(409, message, code="voice_exists", param="name") from exc
        raise


def _attachment(filename: str) -> str:
    """``Content-Disposition`` for a download, with an ASCII fallback for non-ASCII names (RFC 6266)."""
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
