"""Real uvicorn servers on free loopback ports, each in a background thread.

``server`` is the main one (the real model, started once per session): for tests whose point is the audio.
``fake_server`` has the same settings over a ``FakeEngine`` (no model; starts in a moment): for tests of HTTP
and protocol behaviour (errors, limits, auth, streaming formats), which therefore run in ``./test.sh --fast``.
``http`` and ``fake_http`` are clients of the two. The ``serve`` fixture starts extra servers for tests that
need other settings, and ``fake_parrot`` gives those a fast, countable engine.
Helpers are handed out as fixtures so test modules never import this file.

Nothing here writes into the user's data directory: every ``Parrot`` gets a temporary ``data_dir`` (so
its voice library, ``data_dir/voices``, is a throwaway one) whose ``models`` is a symlink to the real
models folder, so the assembled model weights are reused rather than assembled again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import numpy as np
import pytest
from fastapi import FastAPI

from parrot.api import Parrot
from parrot.audio import encode
from parrot.config import Settings
from parrot.engines.base import AudioChunk, Engine, SynthesisOptions
from parrot.server.app import create_app
from parrot.server.settings import ServerSettings
from parrot.server.state import ServerState
from parrot.voices.voice import Voice
from parrot_dev.background import serve_in_background

MAIN_SETTINGS = ServerSettings(workers=2, max_jobs=16, max_upload_mb=1.0, max_text_chars=2_000)
REFERENCE_TEXT = (
    "The quick brown fox jumps over the lazy dog, and then it runs far away into the quiet green forest."
)


@dataclass
class Server:
    url: str
    app: FastAPI

    @property
    def state(self) -> ServerState:
        return self.app.state.parrot

    @property
    def ws_url(self) -> str:
        return "ws" + self.url.removeprefix("http")


@contextlib.contextmanager
def serve(app: FastAPI, startup_timeout: float = 180.0) -> Iterator[Server]:
    """Run ``app`` under uvicorn on 127.0.0.1:<free port> until the block ends."""
    with serve_in_background(app, startup_timeout) as url:
        yield Server(url, app)


class FakeEngine(Engine):
    """Implements the Engine protocol without a model: one chunk of ``chunk_seconds`` of a quiet tone per
    word, each taking ``delay`` seconds to "compute". ``calls`` counts chunks made (thread-safe)."""

    name = "fake"
    sample_rate = 24_000
    languages = ("zh", "en", "ja")

    def __init__(self, delay: float = 0.05, chunk_seconds: float = 0.25) -> None:
        self.delay = delay
        self.chunk_seconds = chunk_seconds
        self.calls = 0
        self._lock = threading.Lock()
        self._voices = [
            Voice("fake_f", "fake", "stock", {}, gender="female", language="en", description="fake"),
            Voice("fake_m", "fake", "stock", {}, gender="male", language="en", description="fake"),
        ]

    def stock_voices(self) -> list[Voice]:
        return list(self._voices)

    def stream(self, text: str, voice: Voice, options: SynthesisOptions) -> Iterator[AudioChunk]:
        n = int(self.sample_rate * self.chunk_seconds)
        tone = (0.1 * np.sin(np.arange(n) * 2 * np.pi * 220 / self.sample_rate)).astype(np.float32)
        pos = 0
        for word in text.split():
            time.sleep(self.delay)
            with self._lock:
                self.calls += 1
            start = text.index(word, pos)
            pos = start + len(word)
            yield AudioChunk(tone, self.sample_rate, word, start, pos)


@pytest.fixture(scope="session")
def reference_mp3(tts: Parrot) -> bytes:
    """About 6 s of a stock voice reading ``REFERENCE_TEXT``, as mp3 (servers must decode by content)."""
    speech = tts.say(REFERENCE_TEXT, "jm_kumo")
    return encode(speech.audio, speech.sample_rate, "mp3")


@pytest.fixture(name="reference_text", scope="session")
def reference_text_fixture() -> str:
    return REFERENCE_TEXT


@pytest.fixture(scope="session")
def server(tts: Parrot) -> Iterator[Server]:
    with serve(create_app(tts, MAIN_SETTINGS)) as running:
        yield running


@pytest.fixture
def http(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=120) as client:
        yield client


def make_fake_parrot(tmp_path_factory: pytest.TempPathFactory, delay: float) -> Parrot:
    """A ``Parrot`` over a ``FakeEngine`` with its own empty voice library."""
    settings = dataclasses.replace(Settings(), data_dir=tmp_path_factory.mktemp("fake-data"))
    return Parrot(FakeEngine(delay), settings)


@pytest.fixture(scope="session")
def fake_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Like ``server`` (same settings) over a ``FakeEngine`` (voices ``fake_f``, ``fake_m``; zh, en, ja)."""
    with serve(create_app(make_fake_parrot(tmp_path_factory, delay=0.0), MAIN_SETTINGS)) as running:
        yield running


@pytest.fixture
def fake_http(fake_server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fake_server.url, timeout=30) as client:
        yield client


@pytest.fixture(name="serve")
def serve_fixture() -> Callable[..., contextlib.AbstractContextManager[Server]]:
    """``with serve(app) as srv:`` runs another server for one test."""
    return serve


@pytest.fixture(name="fake_parrot")
def fake_parrot_fixture(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Parrot]:
    """``fake_parrot(delay=0.05)``: a ``Parrot`` over a ``FakeEngine`` (``.engine.calls`` counts chunks),
    with its own empty voice library."""

    def fake_parrot(delay: float = 0.05) -> Parrot:
        return make_fake_parrot(tmp_path_factory, delay)

    return fake_parrot


@pytest.fixture(name="wait_until")
def wait_until_fixture() -> Callable[..., bool]:
    return wait_until


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
