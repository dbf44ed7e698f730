"""Soak test of ``parrot serve``: mixed clients for a long time, watching for leaks (never pass/fail).

    .venv/bin/python bench/soak.py                          # 30 minutes, in-process server, real model
    .venv/bin/python bench/soak.py --minutes 5 --sample 10  # shorter
    .venv/bin/python bench/soak.py --url http://127.0.0.1:7860 --api-key KEY   # a running server

Clients, all at once and each in a loop: streaming speech (pcm, mp3, SSE), a speech request dropped after its
first bytes, the speech WebSocket (text deltas, a cancel now and then), bad requests (unknown voice, empty
text, broken JSON), voice listing and export, and a transcription. Every ``--sample`` seconds it reads the
server's ``/metrics``: resident memory, open file descriptors, asyncio tasks, open WebSocket sessions and
admitted jobs. Printed: the samples, then the first and last quarter's medians and their change. Flat is
what a healthy server shows; steady growth is a leak.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Iterator

import httpx
import websockets

GAUGES = {
    "rss_mb": ("process_resident_memory_bytes", 1 / 2**20),
    "fds": ("process_open_fds", 1.0),
    "tasks": ("parrot_event_loop_tasks", 1.0),
    "ws": ("parrot_websocket_sessions", 1.0),
    "jobs": ("parrot_active_jobs", 1.0),
}
SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "今天天气很好，我们去公园散步吧。",
    "Please call me back at 555-0100 before 6:30 pm [pause:0.3s] thanks!",
    "<speak>Hello <break time='200ms'/> world.</speak>",
]


def main() -> int:
    args = _parser().parse_args()
    with _server(args) as url:
        samples = asyncio.run(_soak(url, args))
    _report(samples)
    return 0


async def _soak(url: str, args: argparse.Namespace) -> list[dict[str, float]]:
    headers = {"Authorization": f"Bearer {args.api_key}"} if args.api_key else {}
    stop = time.monotonic() + args.minutes * 60
    outcomes: Counter[str] = Counter()
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120) as http:
        wav = (await http.post("/v1/audio/speech", json={"input": SENTENCES[0], "response_format": "wav"})).content
        clients = [
            _loop(stop, outcomes, "speech", lambda: _speech(http, "pcm")),
            _loop(stop, outcomes, "speech_mp3", lambda: _speech(http, "mp3")),
            _loop(stop, outcomes, "sse", lambda: _speech(http, "pcm", sse=True)),
            _loop(stop, outcomes, "dropped", lambda: _dropped(http)),
            _loop(stop, outcomes, "websocket", lambda: _websocket(url, args.api_key)),
            _loop(stop, outcomes, "bad", lambda: _bad(http)),
            _loop(stop, outcomes, "library", lambda: _library(http)),
            _loop(stop, outcomes, "transcribe", lambda: _transcribe(http, wav)),
        ]
        sampler = _sample(http, stop, args.sample)
        *_, samples = await asyncio.gather(*clients, sampler)
    print("requests by client and outcome:", dict(sorted(outcomes.items())), file=sys.stderr)
    return samples


async def _loop(stop: float, outcomes: Counter[str], name: str, make) -> None:  # noqa: ANN001
    while time.monotonic() < stop:
        try:
            outcomes[f"{name}:{await make()}"] += 1
        except Exception as exc:  # a failed client is counted, never fatal
            outcomes[f"{name}:{type(exc).__name__}"] += 1
            await asyncio.sleep(1)


async def _speech(http: httpx.AsyncClient, fmt: str, *, sse: bool = False) -> int:
    body = {"input": random.choice(SENTENCES), "response_format": fmt, **({"stream_format": "sse"} if sse else {})}
    async with http.stream("POST", "/v1/audio/speech", json=body) as response:
        async for _ in response.aiter_bytes():
            pass
        return response.status_code


async def _dropped(http: httpx.AsyncClient) -> int:
    body = {"input": " ".join(SENTENCES * 3), "response_format": "pcm"}
    async with http.stream("POST", "/v1/audio/speech", json=body) as response:
        async for _ in response.aiter_bytes():
            break  # the client goes away mid-stream
        return response.status_code


async def _websocket(url: str, api_key: str | None) -> str:
    ws_url = "ws" + url.removeprefix("http") + "/v1/audio/speech/stream" + (f"?api_key={api_key}" if api_key else "")
    async with websockets.connect(ws_url, max_size=None) as ws:
        for word in random.choice(SENTENCES).split():
            await ws.send(json.dumps({"type": "text.delta", "text": word + " "}))
        cancel = random.random() < 0.3
        await ws.send(json.dumps({"type": "cancel" if cancel else "text.done"}))
        want = "audio.cancelled" if cancel else "audio.done"
        while (kind := json.loads(await ws.recv())["type"]) != want:
            if kind == "error":
                return "error"
        return want


async def _bad(http: httpx.AsyncClient) -> int:
    choice = random.randrange(3)
    if choice == 0:
        return (await http.post("/v1/audio/speech", json={"input": "hi", "voice": "nobody"})).status_code
    if choice == 1:
        return (await http.post("/v1/audio/speech", json={"input": "   "})).status_code
    headers = {"content-type": "application/json"}
    return (await http.post("/v1/audio/speech", content=b'{"input": ', headers=headers)).status_code


async def _library(http: httpx.AsyncClient) -> int:
    voices = (await http.get("/v1/audio/voices")).json()["voices"]
    name = random.choice(voices)["name"]
    return (await http.get(f"/v1/audio/voices/{name}")).status_code


async def _transcribe(http: httpx.AsyncClient, wav: bytes) -> int:
    files = {"file": ("a.wav", wav, "audio/wav")}
    return (await http.post("/v1/audio/transcriptions", files=files, data={"model": "whisper-1"})).status_code


async def _sample(http: httpx.AsyncClient, stop: float, every: float) -> list[dict[str, float]]:
    samples: list[dict[str, float]] = []
    started = time.monotonic()
    while time.monotonic() < stop:
        text = (await http.get("/metrics")).text
        row = {"t": time.monotonic() - started}
        for key, (metric, scale) in GAUGES.items():
            match = re.search(rf"^{metric} ([0-9.e+-]+)$", text, re.MULTILINE)
            row[key] = float(match.group(1)) * scale if match else float("nan")
        samples.append(row)
        print("  ".join(f"{k} {v:8.1f}" for k, v in row.items()), file=sys.stderr, flush=True)
        await asyncio.sleep(every)
    return samples


def _report(samples: list[dict[str, float]]) -> None:
    quarter = max(1, len(samples) // 4)
    first, last = samples[:quarter], samples[-quarter:]
    print(f"{len(samples)} samples over {samples[-1]['t'] / 60:.1f} min; medians of the first and last quarter:")
    print(f"{'gauge':8} {'first':>10} {'last':>10} {'change':>10}")
    for key in GAUGES:
        a = statistics.median(s[key] for s in first)
        b = statistics.median(s[key] for s in last)
        print(f"{key:8} {a:10.1f} {b:10.1f} {b - a:+10.1f}")


@contextlib.contextmanager
def _server(args: argparse.Namespace) -> Iterator[str]:
    if args.url:
        yield args.url.rstrip("/")
        return
    from parrot.api import Parrot
    from parrot.server.app import create_app
    from parrot.server.settings import ServerSettings
    from parrot_dev.background import serve_in_background

    tts = Parrot()
    tts.engine.warm_up()
    with serve_in_background(create_app(tts, ServerSettings(workers=2, max_jobs=12))) as url:
        yield url


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--sample", type=float, default=30.0, help="seconds between /metrics samples")
    parser.add_argument("--url", help="soak a running server instead of one started here")
    parser.add_argument("--api-key")
    return parser


if __name__ == "__main__":
    raise SystemExit(main())
