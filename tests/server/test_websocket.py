"""``WebSocket /v1/audio/speech/stream`` with the ``websockets`` sync client, and the phrase splitter."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect

from parrot.server.app import create_app
from parrot.server.settings import ServerSettings
from parrot.text.phrases import split_phrases


def send(ws: ClientConnection, **message: Any) -> None:
    ws.send(json.dumps(message))


def receive(ws: ClientConnection, timeout: float = 60) -> dict[str, Any]:
    return json.loads(ws.recv(timeout=timeout))


def until(ws: ClientConnection, kind: str, timeout: float = 60) -> list[dict[str, Any]]:
    """Messages up to and including the first of type ``kind``."""
    seen = []
    while True:
        seen.append(receive(ws, timeout))
        if seen[-1]["type"] == kind:
            return seen


def test_audio_arrives_while_text_is_still_coming(fake_server) -> None:  # noqa: ANN001
    with connect(f"{fake_server.ws_url}/v1/audio/speech/stream") as ws:
        send(ws, type="session.update", voice="shimmer", response_format="pcm")
        updated = receive(ws)
        assert updated["type"] == "session.updated"
        assert updated["session"]["voice"] == "fake_f"  # an OpenAI voice name maps to a stock voice of its sex
        for part in ["Good ", "morning", ". How ", "are"]:
            send(ws, type="text.delta", text=part)
        first = receive(ws)  # text.done has not been sent yet
        assert first["type"] == "audio.delta"
        assert first["text"] == "Good morning." and first["sample_rate"] == 24_000
        send(ws, type="text.delta", text=" you?")
        send(ws, type="text.done")
        rest = until(ws, "audio.done")
    deltas = [first, *(m for m in rest if m["type"] == "audio.delta")]
    assert [d["text"] for d in deltas if d["text"]] == ["Good morning.", "How are you?"]
    pcm = b"".join(base64.b64decode(d["audio"]) for d in deltas)
    assert 1.0 < len(pcm) / 2 / 24_000 < 6.0


def test_instructions_apply_and_warnings_come_once(fake_server) -> None:  # noqa: ANN001
    with connect(f"{fake_server.ws_url}/v1/audio/speech/stream") as ws:
        send(ws, type="session.update", instructions="sing it, slowly")
        assert receive(ws)["session"]["instructions"] == "sing it, slowly"
        send(ws, type="text.delta", text="One. Two. Three.")
        send(ws, type="text.done")
        messages = until(ws, "audio.done")
        warnings = [m for m in messages if m["type"] == "warning"]
        assert len(warnings) == 1 and "sing" in warnings[0]["message"]
        send(ws, type="session.update", instructions="x" * 501)
        assert receive(ws)["type"] == "error"


def test_cancel_stops_the_work(serve, fake_parrot, wait_until) -> None:  # noqa: ANN001
    tts = fake_parrot(delay=0.05)
    with serve(create_app(tts, ServerSettings(workers=2, max_jobs=4))) as srv:
        with connect(f"{srv.ws_url}/v1/audio/speech/stream") as ws:
            long_text = " ".join(["word"] * 100) + ". " + " ".join(["more"] * 100) + "."
            send(ws, type="text.delta", text=long_text)
            send(ws, type="text.done")
            assert receive(ws)["type"] == "audio.delta"
            send(ws, type="cancel")
            after = until(ws, "audio.cancelled", timeout=10)
            assert all(m["type"] == "audio.delta" for m in after[:-1])
            assert wait_until(lambda: srv.state.scheduler.active_jobs == 0, timeout=5)
            calls = tts.engine.calls
            time.sleep(0.3)
            assert tts.engine.calls == calls < 60
            with pytest.raises(TimeoutError):  # nothing more comes: no stale audio, no audio.done
                ws.recv(timeout=0.3)
            # the session is still usable
            send(ws, type="text.delta", text="one two.")
            send(ws, type="text.done")
            messages = until(ws, "audio.done", timeout=10)
            assert [m["text"] for m in messages if m["type"] == "audio.delta"][0] == "one two."
        # closing the socket cancels too
        with connect(f"{srv.ws_url}/v1/audio/speech/stream") as ws:
            send(ws, type="text.delta", text=" ".join(["word"] * 200) + ".")
            send(ws, type="text.done")
            assert receive(ws)["type"] == "audio.delta"
        assert wait_until(lambda: srv.state.scheduler.active_jobs == 0, timeout=5)
        calls = tts.engine.calls
        time.sleep(0.3)
        assert tts.engine.calls == calls


def test_errors_do_not_close_the_session(serve, fake_parrot) -> None:  # noqa: ANN001
    with (
        serve(create_app(fake_parrot(delay=0.0), ServerSettings(max_text_chars=1_000))) as srv,
        connect(f"{srv.ws_url}/v1/audio/speech/stream") as ws,
    ):
        send(ws, type="session.update", voice="nobody")
        error = receive(ws)
        assert error["type"] == "error" and error["error"]["code"] == "voice_not_found"
        send(ws, type="session.update", speed=9)
        assert "0.5 to 2.0" in receive(ws)["error"]["message"]
        ws.send("not json")
        assert "not valid JSON" in receive(ws)["error"]["message"]
        send(ws, type="dance")
        assert "unknown message type" in receive(ws)["error"]["message"]
        send(ws, type="text.delta", text="Привет. ")
        assert receive(ws)["error"]["code"] == "unsupported_language"
        send(ws, type="text.delta", text="x" * 1_001)
        error = receive(ws)["error"]
        assert error["code"] == "text_too_long" and "1,000" in error["message"]
        send(ws, type="session.update", response_format="wav", voice="fake_m")
        assert receive(ws)["session"]["response_format"] == "wav"
        send(ws, type="text.delta", text="still here")
        send(ws, type="text.done")
        messages = until(ws, "audio.done", timeout=10)
        audio = b"".join(base64.b64decode(m["audio"]) for m in messages if m["type"] == "audio.delta")
        assert audio.startswith(b"RIFF")


@pytest.mark.parametrize(
    ("buffer", "final", "phrases", "rest"),
    [
        ("Hello there. How", False, ["Hello there."], " How"),
        ("Pi is 3.14 and e.g. this", False, [], "Pi is 3.14 and e.g. this"),
        ("Dr. Who came. Then", False, ["Dr. Who came."], " Then"),
        ("Wait", True, ["Wait"], ""),
        ("你好。世界！今天", False, ["你好。", "世界！"], "今天"),
        ("line one\nline two", False, ["line one"], "line two"),
        ("short, clause", False, [], "short, clause"),
        ("this clause is long enough to be cut at its comma, and then", False,
         ["this clause is long enough to be cut at its comma,"], " and then"),
        ("...\n", False, [], ""),
    ],
)  # fmt: skip
def test_split_phrases(buffer: str, final: bool, phrases: list[str], rest: str) -> None:
    assert split_phrases(buffer, final) == (phrases, rest)
