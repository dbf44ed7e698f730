"""Load benchmark for ``parrot serve``: how the scheduler shares the engine between streaming clients.

    .venv/bin/python bench/bench_server.py                      # in-process server on a free port
    .venv/bin/python bench/bench_server.py --duration 10 --concurrency 1,4,16 --workers 2
    .venv/bin/python bench/bench_server.py --url http://127.0.0.1:7860   # an already running server

First the bare engine: ``tts.stream`` run back to back in this process (audio seconds per wall second).
Then, for each concurrency level, that many clients stream ``/v1/audio/speech`` (``response_format=pcm``)
over loopback, one request after another, for ``--duration`` seconds. Printed per level: time to first
audio p50/p95, audio seconds produced per wall second, that throughput as % of the bare engine, and
how many requests ended 200 / 429 / 503 / otherwise. It prints figures; it never judges them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import numpy as np

TEXT = "The quick brown fox jumps over the lazy dog. It was a bright, cold day in April."


@dataclass
class Level:
    clients: int
    wall: float = 0.0
    audio_seconds: float = 0.0
    first_audio: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)


def main() -> int:
    args = _parser().parse_args()
    levels = [int(c) for c in args.concurrency.split(",") if c.strip()]
    from parrot.api import Parrot

    print("loading the model...", file=sys.stderr)
    tts = Parrot()
    warm_up = getattr(tts.engine, "warm_up", None)
    if callable(warm_up):
        warm_up()
    bare, bare_first = _bare_engine(tts, args.text, args.bare_seconds)
    print(
        f"bare engine: {bare:.2f} audio s per wall s, first chunk after {bare_first:.2f} s "
        f"(tts.stream one at a time for {args.bare_seconds:g} s)"
    )
    with _server(tts, args) as url:
        results = [asyncio.run(_level(url, n, args)) for n in levels]
    _print_table(results, bare)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", help="target a running server instead of starting one in-process")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load per level (default 20)")
    parser.add_argument("--concurrency", default="1,2,4,8,16", help="comma-separated client counts")
    parser.add_argument("--workers", type=int, default=2, help="in-process server: concurrent model calls")
    parser.add_argument("--max-jobs", type=int, default=16, help="in-process server: admitted streams")
    parser.add_argument("--bare-seconds", type=float, default=10.0, help="seconds of bare-engine measurement")
    parser.add_argument("--text", default=TEXT, help="what every request says")
    parser.add_argument("--voice", default=None, help="voice for every request (default: the server's)")
    parser.add_argument("--api-key", default=None, help="Bearer key, if the server wants one")
    return parser


def _bare_engine(tts, text: str, seconds: float) -> tuple[float, float]:  # noqa: ANN001 - a Parrot
    """Audio seconds per wall second and the median time to the first chunk, one stream at a time."""
    audio, firsts = 0.0, []
    started = time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds or not firsts:
        begun = time.perf_counter()
        for i, chunk in enumerate(tts.stream(text)):
            if i == 0:
                firsts.append(time.perf_counter() - begun)
            audio += chunk.duration
    return audio / elapsed, float(np.median(firsts))


@contextlib.contextmanager
def _server(tts, args: argparse.Namespace) -> Iterator[str]:  # noqa: ANN001 - a Parrot
    if args.url:
        yield args.url.rstrip("/")
        return
    from parrot.server.app import create_app
    from parrot.server.settings import ServerSettings
    from parrot_dev.background import serve_in_background

    settings = ServerSettings(workers=args.workers, max_jobs=args.max_jobs)
    print(f"server: {args.workers} workers, max {args.max_jobs} jobs", file=sys.stderr)
    with serve_in_background(create_app(tts, settings), startup_timeout=300) as url:
        yield url


async def _level(url: str, clients: int, args: argparse.Namespace) -> Level:
    result = Level(clients)
    headers = {"Authorization": f"Bearer {args.api_key}"} if args.api_key else {}
    body = {"model": "tts-1", "input": args.text, "response_format": "pcm"}
    if args.voice:
        body["voice"] = args.voice
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    timeout = httpx.Timeout(300.0, connect=10.0)
    print(f"{clients} client(s) for {args.duration:g} s...", file=sys.stderr)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=timeout) as client:
        started = time.perf_counter()
        deadline = started + args.duration
        await asyncio.gather(*(_client(client, body, deadline, result) for _ in range(clients)))
        result.wall = time.perf_counter() - started
    return result


async def _client(client: httpx.AsyncClient, body: dict, deadline: float, result: Level) -> None:
    while time.perf_counter() < deadline:
        sent = time.perf_counter()
        try:
            async with client.stream("POST", "/v1/audio/speech", json=body) as response:
                if response.status_code != 200:
                    await response.aread()
                    result.statuses[str(response.status_code)] += 1
                    retry = float(response.headers.get("Retry-After", "1"))
                    await asyncio.sleep(min(retry, max(0.0, deadline - time.perf_counter()), 2.0))
                    continue
                rate = int(response.headers.get("X-Parrot-Sample-Rate", "24000"))
                size, first = 0, None
                async for data in response.aiter_bytes():
                    if data and first is None:
                        first = time.perf_counter() - sent
                    size += len(data)
        except httpx.HTTPError as exc:
            result.statuses[type(exc).__name__] += 1
            continue
        result.statuses["200"] += 1
        result.audio_seconds += size / 2 / rate
        if first is not None:
            result.first_audio.append(first)


def _print_table(results: list[Level], bare: float) -> None:
    print()
    print(f"{'clients':>7} {'TTFA p50':>9} {'TTFA p95':>9} {'audio s/s':>9} {'% bare':>7} "
          f"{'200':>5} {'429':>5} {'503':>5} {'other':>5} {'wall s':>7}")  # fmt: skip
    for r in results:
        p50, p95 = np.percentile(r.first_audio, [50, 95]) if r.first_audio else (float("nan"),) * 2
        rate = r.audio_seconds / r.wall if r.wall else 0.0
        other = sum(n for status, n in r.statuses.items() if status not in ("200", "429", "503"))
        print(
            f"{r.clients:>7} {p50:>8.2f}s {p95:>8.2f}s {rate:>9.2f} {100 * rate / bare:>6.0f}% "
            f"{r.statuses['200']:>5} {r.statuses['429']:>5} {r.statuses['503']:>5} {other:>5} {r.wall:>7.1f}"
        )


if __name__ == "__main__":
    raise SystemExit(main())
