"""Voice chat over HTTP (``POST /v1/audio/chat``) and WebSocket (``/v1/realtime``), with a fake
OpenAI-compatible language model server and the real Whisper and Parrot."""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import numpy as np
import pytest
from websockets.sync.client import ClientConnection, connect

from parrot.audio import decode, encode, to_pcm16
from parrot.chat.config import ChatSettings
from parrot.server.app import create_app
from parrot.server.settings import ServerSettings
from parrot_dev.background import serve_in_background

pytestmark = pytest.mark.slow
SETTINGS = ServerSettings(workers=2, max_jobs=8, max_upload_mb=2.0, max_text_chars=2_000)


@dataclass
class ChatServer:
    url: str

    @property
    def ws_url(self) -> str:
        return "ws" + self.url.removeprefix("http")


@pytest.fixture(scope="module")
def chat_server(tts, fake_llm) -> Iterator[ChatServer]:  # noqa: ANN001
    url, _ = fake_llm
    with serve_in_background(create_app(tts, SETTINGS, ChatSettings(llm_base_url=url, llm_model="fake"))) as base:
        yield ChatServer(base)


@pytest.fixture
def client(chat_server) -> Iterator[httpx.Client]:  # noqa: ANN001
    with httpx.Client(base_url=chat_server.url, timeout=120) as http:
        yield http


def heard(recognizer, wav: bytes) -> str:  # noqa: ANN001
    audio, _ = decode(wav, 16_000)
    return recognizer.transcribe(audio, language="en").text.lower()


# -- HTTP ------------------------------------------------------------------------------------------


