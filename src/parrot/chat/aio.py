"""Bridging blocking iterators (a local model generating tokens, the TTS engine making audio) into asyncio."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TypeVar

T = TypeVar("T")
_END = object()


async def iterate_in_thread(
    make: Callable[[], Iterator[T]], *, name: str = "parrot-worker", ahead: int | None = None
) -> AsyncIterator[T]:
    """Run ``make()`` and iterate it in a dedicated thread, yielding its items on the event loop.

    Items are handed over as soon as they exist. ``ahead``: at most this many items wait, made but not
    yet taken; the thread then waits too, so a consumer that pauses pauses the work (and frees the CPU).
    None: no limit. When the consumer stops early (``aclose``, cancellation) the thread stops after the
    item it is making and closes the iterator, so a cancelled generation stops within one step.
    Exceptions from the iterator are re-raised here.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[object, BaseException | None]] = asyncio.Queue()
    stop = threading.Event()
    room = threading.Semaphore(ahead) if ahead is not None else None

    def wait_for_room() -> bool:
        """False when the consumer has gone."""
        while room is not None and not room.acquire(timeout=0.05):
            if stop.is_set():
                return False
        return not stop.is_set()

    def hand_over(item: object, exc: BaseException | None = None) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is listening any more
            loop.call_soon_threadsafe(queue.put_nowait, (item, exc))

    def run() -> None:
        try:
            iterator = make()
            try:
                for item in iterator:
                    if not wait_for_room():
                        break
                    hand_over(item)
            finally:
                close = getattr(iterator, "close", None)
                if callable(close):
                    close()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the consumer
            hand_over(_END, exc)
        else:
            hand_over(_END)

    threading.Thread(target=run, name=name, daemon=True).start()
    try:
        while True:
            item, exc = await queue.get()
            if room is not None:
                room.release()
            if item is _END:
                if exc is not None:
                    raise exc
                return
            yield item  # type: ignore[misc]
    finally:
        stop.set()
