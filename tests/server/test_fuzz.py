"""A seeded fuzz of every HTTP route (from the server's own OpenAPI schema) and every WebSocket event.

Whatever arrives, the server answers 2xx or 4xx in OpenAI's error shape, never 5xx, and stays alive. Bounded
in time; the seed is printed on failure so a run can be repeated (``PARROT_FUZZ_SEED``).
"""

from __future__ import annotations

import io
import json
import os
import random
import struct
import time
import wave
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import numpy as np
import pytest
from websockets.sync.client import connect

from parrot.chat.config import ChatSettings
from parrot.server.app import create_app
from parrot.server.settings import ServerSettings

SEED = int(os.environ.get("PARROT_FUZZ_SEED", "1207"))
HTTP_BUDGET = 120.0  # seconds of fuzzing per test
STRINGS = [
    "",
    " ",
    "a",
    "jf_alpha",
    "../../etc/passwd",
    "..",
    "/",
    "\\",
    "con",
    "NUL",
    "a/b",
    "%2e%2e%2f",
    "\x00",
    "\u202e",
    "alloy",
    "中文女",
    "shimmer",
    "<speak><break time='999s'/></speak>",
    "[pause:10s]",
    "[laughter]",
    "<|ko|>안녕",
    "<p",
    "x" * 5000,
    "😀" * 100,
    "1" * 300,
    "$1,000,000.00",
    "speak cheerfully",
    "用悲伤的语气",
    "mp3",
    "wav",
    "pcm",
    "json",
    "verbose_json",
    "srt",
    "vtt",
    "text",
    "sse",
    "audio",
    "en",
    "zh",
    "ja",
    "ko",
    "xx",
    "auto",
    "NaN",
    "-1",
]