def test_spoken_question_gets_a_spoken_answer(client, recognizer, question_wav: Path) -> None:  # noqa: ANN001
    response = client.post(
        "/v1/audio/chat", files={"file": ("q.wav", question_wav.read_bytes())}, data={"voice": "linda"}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "audio/wav"
    assert "capital of france" in unquote(response.headers["x-parrot-transcript"]).lower()
    assert unquote(response.headers["x-parrot-reply"]).startswith("The capital of France is Paris.")
    timings = json.loads(response.headers["x-parrot-timings"])
    assert timings["asr"] > 0 and timings["first_audio"] > 0
    assert "paris" in heard(recognizer, response.content)


def test_json_answer_and_memory_across_calls(client, fake_llm) -> None:  # noqa: ANN001
    _, fake = fake_llm
    first = client.post(
        "/v1/audio/chat",
        data={"text": "What is the capital of France?", "response_format": "json", "session_id": "s1",
              "instructions": "Answer like a tour guide."},
    ).json()  # fmt: skip
    assert first["reply"].startswith("The capital of France is Paris.") and first["transcript"].startswith("What")
    audio, rate = decode(base64.b64decode(first["audio"]))
    assert rate == first["sample_rate"] == 24_000 and len(audio) > rate
    client.post("/v1/audio/chat", data={"text": "And its population?", "session_id": "s1", "response_format": "json"})
    messages = fake.requests[-1]["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[1]["content"] == "What is the capital of France?"
    assert fake.requests[-2]["messages"][0]["content"].startswith("Answer like a tour guide.")
    other = client.post("/v1/audio/chat", data={"text": "Hello", "session_id": "s2", "response_format": "json"})
    assert other.status_code == 200 and len(fake.requests[-1]["messages"]) == 2  # another conversation


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return response.json()["error"]


def test_bad_input_is_explained(client) -> None:  # noqa: ANN001
    silence = encode(np.zeros(32_000, np.float32), 16_000, "wav")
    error = error_of(client.post("/v1/audio/chat", files={"file": ("s.wav", silence)}), 400)
    assert error["code"] == "no_speech" and "no speech was heard" in error["message"]
    error = error_of(client.post("/v1/audio/chat", files={"file": ("x.wav", b"not audio at all" * 50)}), 400)
    assert error["param"] == "file"
    error = error_of(client.post("/v1/audio/chat", files={"file": ("e.wav", b"")}), 400)
    assert "0 bytes" in error["message"]
    error = error_of(client.post("/v1/audio/chat", data={"text": "hi", "voice": "nobody"}), 404)
    assert error["code"] == "voice_not_found" and "linda" in error["message"]
    error = error_of(client.post("/v1/audio/chat", data={"voice": "linda"}), 400)
    assert "either a recording" in error["message"]
    error = error_of(client.post("/v1/audio/chat", data={"text": "hi", "speed": "9"}), 400)
    assert "speed" in error["message"]


def test_unreachable_language_model_is_a_502(tts, serve) -> None:  # noqa: ANN001
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    chat = ChatSettings(llm_base_url=f"http://127.0.0.1:{port}/v1", llm_timeout=5)
    with serve(create_app(tts, SETTINGS, chat)) as srv:
        response = httpx.post(f"{srv.url}/v1/audio/chat", data={"text": "hello"}, timeout=60)
    error = error_of(response, 502)
    assert error["code"] == "llm_unavailable"
    assert f"cannot reach the language model server at http://127.0.0.1:{port}/v1" in error["message"]


# -- WebSocket -------------------------------------------------------------------------------------


def send(ws: ClientConnection, **message: Any) -> None:
    ws.send(json.dumps(message))


def until(ws: ClientConnection, kind: str, timeout: float = 90) -> list[dict[str, Any]]:
    seen = []
    while True:
        seen.append(json.loads(ws.recv(timeout=timeout)))
        if seen[-1]["type"] == kind:
            return seen


def stream_audio(ws: ClientConnection, audio: np.ndarray, rate: int, piece_seconds: float = 0.1) -> None:
    step = int(rate * piece_seconds)
    for i in range(0, len(audio), step):
        send(ws, type="input_audio_buffer.append", audio=base64.b64encode(to_pcm16(audio[i : i + step])).decode())


@pytest.fixture(scope="module")
def question_24k(question_wav: Path) -> np.ndarray:
    audio, _ = decode(question_wav, 24_000)
    return audio


def test_live_conversation(chat_server, recognizer, question_24k: np.ndarray) -> None:  # noqa: ANN001
    with connect(f"{chat_server.ws_url}/v1/realtime") as ws:
        created = until(ws, "session.created")[-1]["session"]
        assert created["input_sample_rate"] == 24_000 and created["turn_detection"]["type"] == "server_vad"
        send(ws, type="session.update", session={"voice": "austen_reader", "instructions": "Be brief."})
        assert until(ws, "session.updated")[-1]["session"]["voice"] == "austen_reader"
        stream_audio(ws, question_24k, 24_000)  # 24 kHz pcm16, as OpenAI's Realtime API sends it
        events = until(ws, "response.done")
    kinds = [e["type"] for e in events]
    for kind in ["input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped", "response.created",
                 "conversation.item.input_audio_transcription.completed", "response.text.delta",
                 "response.audio_transcript.delta", "response.audio.delta", "response.audio.done"]:  # fmt: skip
        assert kind in kinds, kind
    assert kinds.index("input_audio_buffer.speech_stopped") < kinds.index("response.audio.delta")
    transcript = next(e for e in events if e["type"].endswith("transcription.completed"))["transcript"]
    assert "capital of france" in transcript.lower()
    done = events[-1]["response"]
    assert done["status"] == "completed" and done["output_text"].startswith("The capital of France is Paris.")
    assert done["timings"]["first_audio"] > 0.4  # counted from the end of speech, so it includes the VAD wait
    pcm = b"".join(base64.b64decode(e["delta"]) for e in events if e["type"] == "response.audio.delta")
    assert "paris" in heard(recognizer, encode(np.frombuffer(pcm, "<i2") / 32768.0, 24_000, "wav"))


def test_barge_in_cancels_the_answer(chat_server, question_24k: np.ndarray) -> None:  # noqa: ANN001
    with connect(f"{chat_server.ws_url}/v1/realtime") as ws:
        until(ws, "session.created")
        item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "a long story"}]}
        send(ws, type="conversation.item.create", item=item)
        send(ws, type="response.create")
        until(ws, "response.audio.delta")
        stream_audio(ws, question_24k, 24_000)  # the user talks over the answer
        events = until(ws, "response.done")
        assert "input_audio_buffer.speech_started" in [e["type"] for e in events]
        assert events[-1]["response"]["status"] == "cancelled"
        assert not events[-1]["response"]["output_text"].endswith("number 39 of a very long answer.")
        following = until(ws, "response.done")  # then the new question is answered
    assert following[-1]["response"]["status"] == "completed"
    assert following[-1]["response"]["output_text"].startswith("The capital of France")


