"""Long-form jobs over HTTP: send a book (a file or text), follow it (JSON or Server-Sent Events), cancel,
resume or delete it, and download the chaptered audio and its subtitles.

The work is in ``books.py`` (one job at a time, at the scheduler's low priority); these routes check the
request before any work (the document is read in a thread, so a bad or DRM-locked file is a 400 and
nothing is created) and translate HTTP to calls on ``state.books``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import FileResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from ..api import check_speed
from ..audio import BOOK_FORMATS
from ..books.document import book_format, read_book
from ..books.job import BookSettings
from ..text.segment import check_language
from .books import BookJobInfo, BookJobList
from .errors import checked
from .schemas import ApiError, responses
from .sse import sse_event
from .state import State
from .uploads import read_upload

router = APIRouter()
PATH = "/v1/audio/jobs"


@router.post(
    PATH,
    tags=["jobs"],
    summary="Speak a whole book (EPUB, Markdown or text) into one chaptered audio file (a background job)",
    description="Send the book as `file` (.epub without DRM, .md or .txt in UTF-8) or as `text` (plain text or, "
    "with `text_format=md`, Markdown). Chapters come from the book's structure (the EPUB table of contents, "
    "Markdown headings, or lines such as 'Chapter 3' in text). Answers at once (202) with the job; follow it "
    f"with GET {PATH}/{{id}} or the event stream {PATH}/{{id}}/events, then download {PATH}/{{id}}/audio "
    "(M4B or MP3 with chapter marks) and {id}/subtitles (SRT). Jobs run one at a time, at low priority (speech "
    "requests are served first), and survive a server restart: they continue where they stopped.",
    status_code=202,
    response_model=BookJobInfo,
    responses=responses(400, 413),
)
async def create_job(
    state: State,
    response: Response,
    file: Annotated[UploadFile | None, File(description="The book: .epub, .md or .txt")] = None,
    text: Annotated[str | None, Form(description="The book as text, instead of a file")] = None,
    text_format: Annotated[str, Form(description="How `text` is written: txt or md")] = "txt",
    title: Annotated[str | None, Form(description="Title (default: from the book)")] = None,
    voice: Annotated[str | None, Form(description="Voice (default: the default voice)")] = None,
    speed: Annotated[float, Form(description="Speaking rate, 0.5-2.0")] = 1.0,
    language: Annotated[str | None, Form(description="zh, en, ja or auto (default: detect)")] = None,
    format: Annotated[str, Form(description="m4b (AAC, chapters) or mp3 (ID3 chapters)")] = "m4b",
) -> BookJobInfo:
    if (file is None) == (text is None or not text.strip()):
        raise ApiError(400, "send the book as `file` or as `text` (one of them)", code="invalid_value", param="file")
    if format not in BOOK_FORMATS:
        raise ApiError(400, f"format must be one of: {', '.join(BOOK_FORMATS)}", code="invalid_value", param="format")
    if text_format not in ("txt", "md"):
        raise ApiError(400, "text_format must be txt or md", code="invalid_value", param="text_format")
    speed = checked(check_speed, speed, "speed")
    language = checked(check_language, language, "language")
    chosen = (await run_in_threadpool(state.voice, voice)).name if voice else None
    if file is not None:
        source = file.filename or "book.txt"
        fmt = checked(book_format, source, "file")
        data = await read_upload(state.settings, file, "file")
    else:
        assert text is not None
        fmt, source, data = text_format, f"text.{text_format}", text.encode()
    book = await run_in_threadpool(checked, lambda d: read_book(d, fmt, title or ""), data, "file")
    entry = await state.books.create(book, BookSettings(chosen, speed, language, format), source, data)
    response.headers["Location"] = f"{PATH}/{quote(entry.id)}"
    return entry.info


@router.get(PATH, tags=["jobs"], summary="Book jobs, newest first", response_model=BookJobList, responses=responses())
async def list_jobs(state: State) -> BookJobList:
    return BookJobList(jobs=state.books.jobs())


@router.get(
    PATH + "/{job_id}",
    tags=["jobs"],
    summary="A book job: state, stage, chapter, segments done, fraction, error",
    response_model=BookJobInfo,
    responses=responses(404),
)
async def get_job(job_id: str, state: State) -> BookJobInfo:
    return state.books.get(job_id).info


@router.get(
    PATH + "/{job_id}/events",
    tags=["jobs"],
    summary="Server-Sent Events: the job as it changes (one `data: {job}` per change) until it finishes",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}, **responses(404)},
)
async def job_events(job_id: str, state: State) -> StreamingResponse:
    entry = state.books.get(job_id)

    async def events() -> AsyncIterator[str]:
        async for info in entry.updates():
            yield sse_event(info.model_dump(mode="json"))

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


@router.post(
    PATH + "/{job_id}/cancel",
    tags=["jobs"],
    summary="Stop a book job (its finished parts are kept: resume continues it)",
    response_model=BookJobInfo,
    responses=responses(404),
)
async def cancel_job(job_id: str, state: State) -> BookJobInfo:
    entry = state.books.get(job_id)
    state.books.cancel(entry)
    return entry.info


@router.post(
    PATH + "/{job_id}/resume",
    tags=["jobs"],
    summary="Queue a cancelled or failed book job again; it continues where it stopped",
    response_model=BookJobInfo,
    responses=responses(404, 409),
)
async def resume_job(job_id: str, state: State) -> BookJobInfo:
    entry = state.books.get(job_id)
    state.books.resume(entry)
    return entry.info


@router.delete(
    PATH + "/{job_id}",
    tags=["jobs"],
    summary="Cancel a book job if it runs and delete it with its files",
    status_code=204,
    responses=responses(404),
)
async def delete_job(job_id: str, state: State) -> Response:
    await state.books.delete(state.books.get(job_id))
    return Response(status_code=204)


@router.get(
    PATH + "/{job_id}/audio",
    tags=["jobs"],
    summary="The finished book: M4B or MP3 with chapter marks",
    response_class=FileResponse,
    responses={200: {"content": {t: {} for t in BOOK_FORMATS.values()}}, **responses(404, 409)},
)
async def job_audio(job_id: str, state: State) -> FileResponse:
    job = state.books.result(state.books.get(job_id))
    name = f"{_file_stem(job.title)}.{job.settings.format}"
    return FileResponse(job.output, media_type=BOOK_FORMATS[job.settings.format], filename=name)


@router.get(
    PATH + "/{job_id}/subtitles",
    tags=["jobs"],
    summary="The finished book's subtitles (SRT, one cue per sentence)",
    response_class=FileResponse,
    responses={200: {"content": {"application/x-subrip": {}}}, **responses(404, 409)},
)
async def job_subtitles(job_id: str, state: State) -> FileResponse:
    job = state.books.result(state.books.get(job_id))
    return FileResponse(job.subtitles, media_type="application/x-subrip", filename=f"{_file_stem(job.title)}.srt")


def _file_stem(title: str) -> str:
    stem = "".join(c if c.isalnum() or c in " -_" else "_" for c in title).strip()
    return stem[:80] or "book"
