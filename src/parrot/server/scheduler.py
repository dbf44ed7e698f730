"""A bounded, fair scheduler for chunked synthesis.

``workers`` threads pull jobs from one FIFO run queue. A job wraps an iterator whose every ``next()``
is one model call; a worker computes exactly one item, hands it to the job's asyncio queue with
``loop.call_soon_threadsafe`` and puts the job back at the *end* of the run queue. Concurrent streams
therefore advance round-robin, one chunk at a time, and a long text never starves a short one.

* Admission: at most ``max_jobs`` jobs are admitted at once; ``submit`` raises ``QueueFull`` (with an
  estimated ``retry_after`` in seconds) beyond that, and ``ShuttingDown`` once ``shutdown`` began.
* Back-pressure: a job stops being scheduled ("parks") while ``max_buffered`` of its items wait for
  its consumer, and is put back on the run queue as the consumer catches up.
* Cancellation: ``Job.cancel()`` (client gone, WebSocket cancel) wakes the consumer at once; a worker
  drops the job the next time it pulls it, so at most the chunk in progress is wasted.
* Errors raised by the iterator are re-raised to the consumer; the job then ends.
* Priority: a ``background`` job (a book) is computed only when no interactive job waits for a worker, so
  interactive streams keep their latency; it does not count against ``max_jobs``.

Nothing here is global: each app owns one ``Scheduler``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
import queue
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)

_STOP = object()  # run-queue sentinel: a worker that pulls it exits
_END = object()  # output-queue sentinel: no more items
_STOP_PRIORITY = 2  # after every job still queued


class SchedulerError(Exception):
    """The scheduler did not take the job."""


class QueueFull(SchedulerError):
    """Too many jobs are admitted; try again after ``retry_after`` seconds."""

    def __init__(self, max_jobs: int, retry_after: int) -> None:
        super().__init__(
            f"the server is busy ({max_jobs} speech streams in progress); retry in about {retry_after} s"
        )
        self.retry_after = retry_after


class ShuttingDown(SchedulerError):
    """The scheduler no longer admits jobs."""

    def __init__(self) -> None:
        super().__init__("the server is shutting down and takes no new work; retry on another instance")


class _Failure:
    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


class Job(Generic[T]):
    """One admitted stream. Consume it with ``async for`` on the event loop that submitted it; call
    ``cancel()`` (idempotent, any thread) when the consumer goes away."""

    def __init__(
        self, scheduler: Scheduler, iterator: Iterator[T], loop: asyncio.AbstractEventLoop, background: bool = False
    ) -> None:
        self._scheduler = scheduler
        self.background = background
        self._iterator = iterator
        self._loop = loop
        self._output: asyncio.Queue[Any] = asyncio.Queue()
        self._lock = threading.Lock()
        self._buffered = 0  # items handed to the output queue and not consumed yet
        self._parked = False  # not on the run queue because the consumer is behind
        self._cancelled = False
        self._released = False  # admission slot given back (exactly once)
        self._ended = False  # the consumer has seen the end
        self.admitted_at = time.monotonic()
        self.steps = 0  # next() calls made (for tests and metrics)

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    @property
    def finished(self) -> bool:
        """True once no worker will touch this job again."""
        return self._released

    def cancel(self) -> None:
        """Stop computing this job and end the consumer's iteration at once (it sees a normal end)."""
        with self._lock:
            if self._cancelled or self._released:
                return
            self._cancelled = True
            parked, self._parked = self._parked, False
        if parked:  # no worker holds it and nobody will pull it: release here
            self._scheduler._release(self)
        self._put(_END)

    def __aiter__(self) -> AsyncIterator[T]:
        return self

    async def __anext__(self) -> T:
        item = _END if self._ended or self._cancelled else await self._output.get()
        if item is _END or self._cancelled:  # after cancel(), items still buffered are dropped
            self._ended = True
            raise StopAsyncIteration
        if isinstance(item, _Failure):
            self._ended = True
            raise item.error
        self._consumed()
        return item

    # -- called by workers -------------------------------------------------------------------------

    def _step(self) -> None:
        """Compute one item (worker thread) and decide whether the job goes back on the run queue."""
        if self._cancelled:
            self._scheduler._release(self)
            return
        self.steps += 1
        try:
            item: Any = next(self._iterator)
        except StopIteration:
            self._finish(_END)
            return
        except BaseException as exc:  # delivered to the consumer, never lost in a worker
            self._finish(_Failure(exc))
            return
        with self._lock:  # hand over under the lock, so a consumer's wake-up cannot overtake this item
            cancelled, requeue = self._cancelled, False
            if not cancelled:
                self._put(item)
                self._buffered += 1
                self._parked = self._buffered >= self._scheduler.max_buffered
                requeue = not self._parked
        if cancelled:
            self._scheduler._release(self)
        elif requeue:
            self._scheduler._enqueue(self)

    def _finish(self, last: Any) -> None:
        self._scheduler._release(self)
        self._put(last)

    def _put(self, item: Any) -> None:
        try:
            self._loop.call_soon_threadsafe(self._output.put_nowait, item)
        except RuntimeError:  # the event loop is closed: nobody is listening any more
            self._cancelled = True  # the next worker to pull the job releases it

    def _consumed(self) -> None:
        with self._lock:
            self._buffered -= 1
            wake = self._parked and self._buffered < self._scheduler.max_buffered and not self._cancelled
            if wake:
                self._parked = False
        if wake:
            self._scheduler._enqueue(self)

    def _close_iterator(self) -> None:
        close = getattr(self._iterator, "close", None)
        if close is not None:
            try:
                close()
            except Exception:  # a generator's cleanup failing must not take a worker down
                log.exception("closing a cancelled job's iterator failed")


