"""The server's book jobs (long-form synthesis): a queue run one job at a time at low priority.

Each job is a ``parrot.books.job.BookJob`` in ``<data dir>/jobs/<id>/``; its ``steps`` (one model call per
``next()``) are handed to the scheduler as a *background* job, so interactive speech is always served first
and a book only uses the workers nobody else is waiting for. The consumer here, on the event loop, only
updates the job's progress and wakes the SSE streams; synthesis, segment files and encoding happen on the
scheduler's worker threads.

Everything a job needs is on disk (the plan and one file per finished segment), so jobs survive a restart:
at start-up the server finds the unfinished ones and queues them again; they continue where they stopped.
``state.json`` records only how a job ended when it was not by finishing (cancelled, failed).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shutil
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from ..books.document import Book
from ..books.job import BookJob, BookSettings, Progress
from ..files import write_atomically
from .errors import to_api_error
from .scheduler import Job, Scheduler, ShuttingDown
from .schemas import ApiError

if TYPE_CHECKING:
    from ..api import Parrot

log = logging.getLogger("uvicorn.error")

JobState = Literal["queued", "running", "done", "failed", "cancelled"]
FINISHED: frozenset[str] = frozenset({"done", "failed", "cancelled"})
STATE_FILE = "state.json"


class BookJobError(BaseModel):
    message: str
    code: str | None = None


class BookJobInfo(BaseModel):
    """A book job as the API shows it."""

    id: str
    title: str
    state: JobState = Field(description="queued, running, done, failed or cancelled")
    stage: str = Field("synthesizing", description="synthesizing, encoding or done")
    format: str = Field(description="m4b or mp3")
    voice: str | None = None
    chapters: int
    chapter: int = Field(1, description="The chapter being worked on (1-based)")
    segments_total: int
    segments_done: int = 0
    fraction: float = Field(0.0, description="How much is done, 0-1")
    audio_seconds: float = Field(0.0, description="Seconds of speech made in this run so far")
    error: BookJobError | None = None
    source: str = Field("", description="The uploaded file's name")
    created: int


class BookJobList(BaseModel):
    jobs: list[BookJobInfo]


class BookEntry:
    """One job: its folder, what the API shows, and its scheduler job while it runs."""

    def __init__(self, job: BookJob, info: BookJobInfo) -> None:
        self.job = job
        self.info = info
        self.handle: Job[Progress] | None = None  # while running
        self._changed = asyncio.Event()

    @property
    def id(self) -> str:
        return self.info.id

    def update(self, **fields: object) -> None:
        self.info = self.info.model_copy(update=fields)
        self._changed.set()
        self._changed = asyncio.Event()

    def record(self, state: JobState, error: BookJobError | None = None) -> None:
        """A final state other than done, kept on disk so a restart does not resume the job."""
        write_atomically(
            self.job.folder / STATE_FILE,
            json.dumps({"state": state, "error": error.model_dump() if error else None}).encode(),
        )
        self.update(state=state, error=error)

    async def updates(self) -> AsyncIterator[BookJobInfo]:
        """The job now, then after every change, until it has finished."""
        while True:
            changed = self._changed
            yield self.info
            if self.info.state in FINISHED:
                return
            await changed.wait()


class BookJobs:
    """The book jobs of one app: start, list, cancel, resume, delete; run one at a time in the background."""

    def __init__(self, scheduler: Scheduler) -> None:
        self._scheduler = scheduler
        self._jobs: OrderedDict[str, BookEntry] = OrderedDict()
        self._wake = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._tts: Parrot | None = None
        self.folder: Path | None = None

    # -- lifecycle ---------------------------------------------------------------------------------

    def load(self, tts: Parrot) -> None:
        """Find the jobs of earlier runs in ``<data dir>/jobs`` (a thread, at start-up)."""
        self._tts = tts
        self.folder = tts.settings.data_dir / "jobs"
        self.folder.mkdir(parents=True, exist_ok=True)
        for path in sorted(self.folder.iterdir(), key=lambda p: p.stat().st_mtime):
            if not (path / "plan.json").exists():
                continue
            try:
                entry = _entry(BookJob(path), path.name, int(path.stat().st_mtime))
            except Exception as exc:  # one damaged folder must not keep the server from starting
                log.warning("parrot: skipping book job %s: %s", path, exc)
                continue
            self._jobs[entry.id] = entry
        unfinished = sum(e.info.state == "queued" for e in self._jobs.values())
        if unfinished:
            log.info("parrot: %d unfinished book job(s) will continue where they stopped", unfinished)

    def start(self) -> None:
        """Start the runner (on the event loop, once the scheduler runs)."""
        self._wake = asyncio.Event()
        self._runner = asyncio.create_task(self._run(), name="book-jobs")
        self._wake.set()

    async def shutdown(self) -> None:
        """Stop the running job (its finished segments are kept: it resumes at the next start)."""
        if self._runner is not None:
            for entry in self._jobs.values():
                if entry.handle is not None:
                    entry.handle.cancel()
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._runner

    # -- API ---------------------------------------------------------------------------------------

    def jobs(self) -> list[BookJobInfo]:
        return [entry.info for entry in reversed(self._jobs.values())]

    def get(self, job_id: str) -> BookEntry:
        entry = self._jobs.get(job_id)
        if entry is None:
            raise ApiError(404, f"no book job {job_id!r}", code="job_not_found", param="id")
        return entry

    async def create(self, book: Book, settings: BookSettings, source: str, data: bytes) -> BookEntry:
        """A new queued job (its folder written in a thread); runs when the jobs before it are done."""
        if self.folder is None:
            raise ApiError(503, "the model is still loading; retry in a few seconds", code="model_loading")
        job_id = uuid.uuid4().hex[:16]
        folder = self.folder / job_id

        def write() -> BookJob:
            job = BookJob.create(folder, book, settings, source)
            write_atomically(folder / ("source" + Path(source).suffix.lower()), data, mode=0o600)
            return job

        entry = _entry(await asyncio.to_thread(write), job_id, int(time.time()))
        self._jobs[entry.id] = entry
        self._wake.set()
        return entry

    def cancel(self, entry: BookEntry) -> None:
        """Stop the job; its finished segments are kept, so ``resume`` continues it. No-op once finished."""
        if entry.info.state in FINISHED:
            return
        if entry.handle is not None:
            entry.handle.cancel()
        entry.record("cancelled")

    def resume(self, entry: BookEntry) -> None:
        """Queue a cancelled or failed job again; it continues where it stopped."""
        if entry.info.state not in ("cancelled", "failed"):
            raise ApiError(409, f"job {entry.id} is {entry.info.state}; only a cancelled or failed job can be resumed",
                           code="job_not_resumable")  # fmt: skip
        (entry.job.folder / STATE_FILE).unlink(missing_ok=True)
        entry.update(state="queued", error=None)
        self._wake.set()

    async def delete(self, entry: BookEntry) -> None:
        self.cancel(entry)
        self._jobs.pop(entry.id, None)
        await asyncio.to_thread(shutil.rmtree, entry.job.folder, True)

    def result(self, entry: BookEntry) -> BookJob:
        if entry.info.state != "done":
            raise ApiError(409, f"job {entry.id} is {entry.info.state}; its audio is ready once it is done",
                           code="job_not_done")  # fmt: skip
        return entry.job

    # -- the runner --------------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            entry = next((e for e in self._jobs.values() if e.info.state == "queued"), None)
            if entry is None:
                self._wake.clear()
                await self._wake.wait()
                continue
            await self._work(entry)

    async def _work(self, entry: BookEntry) -> None:
        assert self._tts is not None
        entry.update(state="running", error=None)
        try:
            handle = entry.handle = self._scheduler.submit(entry.job.steps(self._tts), background=True)
            async for progress in handle:
                entry.update(**_progress_fields(progress))
            if entry.info.state == "running":  # not cancelled meanwhile
                entry.update(state="done" if entry.job.finished else "queued")
        except ShuttingDown:
            entry.update(state="queued")
        except Exception as exc:
            error = to_api_error(exc)
            if entry.info.state == "running":
                log.warning("parrot: book job %s failed: %s", entry.id, error.message)
                entry.record("failed", BookJobError(message=error.message, code=error.code))
        finally:
            entry.handle = None
        if entry.info.state == "queued":  # the scheduler stopped it (shutting down): wait for the next start
            await asyncio.Event().wait()


def _progress_fields(progress: Progress) -> dict[str, object]:
    return {
        "stage": progress.stage, "chapter": progress.chapter, "segments_done": progress.segments_done,
        "fraction": round(progress.fraction, 4), "audio_seconds": round(progress.audio_seconds, 2),
    }  # fmt: skip


def _entry(job: BookJob, job_id: str, created: int) -> BookEntry:
    state: JobState = "done" if job.finished else "queued"
    error = None
    recorded = job.folder / STATE_FILE
    if state != "done" and recorded.exists():
        saved = json.loads(recorded.read_text(encoding="utf-8"))
        state = saved["state"]
        error = BookJobError(**saved["error"]) if saved.get("error") else None
    progress = job.progress()
    info = BookJobInfo(
        id=job_id, title=job.title, state=state, stage=progress.stage, format=job.settings.format,
        voice=job.settings.voice, chapters=len(job.chapters), segments_total=job.segments_total,
        segments_done=progress.segments_done, fraction=round(progress.fraction, 4), error=error,
        source=job.source, created=created,
    )  # fmt: skip
    return BookEntry(job, info)
