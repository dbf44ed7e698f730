"""OpenAI-compatible routes: speech and models (speech to text: ``routes_transcriptions``); health, metrics."""

from __future__ import annotations

import base64
import math
import time
from collections.abc import AsyncIterator
from typing import get_args

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from ..audio import FORMATS, StreamEncoder, encode
from ..captions import Timeline, as_json
from .metrics import CONTENT_TYPE
from .scheduler import Job
from .schemas import (
    Health,
    LibraryState,
    ModelCard,
    ModelList,
    SpeechFormat,
    SpeechModel,
    SpeechRequest,
    TranscriptionModel,
    VoiceRef,
    responses,
)
from .speech import AudioStep, collect_audio, consume, start_speech, stream_audio, streaming_response
from .sse import sse_error, sse_event
from .state import ServerState, State

router = APIRouter()

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
async def create_speech(body: SpeechRequest, state: State) -> Response:
    started = time.perf_counter()
    voice = body.voice.id if isinstance(body.voice, VoiceRef) else body.voice
    timed = body.timestamps == "word"
    whole_wav = body.response_format == "wav" and body.stream_format != "sse" and not timed
    rate = state.tts.sample_rate
    encoder = None if whole_wav else StreamEncoder(body.response_format, rate)
    speech = await start_speech(
        state, body.input, voice, speed=body.speed, lang=body.lang, instruction=body.instructions, encoder=encoder
    )
    job, headers = speech.job, speech.headers
    if whole_wav:  # a WAV header holds the file's size: send the whole file, so every reader gets it right
        audio = await collect_audio(state, job, "speech", started)
        return Response(await run_in_threadpool(encode, audio, rate, "wav"), media_type=FORMATS["wav"], headers=headers)
    if body.stream_format == "sse":
        timeline = Timeline(speech.text) if timed else None
        return streaming_response(_sse(state, job, body.input, started, timeline), job, "text/event-stream", headers)
    if timed:  # JSON of the whole file and its timings
        return await _captioned(state, job, Timeline(speech.text), started, headers)
    media_type = FORMATS[body.response_format]
    return streaming_response(stream_audio(state, job, "speech", started), job, media_type, headers)


async def _captioned(
    state: ServerState, job: Job[AudioStep], timeline: Timeline, started: float, headers: dict[str, str]
) -> Response:
    data = bytearray()
    async for step in consume(state, job, "speech", started):
        data += step.data
        if step.chunk is not None:
            timeline.add(step.chunk)
    timeline.finish()
    body = {
        "audio": base64.b64encode(bytes(data)).decode(),
        "text": timeline.text,
        "words": [as_json(w) for w in timeline.words],
        "sentences": [as_json(s) for s in timeline.sentences],
    }
    return JSONResponse(body, headers=headers)


async def _sse(
    state: ServerState, job: Job[AudioStep], text: str, started: float, timeline: Timeline | None = None
) -> AsyncIterator[str]:
    """OpenAI's speech events; with a ``timeline``, each delta also carries the words of its audio and the
    sentences it ends (an encoder may hold audio back: timings then come with the next bytes)."""
    seconds = 0.0
    try:
        async for piece in consume(state, job, "speech_sse", started):
            seconds += piece.seconds
            timings: dict[str, object] = {}
            if timeline is not None:
                words, sentences = timeline.add(piece.chunk) if piece.chunk else ([], timeline.finish())
                timings = {"words": [as_json(w) for w in words], "sentences": [as_json(s) for s in sentences]}
            if piece.data or timings.get("words") or timings.get("sentences"):
                audio = base64.b64encode(piece.data).decode()
                yield sse_event({"type": "speech.audio.delta", "audio": audio, **timings})
        if timeline is not None and (rest := timeline.finish()):
            yield sse_event(
                {"type": "speech.audio.delta", "audio": "", "words": [], "sentences": [as_json(s) for s in rest]}
            )
    except Exception as exc:  # the status line is long gone: report in-band, as OpenAI does
        yield sse_error(exc)
        return
    yield sse_event({"type": "speech.audio.done", "usage": usage_tokens(text, seconds)})


def usage_tokens(text: str, seconds: float) -> dict[str, int]:
    """OpenAI-style usage: characters / 4 in (Parrot has no tokenizer), 20 ms audio frames out."""
    input_tokens = math.ceil(len(text) / 4)
    output_tokens = round(seconds * 50)
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "total_tokens": input_tokens + output_tokens,
    }


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
    library = state.tts.voices
    voices, damage = await run_in_threadpool(lambda: (len(library.list()), library.store.health()))
    status = "shutting_down" if state.scheduler.closing else "ok" if damage.ok else "degraded"
    return Health(
        status=status,
        engine=state.tts.engine.name,
        voices=voices,
        queue=state.scheduler.stats(),
        library=LibraryState(ok=damage.ok, problems=list(damage.problems)),
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
