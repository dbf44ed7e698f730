"""Speech jobs: checking a request off the event loop, handing it to the scheduler, and streaming it back.

Every route that speaks goes through ``start_speech`` (validation and text preparation in a worker
thread, within a time budget, then admission to the fair scheduler) and ``consume`` (metrics, and the job
cancelled when the client goes away).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
import numpy as np
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from ..api import check_text_length
from ..audio import StreamEncoder
from ..engines.base import AudioChunk
from ..voices.voice import Voice
from .errors import to_api_error
from .scheduler import Job
from .schemas import ApiError
from .state import ServerState

if TYPE_CHECKING:
    from ..api import SpeechStream

log = logging.getLogger("uvicorn.error")

ADMISSION_WAIT = 30.0  # seconds a phrase of a live session waits for a free synthesis slot before it fails


@dataclass(frozen=True)
class AudioStep:
    """One scheduler step of a speech job: the engine's chunk (None for the encoder's tail) and the
    encoded bytes ready to send (empty when the job was started without an encoder)."""

    chunk: AudioChunk | None
    data: bytes

    @property
    def seconds(self) -> float:
        return self.chunk.duration if self.chunk is not None else 0.0


@dataclass(frozen=True)
class SpeechJob:
    """An admitted synthesis job and the response headers that describe it."""

    job: Job[AudioStep]
    headers: dict[str, str]  # X-Parrot-Sample-Rate, and X-Parrot-Warning / X-Parrot-Instruction when relevant
    warnings: tuple[str, ...]
    text: str  # the words as spoken (normalised, markup removed): what the chunks' word offsets point into


def _steps(chunks: Iterator[AudioChunk], encoder: StreamEncoder | None) -> Iterator[AudioStep]:
    """Runs in scheduler workers: one model call (and its encoding) per ``next()``."""
    for chunk in chunks:
        yield AudioStep(chunk, encoder.write(chunk.audio) if encoder else b"")
    if encoder is not None and (tail := encoder.close()):
        yield AudioStep(None, tail)


def header_value(text: str) -> str:
    """HTTP headers are Latin-1: keep ASCII, writing anything else as \\uXXXX escapes."""
    return text.encode("ascii", "backslashreplace").decode("ascii")


async def start_speech(
    state: ServerState,
    text: str,
    voice: str | Voice | None,
    *,
    speed: float = 1.0,
    lang: str | None = None,
    instruction: str | None = None,
    encoder: StreamEncoder | None = None,
) -> SpeechJob:
    """Validate and prepare the text in a worker thread (``InputError``/``ApiError``), then admit the job
    (``SchedulerError``). The event loop never parses text: a slow request cannot stall the others."""
    check_text_length(text, state.settings.max_text_chars)
    tts = state.tts

    def prepare() -> SpeechStream:
        chosen = state.voice(voice) if voice else None  # None: the engine's voice for the language
        return tts.stream(text, chosen, speed=speed, lang=lang, instruction=instruction)

    stream = await off_loop(state, prepare)
    job = state.scheduler.submit(_steps(stream, encoder))
    headers = {"X-Parrot-Sample-Rate": str(tts.sample_rate)}
    if stream.warnings:
        headers["X-Parrot-Warning"] = header_value(" | ".join(stream.warnings))
    if stream.instruction is not None:
        headers["X-Parrot-Instruction"] = header_value(", ".join(stream.instruction.understood) or "none")
    return SpeechJob(job, headers, stream.warnings, stream.text)


async def off_loop(state: ServerState, work: Any, *args: Any) -> Any:
    """``work(*args)`` in a worker thread (a few at a time), within the server's preparation time budget."""
    budget = state.settings.prepare_seconds
    try:
        with anyio.fail_after(budget):
            return await anyio.to_thread.run_sync(work, *args, limiter=state.text_limiter, abandon_on_cancel=True)
    except TimeoutError as exc:
        raise ApiError(
            400,
            f"the text took longer than {budget:g} s to prepare; send less text at once",
            code="text_too_complex",
            param="input",
        ) from exc


async def consume(state: ServerState, job: Job[AudioStep], route: str, started: float) -> AsyncIterator[AudioStep]:
    """The job's steps, recording time-to-first-audio and audio produced; cancels the job when the
    consumer stops early (client gone) and counts failures."""
    first = True
    try:
        async for step in job:
            if first and (step.data or step.chunk is not None):
                state.metrics.first_audio_seconds.labels(route).observe(time.perf_counter() - started)
                first = False
            if step.seconds:
                state.metrics.audio_seconds.labels(route).inc(step.seconds)
            yield step
    except Exception as exc:
        state.count_error(to_api_error(exc))
        log.error("speech stream failed after it started: %s", exc)
        raise
    finally:
        job.cancel()


async def collect_audio(state: ServerState, job: Job[AudioStep], route: str, started: float) -> np.ndarray:
    """The whole audio of ``job`` (for answers that are one file, such as a WAV with its true size)."""
    chunks = [step.chunk.audio async for step in consume(state, job, route, started) if step.chunk]
    return np.concatenate(chunks) if chunks else np.zeros(0, np.float32)


async def stream_audio(state: ServerState, job: Job[AudioStep], route: str, started: float) -> AsyncIterator[bytes]:
    """The encoded bytes of a job, as they are made."""
    async for step in consume(state, job, route, started):
        if step.data:
            yield step.data


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


def streaming_response(
    content: AsyncIterator[bytes | str], job: Job[Any], media_type: str, headers: dict[str, str]
) -> StreamingResponse:
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", **headers}
    return JobStreamingResponse(content, job, media_type=media_type, headers=headers)
