"""The server's voice-training jobs: one at a time, each in its own low-priority process.

Training is minutes of PyTorch work on every core it is given. Run in the server's process it would hold
the GIL and the cores that synthesis needs, so each job is a child process: ``parrot voices train NAME
clips... --progress-json`` under ``nice`` with one thread, on the server's data directory (the voice lands
in the same crash-safe library). The child reports on stdout as JSON lines (``parrot.training_json``);
this module follows them on the event loop, keeps each job's latest state, and wakes the SSE streams.

Cancelling sends SIGINT: the child stops after the current step and keeps its checkpoint, so starting the
same name again with ``resume`` continues. The uploaded clips live in a private temporary folder (0700)
removed when the job ends. Server shutdown cancels the running job the same way, then kills it if it
does not stop in time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from .schemas import ApiError

if TYPE_CHECKING:
    from ..api import Parrot

log = logging.getLogger("uvicorn.error")

JobState = Literal["pending", "preparing", "training", "saving", "done", "failed", "cancelled"]
FINISHED: frozenset[str] = frozenset({"done", "failed", "cancelled"})
MIN_MINUTES, MAX_MINUTES, DEFAULT_MINUTES = 0.1, 60.0, 10.0
MIN_TOTAL_SECONDS = 8.0  # of recordings in all (10 s or more is better)
MAX_CLIPS = 32
KEPT_JOBS = 16  # finished jobs remembered for GET
NICENESS = 10
CHILD_THREADS = "1"
STDERR_LINES = 40  # the child's last stderr lines, for a failure without an error event


class TrainingError(BaseModel):
    message: str
    code: str | None = None


class TrainingJobInfo(BaseModel):
    """A training job as the API shows it."""

    id: str
    name: str = Field(description="Name of the voice being trained")
    state: JobState = Field(description="pending, preparing, training, saving, done, failed or cancelled")
    minutes: float = Field(description="Training time budget")
    step: int = 0
    loss: float | None = Field(None, description="Mean reconstruction loss of the last steps")
    fraction: float = Field(0.0, description="How much of the budget is spent, 0-1")
    elapsed: float = Field(0.0, description="Seconds of training so far")
    seconds_left: float | None = Field(None, description="Seconds of training left (estimate)")
    error: TrainingError | None = None
    voice: str | None = Field(None, description="The saved voice's name, once done")
    created: int


class TrainingJobList(BaseModel):
    jobs: list[TrainingJobInfo]


class TrainingJob:
    """One job: its child process, its clips folder and what the child reported last."""

    def __init__(self, name: str, minutes: float, folder: Path) -> None:
        self.info = TrainingJobInfo(
            id=uuid.uuid4().hex[:16], name=name, state="pending", minutes=minutes, created=int(time.time())
        )
        self.folder = folder
        self.process: asyncio.subprocess.Process | None = None
        self.cancel_requested = False
        self.outcome: dict[str, Any] | None = None  # how the child said it ended; applied once it has exited
        self.stderr: deque[str] = deque(maxlen=STDERR_LINES)
        self.finished = asyncio.Event()
        self._changed = asyncio.Event()

    @property
    def id(self) -> str:
        return self.info.id

    @property
    def running(self) -> bool:
        return self.info.state not in FINISHED

    def update(self, **fields: Any) -> None:
        self.info = self.info.model_copy(update=fields)
        self._changed.set()
        self._changed = asyncio.Event()
        if not self.running:
            self.finished.set()

    async def updates(self) -> AsyncIterator[TrainingJobInfo]:
        """The job now, then after every change, until it has finished."""
        while True:
            changed = self._changed
            yield self.info
            if not self.running:
                return
            await changed.wait()

    def apply(self, event: dict[str, Any]) -> None:
        """One event line of the child (``parrot.training_json``). How it ended is kept for ``finish``, so a
        job is finished only once its process is gone and its clips are removed."""
        kind = event.get("event")
        if kind == "state" and event.get("state") in ("preparing", "training", "saving"):
            self.update(state=event["state"])
        elif kind == "state" and event.get("state") == "cancelled":
            self.outcome = {"state": "cancelled"}
        elif kind == "progress":
            keys = ("step", "loss", "fraction", "elapsed", "seconds_left")
            self.update(**{k: event[k] for k in keys if k in event})
        elif kind == "done":
            self.outcome = {"state": "done", "voice": str(event.get("voice")), "fraction": 1.0, "seconds_left": 0.0}
        elif kind == "error":
            error = TrainingError(message=str(event.get("message")), code=event.get("code"))
            self.outcome = {"state": "failed", "error": error}

    def finish(self, code: int | None) -> None:
        """The final state, once the child has exited with status ``code`` (None: it was killed)."""
        if self.outcome is not None:
            self.update(**self.outcome)
        elif self.cancel_requested:
            self.update(state="cancelled")
        else:
            said = [line for line in self.stderr if line.startswith("parrot: error:")]
            message = said[-1].removeprefix("parrot: error:").strip() if said else f"training ended with status {code}"
            log.warning("parrot: training job %s failed (status %s): %s", self.id, code, "\n".join(self.stderr))
            self.update(state="failed", error=TrainingError(message=message, code="training_failed"))


class Trainings:
    """The training jobs of one app: start (one at a time), look up, cancel, shut down."""

    def __init__(self) -> None:
        self._jobs: OrderedDict[str, TrainingJob] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()

    def active(self) -> TrainingJob | None:
        return next((job for job in self._jobs.values() if job.running), None)

    def refuse_if_busy(self) -> None:
        """409 while a job is running (call it before any work, and again when starting)."""
        job = self.active()
        if job is not None:
            raise ApiError(
                409,
                f"a voice is already being trained ({job.info.name!r}, job {job.id}); one training job runs at a "
                "time: wait for it to finish or cancel it (DELETE /v1/audio/voices/train/{id})",
                code="training_busy",
                headers={"Retry-After": "60"},
            )

    def jobs(self) -> list[TrainingJobInfo]:
        return [job.info for job in reversed(self._jobs.values())]

    def get(self, job_id: str) -> TrainingJob:
        job = self._jobs.get(job_id)
        if job is None:
            raise ApiError(404, f"no training job {job_id!r}", code="training_job_not_found", param="id")
        return job

    async def start(
        self,
        tts: Parrot,
        name: str,
        clips: list[bytes],
        texts: list[str] | None,
        language: str | None,
        minutes: float,
        resume: bool,
    ) -> TrainingJob:
        """Write the clips to a private folder and start the child; returns at once (the job runs on)."""
        self.refuse_if_busy()
        folder = Path(tempfile.mkdtemp(prefix="parrot-train-"))  # mode 0700
        job = TrainingJob(name, minutes, folder)
        self._jobs[job.id] = job
        self._forget_old()
        try:
            paths = await asyncio.to_thread(_write_clips, folder, clips)
            command = _command(name, paths, texts, language, minutes, resume)
            job.process = await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=_child_env(tts.settings.data_dir),
                cwd=folder,
                start_new_session=True,  # a Ctrl-C at the server's terminal is the server's to handle
            )
        except BaseException as exc:
            job.update(state="failed", error=TrainingError(message=f"could not start training: {exc}"))
            await asyncio.to_thread(shutil.rmtree, folder, True)
            raise
        if job.cancel_requested:  # cancelled while the clips were being written
            job.process.send_signal(signal.SIGINT)
        task = asyncio.create_task(self._follow(job), name=f"training-{job.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job

    def cancel(self, job: TrainingJob) -> None:
        """Ask the job to stop (SIGINT): it keeps its checkpoint for a resume. No-op once finished."""
        if not job.running:
            return
        job.cancel_requested = True
        if job.process is not None and job.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                job.process.send_signal(signal.SIGINT)

    async def shutdown(self, timeout: float) -> None:
        """Cancel the running job and wait for it up to ``timeout`` seconds, then kill it."""
        job = self.active()
        if job is not None:
            self.cancel(job)
            try:
                await asyncio.wait_for(job.finished.wait(), max(1.0, timeout))
            except TimeoutError:
                if job.process is not None and job.process.returncode is None:
                    with contextlib.suppress(ProcessLookupError):
                        job.process.kill()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 5.0)

    async def _follow(self, job: TrainingJob) -> None:
        process = job.process
        assert process is not None and process.stdout is not None and process.stderr is not None
        code: int | None = None
        try:
            await asyncio.gather(_read_events(job, process.stdout), _read_stderr(job, process.stderr))
            code = await process.wait()
            await asyncio.to_thread(shutil.rmtree, job.folder, True)
        except BaseException as exc:  # cancelled (server shutdown) or a broken pipe: the child must not outlive it
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
            shutil.rmtree(job.folder, ignore_errors=True)  # a few files; no waiting for a thread now
            job.outcome = job.outcome or {
                "state": "failed",
                "error": TrainingError(message=f"training stopped: {exc!r}"),
            }
            raise
        finally:
            job.finish(code)

    def _forget_old(self) -> None:
        finished = [key for key, job in self._jobs.items() if not job.running]
        for key in finished[: max(0, len(self._jobs) - KEPT_JOBS)]:
            del self._jobs[key]


async def _read_events(job: TrainingJob, stream: asyncio.StreamReader) -> None:
    async for raw in stream:
        try:
            event = json.loads(raw)
        except ValueError:
            continue  # something else printed to stdout
        if isinstance(event, dict):
            job.apply(event)


async def _read_stderr(job: TrainingJob, stream: asyncio.StreamReader) -> None:
    async for raw in stream:
        line = raw.decode("utf-8", "replace").rstrip()
        if line:
            job.stderr.append(line)


def _write_clips(folder: Path, clips: list[bytes]) -> list[Path]:
    paths = []
    for index, data in enumerate(clips):
        path = folder / f"clip-{index + 1:02d}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        paths.append(path)
    return paths


def _command(
    name: str, clips: list[Path], texts: list[str] | None, language: str | None, minutes: float, resume: bool
) -> list[str]:
    command = [sys.executable, "-m", "parrot.cli", "voices", "train", f"--minutes={minutes:g}", "--progress-json"]
    command += [f"--text={text}" for text in texts or []]  # "=": a text may start with "-"
    if language:
        command.append(f"--lang={language}")
    if resume:
        command.append("--resume")
    command += ["--", name, *map(str, clips)]
    nice = shutil.which("nice")
    return [nice, "-n", str(NICENESS), *command] if nice else command


def _child_env(data_dir: Path) -> dict[str, str]:
    """The server's environment, on its data directory, with one thread for ONNX Runtime and PyTorch."""
    env = dict(os.environ)
    env.update(
        PARROT_DATA_DIR=str(data_dir),
        PARROT_ENGINE="kokoro",
        PARROT_THREADS=CHILD_THREADS,
        OMP_NUM_THREADS=CHILD_THREADS,
        MKL_NUM_THREADS=CHILD_THREADS,
        PYTHONUNBUFFERED="1",
    )
    return env
