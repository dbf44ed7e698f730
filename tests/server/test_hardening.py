"""Inputs that used to answer 500, hang a handler or pass unchecked (issue #16), on the fake engine."""

from __future__ import annotations

import json
import re
import stat
import threading
import time

import httpx
import pytest
from websockets.sync.client import connect

from parrot.server.app import create_app
from parrot.server.keys import choose_keys, is_loopback
from parrot.server.middleware import RateLimiter
from parrot.server.settings import ServerSettings


def _gauge(client: httpx.Client, name: str) -> float:
    match = re.search(rf"^{name} ([0-9.e+-]+)$", client.get("/metrics").text, re.MULTILINE)
    assert match, name
    return float(match.group(1))


def test_bad_websocket_messages_are_errors_and_the_session_goes_on(serve, fake_parrot) -> None:  # noqa: ANN001
    app = create_app(fake_parrot(delay=0.0), ServerSettings(max_text_chars=1_000))
    with serve(app) as srv, connect(srv.ws_url + "/v1/audio/speech/stream", max_size=None) as ws:
        for bad, code in [
            ({"type": "session.update", "voice": {"name": "x"}}, "invalid_request"),
            ({"type": "session.update", "speed": "fast"}, "invalid_request"),
            ({"type": "session.update", "speed": True}, "invalid_request"),
            ('{"type": "text.delta", "text": ' + "[" * 50_000 + "]" * 50_000 + "}", "invalid_request"),
            ({"type": "text.delta", "text": "x" * 2_000_000}, "invalid_request"),  # over the frame limit
        ]:
            ws.send(bad if isinstance(bad, str) else json.dumps(bad))
            message = json.loads(ws.recv(timeout=30))
            assert message["type"] == "error" and message["error"]["code"] == code, (str(bad)[:60], message)
        ws.send(json.dumps({"type": "session.update", "voice": {}}))  # an empty voice is "the default"
        assert json.loads(ws.recv(timeout=10))["type"] == "session.updated"


def test_json_bodies_are_limited_and_deep_nesting_is_a_400(serve, fake_parrot) -> None:  # noqa: ANN001
    settings = ServerSettings(max_text_chars=1_000)
    with serve(create_app(fake_parrot(delay=0.0), settings)) as srv, httpx.Client(base_url=srv.url, timeout=30) as http:
        huge = json.dumps({"input": "a", "pad": "x" * (settings.max_json_bytes + 10)})
        response = http.post("/v1/audio/speech", content=huge, headers={"content-type": "application/json"})
        assert response.status_code == 413 and response.json()["error"]["code"] == "request_too_large"
        nested = '{"input": ' + "[" * 100_000 + "]" * 100_000 + "}"
        response = http.post("/v1/audio/speech", content=nested, headers={"content-type": "application/json"})
        assert response.status_code == 400
        for voice in ({}, {"id": {}}, ["a"], 3):
            response = http.post("/v1/audio/speech", json={"input": "hello", "voice": voice})
            assert response.status_code == 400, (voice, response.text)
        assert http.get("/healthz").status_code == 200  # the connection and the server are fine


def test_a_websocket_closed_while_waiting_for_a_slot_ends_its_handler(serve, fake_parrot) -> None:  # noqa: ANN001
    """The back-off wait for a synthesis slot once swallowed the cancel (asyncio.wait_for on 3.11)."""
    app = create_app(fake_parrot(delay=0.2), ServerSettings(workers=1, max_jobs=1))
    with serve(app) as srv, httpx.Client(base_url=srv.url, timeout=60) as http:
        body = {"input": " ".join(["word"] * 40), "response_format": "pcm"}
        blocker = threading.Thread(target=lambda: http.post("/v1/audio/speech", json=body))
        blocker.start()
        deadline = time.monotonic() + 10
        while srv.state.scheduler.active_jobs == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        with connect(srv.ws_url + "/v1/audio/speech/stream") as ws:
            ws.send(json.dumps({"type": "text.delta", "text": "Hello there. "}))
            ws.send(json.dumps({"type": "text.done"}))
            time.sleep(1.5)  # the phrase is now waiting for the busy server's only slot
            assert _gauge(http, "parrot_websocket_sessions") == 1
        deadline = time.monotonic() + 10
        while _gauge(http, "parrot_websocket_sessions") != 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _gauge(http, "parrot_websocket_sessions") == 0, "the session handler is stuck"
        blocker.join(timeout=60)


def test_rate_limit_per_key(serve, fake_parrot) -> None:  # noqa: ANN001
    settings = ServerSettings(api_keys=frozenset({"key-a", "key-b"}), rate_limit=5)
    with serve(create_app(fake_parrot(delay=0.0), settings)) as srv, httpx.Client(base_url=srv.url) as http:
        a = {"Authorization": "Bearer key-a"}
        statuses = [http.get("/v1/models", headers=a).status_code for _ in range(7)]
        assert statuses[:5] == [200] * 5 and statuses[5:] == [429, 429]
        limited = http.get("/v1/models", headers=a)
        assert limited.json()["error"]["code"] == "rate_limit_exceeded" and int(limited.headers["Retry-After"]) >= 1
        assert http.get("/v1/models", headers={"Authorization": "Bearer key-b"}).status_code == 200  # its own bucket
        assert http.get("/healthz").status_code == 200  # public routes are never limited


def test_rate_limiter_refills() -> None:
    limiter = RateLimiter(60)  # one a second
    assert all(limiter.retry_after("c", now=0.0) == 0 for _ in range(60))
    assert limiter.retry_after("c", now=0.0) == 1
    assert limiter.retry_after("c", now=1.01) == 0
    assert limiter.retry_after("other", now=1.01) == 0


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("192.168.1.5", False),
        ("example.org", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_listening_beyond_loopback_generates_a_private_key_once(tmp_path) -> None:  # noqa: ANN001
    assert choose_keys("127.0.0.1", frozenset(), tmp_path).keys == frozenset()
    assert choose_keys("0.0.0.0", frozenset({"mine"}), tmp_path).keys == frozenset({"mine"})
    first = choose_keys("0.0.0.0", frozenset(), tmp_path)
    (key,) = first.keys
    assert len(key) >= 32 and key in first.notice
    assert stat.S_IMODE((tmp_path / "api_key").stat().st_mode) == 0o600
    again = choose_keys("0.0.0.0", frozenset(), tmp_path)
    assert again.keys == first.keys and key not in again.notice  # printed only when it is made


def test_parrot_serve_on_all_interfaces_requires_the_key(tmp_path) -> None:  # noqa: ANN001
    """A real `parrot serve --host 0.0.0.0` with no keys configured: 401 without the printed key, 200 with it."""
    import os
    import socket
    import subprocess
    import sys

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "PARROT_DATA_DIR": str(tmp_path), "PARROT_API_KEYS": ""}
    (tmp_path / "models").symlink_to(_models_dir(), target_is_directory=True)
    proc = subprocess.Popen(
        [sys.executable, "-m", "parrot.cli", "serve", "--host", "0.0.0.0", "--port", str(port)],
        env=env, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        key = None
        deadline = time.monotonic() + 120
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            while time.monotonic() < deadline:
                line = proc.stderr.readline()
                if match := re.search(r"\(shown only now\): (\S+)", line):
                    key = match.group(1)
                if "Uvicorn running" in line:
                    break
            assert key, "no key was printed"
            assert http.get("/v1/models").status_code == 401
            assert http.get("/v1/models", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _models_dir():  # noqa: ANN202
    from parrot.config import Settings

    return Settings.from_env().data_dir / "models"
