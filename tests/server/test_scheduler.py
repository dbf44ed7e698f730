"""The scheduler: fairness, admission, back-pressure, cancellation, errors, shutdown.

Unit tests use fake iterators; the last tests drive a real server over a fake engine.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import pytest

from parrot.server.app import create_app
from parrot.server.scheduler import QueueFull, Scheduler, ShuttingDown
from parrot.server.settings import ServerSettings


class Counted:
    """An iterator that sleeps ``delay`` per item and counts ``next()`` calls; ``fail_at`` raises there."""

    def __init__(self, name: str, n: int | None, delay: float = 0.02, fail_at: int | None = None) -> None:
        self.name, self.n, self.delay, self.fail_at = name, n, delay, fail_at
        self.calls = 0
        self.log: list[str] | None = None

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        if self.n is not None and self.calls >= self.n:
            raise StopIteration
        self.calls += 1
        if self.log is not None:
            self.log.append(self.name)
        if self.calls == self.fail_at:
            raise ValueError(f"{self.name} broke at item {self.calls}")
        time.sleep(self.delay)
        return f"{self.name}{self.calls}"


def run(coro):  # noqa: ANN001, ANN201 - tiny helper
    return asyncio.run(asyncio.wait_for(coro, timeout=30))


async def drain(job) -> list[str]:  # noqa: ANN001
    return [item async for item in job]


async def settles(predicate, timeout: float = 5.0) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    return predicate()


def test_short_job_submitted_after_a_long_one_finishes_first() -> None:
    async def main() -> None:
        scheduler = Scheduler(workers=1, max_jobs=4)
        scheduler.start()
        order: list[str] = []
        steps: list[str] = []
        long, short = Counted("L", 20), Counted("S", 3)
        long.log = short.log = steps

        async def consume(name: str, it: Counted) -> None:
            await drain(scheduler.submit(it))
            order.append(name)

        first = asyncio.create_task(consume("long", long))
        await asyncio.sleep(0.05)  # the long job is already running
        await asyncio.gather(first, consume("short", short))
        await scheduler.shutdown()
        assert order == ["short", "long"]
        # round robin: once the short job arrived, the two alternate chunk by chunk
        joined = "".join(steps)
        assert "SLSLS" in joined or "LSLSLS" in joined, joined
        assert long.calls == 20 and short.calls == 3

    run(main())


def test_admission_is_bounded_and_suggests_a_retry() -> None:
    async def main() -> None:
        scheduler = Scheduler(workers=1, max_jobs=2)
        scheduler.start()
        jobs = [scheduler.submit(Counted("a", 5)), scheduler.submit(Counted("b", 5))]
        with pytest.raises(QueueFull) as caught:
            scheduler.submit(Counted("c", 5))
        assert 1 <= caught.value.retry_after <= 60
        assert "busy" in str(caught.value)
        await asyncio.gather(*(drain(j) for j in jobs))
        assert scheduler.active_jobs == 0
        assert await drain(scheduler.submit(Counted("d", 2))) == ["d1", "d2"]  # a slot is free again
        await scheduler.shutdown()

    run(main())


def test_cancelled_job_stops_consuming_the_engine() -> None:
    async def main() -> None:
        scheduler = Scheduler(workers=2, max_jobs=4)
        scheduler.start()
        endless = Counted("x", None, delay=0.03)
        job = scheduler.submit(endless)
        got = []
        async for item in job:
            got.append(item)
            if len(got) == 3:
                break
        calls_at_cancel = endless.calls
        job.cancel()
        await asyncio.sleep(0.4)  # ~13 more chunks' worth of time
        assert endless.calls <= calls_at_cancel + 1  # at most the chunk in progress is wasted
        assert scheduler.active_jobs == 0 and job.finished
        assert [item async for item in job] == []  # the consumer sees the end
        await scheduler.shutdown()

    run(main())


def test_slow_consumer_pauses_its_job_and_cancel_frees_the_slot() -> None:
    async def main() -> None:
        scheduler = Scheduler(workers=1, max_jobs=1, max_buffered=3)
        scheduler.start()
        endless = Counted("x", None, delay=0.01)
        job = scheduler.submit(endless)
        assert await settles(lambda: endless.calls == 3)
        await asyncio.sleep(0.2)
        assert endless.calls == 3  # parked: nobody reads, nothing more is computed
        assert await job.__anext__() == "x1"
        assert await settles(lambda: endless.calls == 4)  # reading one item lets it make one more
        await asyncio.sleep(0.2)
        assert endless.calls == 4
        job.cancel()
        assert scheduler.active_jobs == 0
        scheduler.submit(Counted("y", 1)).cancel()  # the slot is free
        await scheduler.shutdown()

    run(main())


def test_errors_reach_the_consumer_and_free_the_slot() -> None:
    async def main() -> None:
        scheduler = Scheduler(workers=1, max_jobs=1)
        scheduler.start()
        job = scheduler.submit(Counted("e", 5, fail_at=2))
        assert await job.__anext__() == "e1"
        with pytest.raises(ValueError, match="broke at item 2"):
            await job.__anext__()
        assert scheduler.active_jobs == 0
        assert await drain(scheduler.submit(Counted("ok", 1))) == ["ok1"]
        await scheduler.shutdown()

    run(main())


def test_shutdown_finishes_in_flight_work_then_cancels_and_joins() -> None:
    async def main() -> None:
        scheduler = Scheduler(workers=2, max_jobs=4, max_buffered=2)
        scheduler.start()
        threads = list(scheduler._threads)
        finishing = scheduler.submit(Counted("f", 6, delay=0.02))
        stuck = scheduler.submit(Counted("s", None, delay=0.01))  # nobody reads it: it parks for good
        consumer = asyncio.create_task(drain(finishing))
        started = time.monotonic()
        await asyncio.sleep(0.01)
        closing = asyncio.create_task(scheduler.shutdown(timeout=1.0))
        await asyncio.sleep(0.05)
        with pytest.raises(ShuttingDown):
            scheduler.submit(Counted("late", 1))
        await closing
        assert await consumer == [f"f{i}" for i in range(1, 7)]  # in-flight work completed
        assert stuck.cancelled and stuck.finished
        assert 0.9 <= time.monotonic() - started < 10
        assert not any(t.is_alive() for t in threads)
        assert scheduler.stats()["accepting"] is False

    run(main())


def test_scheduler_state_is_per_instance() -> None:
    async def main() -> None:
        a, b = Scheduler(workers=1, max_jobs=1), Scheduler(workers=1, max_jobs=1)
        a.start()
        b.start()
        ja = a.submit(Counted("a", 2))
        jb = b.submit(Counted("b", 2))  # a's full slot does not affect b
        assert await drain(ja) == ["a1", "a2"] and await drain(jb) == ["b1", "b2"]
        await a.shutdown()
        assert b.stats()["accepting"]
        await b.shutdown()

    run(main())


# -- through a real server -------------------------------------------------------------------------


def test_overload_answers_429_with_retry_after(serve, fake_parrot, wait_until) -> None:  # noqa: ANN001
    tts = fake_parrot(delay=0.05)
    app = create_app(tts, ServerSettings(workers=1, max_jobs=1))
    with serve(app) as srv, httpx.Client(base_url=srv.url, timeout=30) as client:
        text = " ".join(["word"] * 40)  # 40 chunks, ~2 s
        with client.stream(
            "POST", "/v1/audio/speech", json={"input": text, "response_format": "pcm"}
        ) as first:
            assert first.status_code == 200
            next(first.iter_bytes())
            busy = client.post("/v1/audio/speech", json={"input": "hello", "response_format": "pcm"})
            assert busy.status_code == 429
            assert int(busy.headers["Retry-After"]) >= 1
            error = busy.json()["error"]
            assert error["type"] == "rate_limit_error" and error["code"] == "rate_limit_exceeded"
            assert "busy" in error["message"]
        # the first stream was closed early: its slot comes back without finishing the text
        assert wait_until(lambda: srv.state.scheduler.active_jobs == 0, timeout=5)
        assert tts.engine.calls < 40
        ok = client.post("/v1/audio/speech", json={"input": "hello again", "response_format": "pcm"})
        assert ok.status_code == 200 and len(ok.content) == 2 * 2 * int(0.25 * 24_000)
        metrics = client.get("/metrics").text
        assert 'parrot_errors_total{kind="rate_limit_exceeded"} 1.0' in metrics


def test_client_disconnect_cancels_the_job(serve, fake_parrot, wait_until) -> None:  # noqa: ANN001
    tts = fake_parrot(delay=0.05)
    with serve(create_app(tts, ServerSettings(workers=2, max_jobs=4))) as srv:
        text = " ".join(["word"] * 200)  # ~10 s if it ran to the end
        with (
            httpx.Client(base_url=srv.url, timeout=30) as client,
            client.stream(
                "POST", "/v1/audio/speech", json={"input": text, "response_format": "pcm"}
            ) as response,
        ):
            next(response.iter_bytes())
        assert wait_until(lambda: srv.state.scheduler.active_jobs == 0, timeout=5)
        calls = tts.engine.calls
        time.sleep(0.3)
        assert tts.engine.calls == calls < 30


def test_shutdown_refuses_new_work_with_503(fake_parrot) -> None:  # noqa: ANN001
    async def main() -> None:
        app = create_app(fake_parrot(delay=0.01), ServerSettings(workers=1, max_jobs=2))
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://test") as client,
        ):
            assert (
                await client.post("/v1/audio/speech", json={"input": "hi", "response_format": "pcm"})
            ).is_success
            closing = asyncio.create_task(app.state.parrot.scheduler.shutdown(timeout=0.5))
            await asyncio.sleep(0)
            refused = await client.post("/v1/audio/speech", json={"input": "hi"})
            await closing
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "shutting_down"

    run(main())