def _value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(9 if depth < 3 else 5)
    if kind == 0:
        return rng.choice(STRINGS)
    if kind == 1:
        return rng.choice([0, -1, 1, 2, 0.5, 1e308, -1e308, 2**63, 2**31 - 1, 3.5])
    if kind == 2:
        return rng.choice([True, False, None])
    if kind == 3:
        codes = (rng.randrange(1, 0x2FFFF) for _ in range(rng.randrange(1, 40)))
        return "".join(chr(c) for c in codes if not 0xD800 <= c <= 0xDFFF)  # no lone surrogates: not UTF-8
    if kind == 4:
        return rng.choice(STRINGS) + rng.choice(STRINGS)
    if kind in (5, 6):
        return [_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {rng.choice(STRINGS[:20]): _value(rng, depth + 1) for _ in range(rng.randrange(4))}


def _wav(rate: int, bits: int, frames: bytes) -> bytes:
    """A WAV file whose header says ``rate`` and ``bits`` whatever the samples are."""
    channels, block = 1, max(1, bits // 8)
    fmt = struct.pack("<HHIIHH", 1, channels, rate & 0xFFFFFFFF, (rate * block) & 0xFFFFFFFF, block, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(frames)) + frames
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _noise_wav(rng: random.Random, seconds: float) -> bytes:
    audio = (np.random.default_rng(rng.randrange(1 << 30)).standard_normal(int(16_000 * seconds)) * 3000).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16_000)
        w.writeframes(audio.tobytes())
    return buffer.getvalue()


def _file(rng: random.Random) -> bytes:
    return rng.choice([
        lambda: b"",
        lambda: bytes(rng.randrange(256) for _ in range(rng.randrange(1, 2000))),
        lambda: _wav(2**31 - 1, 16, b"\0" * 3200),
        lambda: _wav(16_000, 64, b"\0" * 6400),
        lambda: _wav(0, 16, b"\0" * 3200),
        lambda: _wav(16_000, 16, b"\0" * 1),
        lambda: _wav(16_000, 16, b"\0" * 32_000 * 4),  # 4 s of silence
        lambda: _noise_wav(rng, 0.5),
        lambda: _noise_wav(rng, 4.0),
        lambda: b"PK\x03\x04" + bytes(rng.randrange(256) for _ in range(200)),  # a broken zip (.voice)
        lambda: b"ID3" + b"\xff" * 500,
    ])()  # fmt: skip


def _resolve(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _requests(spec: dict[str, Any]) -> list[tuple[str, str, str | None, dict[str, Any], list[str]]]:
    """(method, path, content type, field schemas, path parameters) for every route in the schema."""
    found = []
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            content = (op.get("requestBody") or {}).get("content", {})
            ctype = next(iter(content), None)
            fields = _resolve(content[ctype]["schema"], spec).get("properties", {}) if ctype else {}
            params = [p["name"] for p in op.get("parameters", []) if p["in"] == "path"]
            found.append((method.upper(), path, ctype, fields, params))
    return found


@pytest.fixture
def fuzz_server(serve, fake_parrot, fake_llm) -> Iterator[Any]:  # noqa: ANN001
    url, _ = fake_llm
    settings = ServerSettings(workers=2, max_jobs=8, max_upload_mb=1.0, max_text_chars=5_000)
    app = create_app(fake_parrot(delay=0.0), settings, ChatSettings(llm_base_url=url, llm_model="fake"))
    with serve(app) as srv:
        yield srv


def _check(response: httpx.Response, what: str) -> None:
    assert response.status_code < 500, f"seed {SEED}: {what} -> {response.status_code} {response.text[:300]}"
    if response.status_code >= 400:
        error = response.json()["error"]
        assert error["message"] and error["type"], what
        assert "/tmp/" not in error["message"] and "/root/" not in error["message"], (what, error)  # no server paths


@pytest.mark.slow
@pytest.mark.model  # transcription and voice chat load the real Whisper and VAD
def test_http_fuzz_never_answers_5xx(fuzz_server) -> None:  # noqa: ANN001
    rng = random.Random(SEED)
    with httpx.Client(base_url=fuzz_server.url, timeout=60) as http:
        spec = http.get("/openapi.json").json()
        routes = _requests(spec)
        deadline, count = time.monotonic() + HTTP_BUDGET, 0
        while time.monotonic() < deadline:
            method, path, ctype, fields, params = rng.choice(routes)
            for name in params:
                path = path.replace("{" + name + "}", quote(str(_value(rng)), safe="") or "x")
            chosen = {k: v for k, v in fields.items() if rng.random() < 0.8}
            what = f"{method} {path} {sorted(chosen)}"
            if ctype == "application/json":
                body = {name: _value(rng) for name in chosen}
                if "input" in fields and rng.random() < 0.7:
                    body["input"] = rng.choice(STRINGS)
                response = http.request(method, path, json=body)
            elif ctype in ("multipart/form-data", "application/x-www-form-urlencoded"):
                files = {
                    n: (rng.choice(["a.wav", "../x.voice", "b"]), _file(rng))
                    for n, f in chosen.items()
                    if f.get("format") == "binary" or "binary" in json.dumps(f)
                }
                data = {n: str(_value(rng)) for n in chosen if n not in files}
                response = http.request(method, path, data=data, files=files or None)
            else:
                response = http.request(method, path)
            _check(response, what)
            count += 1
        assert http.get("/healthz").status_code == 200
    assert count > 50, count


WS_EVENTS = {
    "/v1/audio/speech/stream": ["session.update", "text.delta", "text.done", "cancel", "bogus"],
    "/v1/realtime": [
        "session.update", "input_audio_buffer.append", "input_audio_buffer.commit", "input_audio_buffer.clear",
        "conversation.item.create", "response.create", "response.cancel", "conversation.item.truncate", "bogus",
    ],
}  # fmt: skip


@pytest.mark.slow
@pytest.mark.model
@pytest.mark.parametrize("route", list(WS_EVENTS))
def test_websocket_fuzz_keeps_sessions_and_server_alive(fuzz_server, route: str) -> None:  # noqa: ANN001
    rng = random.Random(SEED + len(route))
    deadline = time.monotonic() + 45
    with connect(fuzz_server.ws_url + route, max_size=None) as ws:
        while time.monotonic() < deadline:
            event: dict[str, Any] = {"type": rng.choice(WS_EVENTS[route])}
            for _ in range(rng.randrange(4)):
                event[rng.choice(["text", "voice", "speed", "lang", "session", "audio", "item", "item_id",
                                  "audio_end_ms", "response_format", "instructions"])] = _value(rng)  # fmt: skip
            if event["type"] == "input_audio_buffer.append" and rng.random() < 0.5:
                event["audio"] = __import__("base64").b64encode(_file(rng)[: 2 * 4800]).decode()
            ws.send(json.dumps(event) if rng.random() < 0.95 else rng.choice(["{", "[]", '"x"', "null"]))
            while True:  # drain what the server sent so far; errors must be 4xx-shaped
                try:
                    message = json.loads(ws.recv(timeout=0.05))
                except TimeoutError:
                    break
                if message["type"] == "error":
                    assert message["error"]["type"] != "server_error", (SEED, event, message)
        ws.send(json.dumps({"type": "session.update"}))
    with httpx.Client(base_url=fuzz_server.url, timeout=30) as http:
        assert http.get("/healthz").status_code == 200