class Scheduler:
    """Round-robin chunk scheduler; see the module docstring. Start it with ``start()``."""

    def __init__(
        self, workers: int = 2, max_jobs: int = 16, max_buffered: int = 4, name: str = "parrot"
    ) -> None:
        if workers < 1 or max_jobs < 1 or max_buffered < 1:
            raise ValueError("workers, max_jobs and max_buffered must be at least 1")
        self.workers = workers
        self.max_jobs = max_jobs
        self.max_buffered = max_buffered
        self._name = name
        # (priority, arrival, job): interactive jobs (0) before background ones (1), each round-robin.
        self._run_queue: queue.PriorityQueue[tuple[int, int, Any]] = queue.PriorityQueue()
        self._arrivals = itertools.count()
        self._lock = threading.Lock()
        self._jobs: set[Job[Any]] = set()
        self._idle = threading.Condition(self._lock)
        self._threads: list[threading.Thread] = []
        self._closing = False
        self._busy = 0  # workers inside next()
        self._job_seconds = 2.0  # moving average of admission-to-end time, for Retry-After
        self.completed = 0

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        if self._threads:
            return
        for i in range(self.workers):
            thread = threading.Thread(target=self._work, name=f"{self._name}-worker-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)

    async def shutdown(self, timeout: float = 10.0) -> None:
        """Stop admitting, give in-flight jobs ``timeout`` seconds to finish, cancel the rest, join."""
        with self._lock:
            self._closing = True
        await asyncio.to_thread(self._drain, timeout)
        self._stop_threads()

    def _drain(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._jobs and (left := deadline - time.monotonic()) > 0:
                self._idle.wait(left)
            leftover = list(self._jobs)
        for job in leftover:
            job.cancel()

    def _stop_threads(self) -> None:
        for _ in self._threads:
            self._run_queue.put((_STOP_PRIORITY, next(self._arrivals), _STOP))
        for thread in self._threads:
            thread.join(timeout=30)
        self._threads.clear()

    # -- admission ---------------------------------------------------------------------------------

    def submit(self, iterator: Iterator[T], background: bool = False) -> Job[T]:
        """Admit a job (call from the event loop that will consume it); raises ``SchedulerError``. A
        ``background`` job runs only on workers that no interactive job is waiting for."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._closing or not self._threads:
                raise ShuttingDown()
            if not background and sum(not j.background for j in self._jobs) >= self.max_jobs:
                raise QueueFull(self.max_jobs, self._retry_after())
            job: Job[T] = Job(self, iterator, loop, background)
            self._jobs.add(job)
        self._enqueue(job)
        return job

    def _enqueue(self, job: Job[Any]) -> None:
        self._run_queue.put((int(job.background), next(self._arrivals), job))

    def _retry_after(self) -> int:
        # Round-robin service: with n jobs running, one ends about every (average job time / n) seconds.
        return max(1, min(60, math.ceil(self._job_seconds / max(1, len(self._jobs)))))

    def _release(self, job: Job[Any]) -> None:
        with job._lock:
            if job._released:
                return
            job._released = True
            cancelled = job._cancelled
        if cancelled:
            job._close_iterator()
        with self._lock:
            self._jobs.discard(job)
            if not cancelled:
                self.completed += 1
                took = time.monotonic() - job.admitted_at
                self._job_seconds = 0.8 * self._job_seconds + 0.2 * took
            self._idle.notify_all()

    # -- workers -----------------------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            _, _, job = self._run_queue.get()
            if job is _STOP:
                return
            with self._lock:
                self._busy += 1
            try:
                job._step()
            except BaseException:  # a bug here must not kill the worker
                log.exception("scheduler worker failed on a job")
                with contextlib.suppress(Exception):
                    job.cancel()
            finally:
                with self._lock:
                    self._busy -= 1

    # -- introspection -----------------------------------------------------------------------------

    @property
    def closing(self) -> bool:
        return self._closing

    @property
    def active_jobs(self) -> int:
        return len(self._jobs)

    @property
    def queue_depth(self) -> int:
        """Jobs waiting for a worker (not counting those being computed or parked)."""
        return self._run_queue.qsize()

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "workers": self.workers,
                "busy_workers": self._busy,
                "max_jobs": self.max_jobs,
                "active_jobs": len(self._jobs),
                "queued": self._run_queue.qsize(),
                "completed": self.completed,
                "accepting": not self._closing and bool(self._threads),
            }
