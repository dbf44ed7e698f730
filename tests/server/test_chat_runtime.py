"""While voice chat's embedded runtime is still being built (first run), speech works, voice chat answers a
clear 503 with the build's progress, ``GET /v1/audio/chat/status`` and the web UI say how far it is, and
once the runtime is there chat works without a restart."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from parrot.chat import runtime
from parrot.chat.config import ChatSettings
from parrot.server.app import create_app
from parrot.server.settings import ServerSettings

SETTINGS = ServerSettings(workers=2, max_jobs=8, max_upload_mb=2.0, max_text_chars=2_000)


@pytest.fixture
def building(fake_parrot, serve, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Path]]:  # noqa: ANN001
    """A server whose data directory shows a build of the runtime at step 40 of 160, by a live builder."""
    monkeypatch.setattr(runtime, "RUNTIME_MODULE", "parrot_no_such_runtime")
    tts = fake_parrot(delay=0.0)
    data_dir = tts.settings.data_dir
    folder = data_dir / "chat-runtime"
    folder.mkdir()
    builder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", "parrot.chat.runtime"])
    record = {"pid": builder.pid, "started": time.time() - 240, "spec": "llama-cpp-python", "exit": None}
    (folder / "build.json").write_text(json.dumps(record))
    (folder / "build.log").write_text("Building wheel for llama-cpp-python\n[40/160] Building CXX object llama.o\n")
    try:
        with serve(create_app(tts, SETTINGS, ChatSettings(embedded_llm="smollm2-135m"))) as srv:
            yield srv.url, data_dir
    finally:
        builder.kill()
        builder.wait()


def test_chat_says_how_far_the_build_is_while_speech_works(building: tuple[str, Path]) -> None:
    url, _ = building
    with httpx.Client(base_url=url, timeout=60) as client:
        status = client.get("/v1/audio/chat/status").json()
        assert status["ready"] is False and status["llm"] == "embedded smollm2-135m"
        assert status["runtime"]["state"] == "building" and status["runtime"]["fraction"] == 0.25
        assert "25% done, 4 min so far" in status["runtime"]["message"]
        answer = client.post("/v1/audio/chat", data={"text": "hello"})
        assert answer.status_code == 503 and answer.headers["retry-after"] == "30"
        error = answer.json()["error"]
        assert error["code"] == "chat_runtime_not_ready" and "voice chat is being prepared" in error["message"]
        speech = client.post("/v1/audio/speech", json={"input": "Speech works meanwhile.", "voice": "fake_f"})
        assert speech.status_code == 200 and len(speech.content) > 1000


@pytest.mark.slow
@pytest.mark.model
def test_chat_works_without_a_restart_once_the_runtime_is_there(
    building: tuple[str, Path], data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, server_data = building
    (server_data / "models").symlink_to((data_dir / "models").resolve())  # the real SmolLM2 (98 MB)
    with httpx.Client(base_url=url, timeout=120) as client:
        assert client.post("/v1/audio/chat", data={"text": "hello"}).status_code == 503
        monkeypatch.setattr(runtime, "RUNTIME_MODULE", "llama_cpp")  # the build finished: llama_cpp imports
        assert client.get("/v1/audio/chat/status").json()["ready"] is True
        answer = client.post("/v1/audio/chat", data={"text": "Say hello.", "response_format": "json"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["reply"].strip()