def test_truncate_keeps_in_memory_only_what_the_client_played(chat_server, fake_llm) -> None:  # noqa: ANN001
    _, fake = fake_llm
    with connect(f"{chat_server.ws_url}/v1/realtime") as ws:
        until(ws, "session.created")
        item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "a long story"}]}
        send(ws, type="conversation.item.create", item=item)
        send(ws, type="response.create")
        rid = until(ws, "response.created")[-1]["response"]["id"]
        until(ws, "response.audio.delta")
        send(ws, type="conversation.item.truncate", item_id="resp_other", content_index=0, audio_end_ms=10)
        assert "latest response" in until(ws, "error")[-1]["error"]["message"]
        send(ws, type="conversation.item.truncate", item_id=rid, content_index=0, audio_end_ms=-5)
        assert "audio_end_ms" in until(ws, "error")[-1]["error"]["message"]
        send(ws, type="conversation.item.truncate", item_id=rid, content_index=0, audio_end_ms=300)
        events = until(ws, "conversation.item.truncated")  # the client stopped playing: the answer stops too
        assert [e["response"]["status"] for e in events if e["type"] == "response.done"] == ["cancelled"]
        assert events[-1]["item_id"] == rid and events[-1]["audio_end_ms"] == 300
        send(ws, type="conversation.item.create", item={"role": "user", "content": "And France?"})
        send(ws, type="response.create")
        assert until(ws, "response.done")[-1]["response"]["status"] == "completed"
    sent = next(r["messages"] for r in reversed(fake.requests) if r["messages"][-1]["content"] == "And France?")
    assert sent[-3:-1] == [
        {"role": "user", "content": "a long story"},
        {"role": "assistant", "content": "This is sentence number 1 of a very long answer. …"},  # 300 ms: one phrase
    ]


def test_protocol_errors_keep_the_session_open(chat_server) -> None:  # noqa: ANN001
    with connect(f"{chat_server.ws_url}/v1/realtime") as ws:
        until(ws, "session.created")
        ws.send("not json")
        assert "not valid JSON" in until(ws, "error")[-1]["error"]["message"]
        send(ws, type="input_audio_buffer.append", audio="@@@")
        assert "base64" in until(ws, "error")[-1]["error"]["message"]
        send(ws, type="session.update", session={"voice": "nobody"})
        assert until(ws, "error")[-1]["error"]["code"] == "voice_not_found"
        send(ws, type="input_audio_buffer.commit")
        assert "no speech" in until(ws, "error")[-1]["error"]["message"]
        send(ws, type="response.create")
        assert "nothing to answer" in until(ws, "error")[-1]["error"]["message"]
        send(ws, type="teleport")
        assert "unknown event type" in until(ws, "error")[-1]["error"]["message"]
        send(ws, type="conversation.item.create", item={"role": "user", "content": [{"text": "France?"}]})
        send(ws, type="response.create")
        assert until(ws, "response.done")[-1]["response"]["status"] == "completed"


def test_response_cancel_stops_the_answer(chat_server) -> None:  # noqa: ANN001
    with connect(f"{chat_server.ws_url}/v1/realtime") as ws:
        until(ws, "session.created")
        send(ws, type="session.update", session={"turn_detection": None})  # the client decides turns
        assert until(ws, "session.updated")[-1]["session"]["turn_detection"]["type"] == "none"
        send(ws, type="conversation.item.create", item={"role": "user", "content": "a long story please"})
        send(ws, type="response.create")
        until(ws, "response.audio.delta")
        send(ws, type="response.cancel")
        done = until(ws, "response.done")[-1]["response"]
        assert done["status"] == "cancelled" and done["output_text"].startswith("This is sentence number 1")
