"""``parrot voices train --progress-json``: a training job's progress as JSON lines on stdout.

A parent process (the server's training jobs, ``server/training.py``) follows the job by reading one
object per line:

    {"event": "state", "state": "preparing" | "training" | "saving" | "cancelled"}
    {"event": "progress", "step": 12, "loss": 0.41, "fraction": 0.3, "elapsed": 18.2, "seconds_left": 41.8}
    {"event": "done", "voice": "grandma"}
    {"event": "error", "message": "...", "code": "invalid_request"}

SIGINT stops the training after the current step and keeps the checkpoint (a later run with ``--resume``
continues it); before training has started it stops at once. Exit status: 0 done, 130 cancelled, 2 error.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO

from .errors import ParrotError

if TYPE_CHECKING:
    from .training.job import TrainingJob
    from .training.trainer import Progress

PROGRESS_INTERVAL = 0.5  # seconds between progress lines
STATE_POLL = 0.1  # how often the job's state is looked at for changes
CANCELLED_EXIT = 130


class JsonLines:
    """Writes events, one JSON object per line, from any thread."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self._lock = threading.Lock()
        self._last_progress = 0.0

    def emit(self, event: str, **fields: Any) -> None:
        line = json.dumps({"event": event, **fields}, ensure_ascii=False, separators=(",", ":"))
        with self._lock:
            self.out.write(line + "\n")
            self.out.flush()

    def progress(self, progress: Progress, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_progress < PROGRESS_INTERVAL:
            return
        self._last_progress = now
        self.emit("progress", **progress_fields(progress))

    def error(self, exc: BaseException) -> None:
        code = exc.kind if isinstance(exc, ParrotError) else "internal_error"
        self.emit("error", message=str(exc) or type(exc).__name__, code=code)


def progress_fields(progress: Progress) -> dict[str, float | int]:
    return {
        "step": progress.step,
        "loss": round(progress.loss, 5),
        "fraction": round(progress.fraction, 4),
        "elapsed": round(progress.elapsed, 2),
        "seconds_left": round(progress.seconds_left, 2),
    }


def run_with_json(make_job: Callable[[], TrainingJob], out: TextIO | None = None) -> int:
    """Make the job (its errors are reported as events too), run it and report everything on ``out``."""
    lines = JsonLines(out or sys.stdout)
    lines.emit("state", state="preparing")
    try:
        job = make_job()
    except ParrotError as exc:
        lines.error(exc)
        return 2
    stop_watching = threading.Event()
    watcher = threading.Thread(target=_watch_state, args=(job, lines, stop_watching), daemon=True)

    def interrupt(signum: int, frame: object) -> None:
        if job.state != "training" or job.cancelled:
            raise KeyboardInterrupt
        job.cancel()  # the trainer saves its checkpoint after the current step

    previous = signal.signal(signal.SIGINT, interrupt)
    watcher.start()
    try:
        voice = job.run(lines.progress)
    except (KeyboardInterrupt, ParrotError) as exc:
        stop_watching.set()
        if isinstance(exc, KeyboardInterrupt) or job.state == "cancelled":
            lines.emit("state", state="cancelled")
            return CANCELLED_EXIT
        lines.error(exc)
        return 2
    except Exception as exc:  # reported to the parent; the details go to stderr
        stop_watching.set()
        traceback.print_exc(file=sys.stderr)
        lines.error(exc)
        return 2
    finally:
        stop_watching.set()
        signal.signal(signal.SIGINT, previous)
    watcher.join(timeout=1.0)
    if job.progress is not None:
        lines.progress(job.progress, force=True)
    lines.emit("done", voice=voice.name)
    return 0


def _watch_state(job: TrainingJob, lines: JsonLines, stop: threading.Event) -> None:
    """Reports the job's working states (preparing, training, saving) as they change."""
    seen = "preparing"
    while not stop.wait(STATE_POLL):
        state = job.state
        if state != seen and state in ("preparing", "training", "saving"):
            lines.emit("state", state=state)
            seen = state
