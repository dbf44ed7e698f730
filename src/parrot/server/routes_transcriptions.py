"""OpenAI's speech-to-text routes, on the embedded Whisper base model: transcriptions and translations."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, UploadFile
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from ..asr import ASR_SAMPLE_RATE, Recognition, Segment
from .schemas import (
    ApiError,
    TimestampGranularity,
    Transcription,
    TranscriptionFormat,
    TranscriptionModel,
    VerboseTranscription,
    responses,
)
from .state import ServerState, State
from .transcripts import STREAMED_FORMATS, Decode, render, transcript_events
from .uploads import decode_upload

router = APIRouter()


@dataclass
class AudioForm:
    """The form fields transcriptions and translations share (multipart, as OpenAI's)."""

    file: Annotated[UploadFile, File(description="The recording (WAV, MP3, FLAC, Ogg, AAC/M4A, WebM...)")]
    model: Annotated[TranscriptionModel, Form(description="Any of these names selects Whisper base")] = "whisper-1"
    prompt: Annotated[str | None, Form(description="Text to guide spelling and style")] = None
    response_format: Annotated[
        TranscriptionFormat,
        Form(description="json, text, srt or vtt subtitles, or verbose_json with timed segments (and words)"),
    ] = "json"
    temperature: Annotated[float | None, Form(description="Accepted for compatibility; ignored")] = None


Upload = Annotated[AudioForm, Depends()]

# What both routes declare in the OpenAPI document.
_DECLARED: dict[str, Any] = {
    "tags": ["openai"],
    "response_model": Transcription | VerboseTranscription,
    "responses": {
        200: {
            "content": {"text/plain": {}, "text/vtt": {}, "text/event-stream": {}},
            "description": "JSON; plain text for text and srt; WebVTT for vtt; Server-Sent Events for stream=true",
        },
        **responses(400, 413),
    },
}


@router.post(
    "/v1/audio/transcriptions",
    summary="Speech to text with the embedded Whisper base model (OpenAI-compatible)",
    **_DECLARED,
)
async def create_transcription(
    state: State,
    upload: Upload,
    language: Annotated[
        str | None, Form(description="ISO-639-1 code, e.g. en, zh, ja; default: detect")
    ] = None,
    timestamp_granularities: Annotated[
        list[TimestampGranularity] | None,
        Form(
            alias="timestamp_granularities[]",
            description="With verbose_json: segment (always given) and/or word (timed words; slower)",
        ),
    ] = None,
    stream: Annotated[
        bool,
        Form(
            description="Server-Sent Events: transcript.text.delta as each segment is decoded, then "
            "transcript.text.done (with response_format json or text)"
        ),
    ] = False,
) -> Response:
    response_format = upload.response_format
    if stream and response_format not in STREAMED_FORMATS:
        raise ApiError(
            400,
            f"stream=true sends transcript events; response_format must be json or text, not {response_format}",
            code="unsupported_value",
            param="stream",
        )
    words = response_format == "verbose_json" and "word" in (timestamp_granularities or ())
    decode = await _decoder(state, upload, language=(language or "").lower() or None, words=words)
    if stream:
        return StreamingResponse(
            transcript_events(decode), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
        )
    return render(await run_in_threadpool(decode, None), response_format, "transcribe")


@router.post(
    "/v1/audio/translations",
    summary="Speech in any language to English text with Whisper base (OpenAI-compatible)",
    **_DECLARED,
)
async def create_translation(state: State, upload: Upload) -> Response:
    decode = await _decoder(state, upload, translate=True)
    return render(await run_in_threadpool(decode, None), upload.response_format, "translate")


async def _decoder(
    state: ServerState, upload: AudioForm, *, language: str | None = None, translate: bool = False, words: bool = False
) -> Decode:
    """Decode the upload (400 if it is not audio) and check ``language`` before anything is sent; the
    recognition itself is left to run in a worker thread."""
    audio, _ = await decode_upload(state.settings, upload.file, "file", sample_rate=ASR_SAMPLE_RATE)
    prompt = upload.prompt or None
    recognizer = await state.recognizer()
    if language is not None and language not in recognizer.languages:
        raise ApiError(
            400,
            f"language {language!r} is not one Whisper knows; use an ISO-639-1 code such as "
            + ", ".join(recognizer.languages[:12])
            + ", ...",
            code="unsupported_language",
            param="language",
        )

    def decode(on_segment: Callable[[Segment], None] | None) -> Recognition:
        return recognizer.recognize(
            audio, language=language, prompt=prompt, translate=translate, words=words,
            on_segment=on_segment,
        )  # fmt: skip

    return decode
