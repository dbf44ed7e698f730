"""A recognition as the client asked for it: OpenAI's JSON shapes, plain text, subtitles, or a live stream of
Server-Sent Events while Whisper decodes in a worker thread."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable
from typing import Literal

from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from ..asr import Recognition, Segment
from ..subtitles import Cue, srt, vtt
from .schemas import (
    DurationUsage,
    Transcription,
    TranscriptionFormat,
    TranscriptionSegment,
    TranscriptionWord,
    VerboseTranscription,
)
from .sse import sse_error, sse_event

Task = Literal["transcribe", "translate"]
# Runs the recognition (in a worker thread), calling its argument, if any, with each segment as it is decoded.
Decode = Callable[[Callable[[Segment], None] | None], Recognition]

STREAMED_FORMATS = ("json", "text")


def render(recognition: Recognition, response_format: TranscriptionFormat, task: Task) -> Response:
    """The response body OpenAI sends for ``response_format``."""
    if response_format == "text":
        return PlainTextResponse(recognition.text + "\n")
    if response_format in ("srt", "vtt"):
        cues = [Cue(s.start, s.end, s.text) for s in recognition.segments]
        if response_format == "srt":
            return PlainTextResponse(srt(cues))
        return PlainTextResponse(vtt(cues), media_type="text/vtt")
    usage = DurationUsage(seconds=recognition.duration) if task == "transcribe" else None
    if response_format == "verbose_json":
        body = verbose(recognition, task).model_copy(update={"usage": usage})
        return JSONResponse(body.model_dump(exclude_none=True))
    return JSONResponse(Transcription(text=recognition.text, usage=usage).model_dump(exclude_none=True))


def verbose(recognition: Recognition, task: Task) -> VerboseTranscription:
    """``verbose_json``: segments with their decoding statistics, and words when they were timed."""
    fields = TranscriptionSegment.model_fields
    segments = [TranscriptionSegment(**{name: getattr(s, name) for name in fields}) for s in recognition.segments]
    words = [
        TranscriptionWord(word=w.word.strip(), start=w.start, end=w.end)
        for s in recognition.segments
        for w in s.words
    ]
    return VerboseTranscription(
        task=task,
        language="en" if task == "translate" else recognition.language,
        duration=recognition.duration,
        text=recognition.text,
        segments=segments,
        words=words if any(s.words for s in recognition.segments) else None,
    )


class _ClientGone(Exception):
    """Raised in the decoding thread to stop work nobody will read."""


async def transcript_events(decode: Decode) -> AsyncIterator[str]:
    """``transcript.text.delta`` events, one per segment as Whisper decodes it (the decoding runs in a
    worker thread), then ``transcript.text.done`` with the whole text, as OpenAI's streaming
    transcription sends them; an ``error`` event if decoding fails. When the client goes away, the
    decoding stops after the segment in progress."""
    loop = asyncio.get_running_loop()
    decoded: asyncio.Queue[Segment | None] = asyncio.Queue()
    gone = threading.Event()

    def on_segment(segment: Segment) -> None:
        if gone.is_set():
            raise _ClientGone
        loop.call_soon_threadsafe(decoded.put_nowait, segment)

    def work() -> Recognition:
        try:
            return decode(on_segment)
        finally:  # after the last segment: the queue keeps the order
            with contextlib.suppress(RuntimeError):  # the event loop is gone: the server stopped
                loop.call_soon_threadsafe(decoded.put_nowait, None)

    decoding = asyncio.ensure_future(run_in_threadpool(work))
    decoding.add_done_callback(lambda done: done.cancelled() or done.exception())  # retrieved, never logged
    sent = ""
    try:
        while (segment := await decoded.get()) is not None:
            delta = segment.text if sent else segment.text.lstrip()
            if delta:
                sent += delta
                yield sse_event({"type": "transcript.text.delta", "delta": delta})
        recognition = await decoding
        yield sse_event({"type": "transcript.text.done", "text": recognition.text})
    except Exception as exc:  # the status line is long gone: report in-band, as OpenAI does
        yield sse_error(exc)
    finally:
        gone.set()
