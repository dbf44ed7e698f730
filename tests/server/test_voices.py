"""Voice cloning and the voice library over HTTP: clone, use, export, import, rename, delete.

Each real clone costs several seconds of CPU, so this module clones twice (with and without a
transcript); everything else works on those voices or on a fake engine.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import numpy as np
import pytest
from openai import OpenAI

from parrot.audio import decode, encode
from parrot.server.app import create_app
from parrot.server.settings import ServerSettings
from parrot.voices.voice import Voice

CLONE_TIMEOUT = 600  # the session's first clone also loads the speaker encoder: a minute on a busy machine


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}
    return body["error"]


def names(http: httpx.Client) -> set[str]:
    return {v["name"] for v in http.get("/v1/audio/voices").json()["voices"]}


def audible_seconds(data: bytes) -> float:
    audio, rate = decode(data)
    assert np.abs(audio).max() > 0.05, "silence"
    return len(audio) / rate


@pytest.fixture(scope="module")
def client(server) -> OpenAI:  # noqa: ANN001
    return OpenAI(base_url=f"{server.url}/v1", api_key="not-needed", max_retries=0, timeout=180)


def test_clone_use_share_rename_delete(
    http: httpx.Client, client: OpenAI, reference_mp3: bytes, reference_text: str
) -> None:
    # An mp3 sent with a meaningless name and type: decoded by content.
    upload = {"file": ("clip.bin", reference_mp3, "application/octet-stream")}
    response = http.post(
        "/v1/audio/voices",
        data={"name": "Narrator", "text": reference_text, "language": "en"},
        files=upload,
        timeout=CLONE_TIMEOUT,
    )
    assert response.status_code == 201, response.text
    info = response.json()
    assert info["name"] == "Narrator" and info["kind"] == "cloned" and info["engine"] == "kokoro"
    assert info["transcript"] == reference_text
    assert response.headers["location"] == "/v1/audio/voices/Narrator"
    listed = {v["name"]: v for v in http.get("/v1/audio/voices").json()["voices"]}
    assert listed["Narrator"]["kind"] == "cloned"
    assert http.get("/v1/audio/voices/narrator").json()["name"] == "Narrator"  # names ignore case

    # The name is taken (in any case): 409 before the upload is even looked at.
    error = error_of(http.post("/v1/audio/voices", data={"name": "NARRATOR"}, files=upload), 409)
    assert error["code"] == "voice_exists" and "already exists" in error["message"]

    # It speaks through the official client.
    spoken = client.audio.speech.create(
        model="tts-1", voice="Narrator", input="Good morning. This is my new voice.", response_format="mp3"
    )
    assert 1.0 < audible_seconds(spoken.content) < 8.0

    # Export, delete, import under a new (Unicode) name: it speaks again.
    exported = http.get("/v1/audio/voices/Narrator/export")
    assert exported.status_code == 200
    assert exported.headers["content-type"] == "application/zip"
    assert exported.headers["content-disposition"].startswith('attachment; filename="Narrator.voice"')
    assert exported.content[:2] == b"PK"
    assert http.delete("/v1/audio/voices/Narrator").status_code == 204
    assert error_of(http.get("/v1/audio/voices/Narrator"), 404)["code"] == "voice_not_found"
    assert error_of(http.post("/v1/audio/speech", json={"input": "Hi.", "voice": "Narrator"}), 404)
    assert "Narrator" not in names(http)

    files = {"file": ("Narrator.voice", exported.content, "application/zip")}
    response = http.post("/v1/audio/voices/import", data={"name": "奶奶"}, files=files)
    assert response.status_code == 201, response.text
    assert response.json()["name"] == "奶奶" and response.json()["kind"] == "cloned"
    assert response.json()["transcript"] == reference_text
    error = error_of(http.post("/v1/audio/voices/import", data={"name": "奶奶"}, files=files), 409)
    assert "already exists" in error["message"]
    wav = http.post("/v1/audio/speech", json={"input": "Hello again.", "voice": "奶奶", "response_format": "wav"})
    assert wav.status_code == 200 and 0.4 < audible_seconds(wav.content) < 5.0
    disposition = http.get("/v1/audio/voices/奶奶/export").headers["content-disposition"]
    assert "filename*=UTF-8''%E5%A5%B6%E5%A5%B6.voice" in disposition

    # Rename, then delete.
    response = http.patch("/v1/audio/voices/奶奶", json={"name": "grandma voice"})
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "grandma voice" and response.json()["kind"] == "cloned"
    assert error_of(http.get("/v1/audio/voices/奶奶"), 404)["code"] == "voice_not_found"
    assert http.get("/v1/audio/voices/grandma voice").json()["kind"] == "cloned"
    error = error_of(http.patch("/v1/audio/voices/grandma voice", json={"name": "JF_ALPHA"}), 409)
    assert error["code"] == "voice_exists"
    error = error_of(http.patch("/v1/audio/voices/grandma voice", json={"name": "../up"}), 400)
    assert error["code"] == "invalid_voice_name" and error["param"] == "name"
    assert http.delete("/v1/audio/voices/grandma voice").status_code == 204
    assert error_of(http.delete("/v1/audio/voices/grandma voice"), 404)["code"] == "voice_not_found"
    assert error_of(http.get("/v1/audio/voices/grandma voice/export"), 404)["code"] == "voice_not_found"


def test_clone_without_transcript_uses_whisper(http: httpx.Client, reference_mp3: bytes) -> None:
    files = {"file": ("ref.mp3", reference_mp3, "audio/mpeg")}
    response = http.post("/v1/audio/voices", data={"name": "heard"}, files=files, timeout=CLONE_TIMEOUT)
    assert response.status_code == 201, response.text
    info = response.json()
    assert info["kind"] == "cloned"
    heard = info["transcript"].lower()
    assert sum(word in heard for word in ("quick", "brown", "fox", "lazy", "dog", "forest")) >= 4, heard
    assert http.delete("/v1/audio/voices/heard").status_code == 204


def test_builtin_voices_can_be_exported_and_imported_but_not_changed(http: httpx.Client) -> None:
    exported = http.get("/v1/audio/voices/echo/export")  # an OpenAI alias: exports the voice behind it
    assert exported.status_code == 200
    assert 'filename="jm_kumo.voice"' in exported.headers["content-disposition"]
    files = {"file": ("jm_kumo.voice", exported.content, "application/zip")}
    error = error_of(http.post("/v1/audio/voices/import", files=files), 409)  # keeps its built-in name
    assert error["code"] == "voice_exists"
    response = http.post("/v1/audio/voices/import", data={"name": "kumo copy"}, files=files)
    assert response.status_code == 201, response.text
    assert http.post("/v1/audio/speech", json={"input": "Hi.", "voice": "kumo copy"}).status_code == 200
    assert http.delete("/v1/audio/voices/kumo copy").status_code == 204

    assert "cannot be deleted" in error_of(http.delete("/v1/audio/voices/jf_alpha"), 403)["message"]
    error = error_of(http.patch("/v1/audio/voices/jm_kumo", json={"name": "kumo2"}), 403)
    assert error["code"] == "voice_protected" and "cannot be renamed" in error["message"]
    assert error_of(http.patch("/v1/audio/voices/nobody", json={"name": "x"}), 404)["code"] == "voice_not_found"
    junk = {"file": ("x.voice", b"PK\x03\x04 not really a zip" * 10, "application/zip")}
    error = error_of(http.post("/v1/audio/voices/import", files=junk), 400)
    assert error["param"] == "file" and "voice file" in error["message"]


def test_one_clone_at_a_time_while_speech_goes_on(serve, fake_parrot, reference_mp3: bytes) -> None:  # noqa: ANN001
    tts = fake_parrot(delay=0.0)
    lock = threading.Lock()
    running = peak = finished = 0

    def slow_clone(audio, transcript=None, *, name="clone", sample_rate=None, language=None) -> Voice:  # noqa: ANN001
        nonlocal running, peak, finished
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.4)
        with lock:
            running -= 1
            finished += 1
        payload = {"style": np.zeros((2, 4), np.float32)}
        return Voice(name, "fake", "cloned", payload, meta={"transcript": transcript or "heard"})

    tts.clone = slow_clone
    with serve(create_app(tts, ServerSettings())) as srv, httpx.Client(base_url=srv.url, timeout=60) as http:

        def clone(i: int) -> httpx.Response:
            files = {"file": ("ref.mp3", reference_mp3, "audio/mpeg")}
            return http.post("/v1/audio/voices", data={"name": f"voice {i}", "text": "hello"}, files=files)

        with ThreadPoolExecutor(3) as pool:
            clones = [pool.submit(clone, i) for i in range(3)]
            while not running:
                time.sleep(0.01)
            speech = http.post("/v1/audio/speech", json={"input": "not starved", "response_format": "pcm"})
            assert speech.status_code == 200 and finished < 3  # synthesis did not wait for the clones
            assert all(c.result().status_code == 201 for c in clones)
        assert peak == 1
        assert {"voice 0", "voice 1", "voice 2"} <= names(http)
        response = http.post("/v1/audio/speech", json={"input": "hi there", "voice": "voice 1"})
        assert response.status_code == 200
        assert "parrot_voice_clone_seconds_count 3.0" in http.get("/metrics").text

        # A voice file made for another engine is refused.
        kokoro_voice = encode_fake_kokoro_voice()
        files = {"file": ("k.voice", kokoro_voice, "application/zip")}
        error = error_of(http.post("/v1/audio/voices/import", files=files), 400)
        assert "kokoro engine" in error["message"] and error["param"] == "file"


def encode_fake_kokoro_voice() -> bytes:
    from parrot.voices.store import encode_voice_file

    return encode_voice_file(Voice("other", "kokoro", "cloned", {"style": np.zeros((2, 4), np.float32)}))


@pytest.fixture(scope="module")
def bad_clips(reference_mp3: bytes) -> dict[str, bytes]:
    speech, rate = decode(reference_mp3)
    return {
        "not a recognised audio file": np.random.default_rng(7).bytes(30_000),
        "silent": encode(np.zeros(5 * 16_000, np.float32), 16_000, "wav"),
        "0.5 s long": encode(speech[rate : rate + rate // 2], rate, "wav"),
    }


@pytest.mark.parametrize("problem", ["not a recognised audio file", "silent", "0.5 s long"])
def test_bad_reference_clips_create_nothing(http: httpx.Client, bad_clips: dict[str, bytes], problem: str) -> None:
    before = names(http)
    files = {"file": ("clip.wav", bad_clips[problem], "audio/wav")}
    error = error_of(http.post("/v1/audio/voices", data={"name": "bad clip"}, files=files), 400)
    assert error["param"] == "file" and error["code"] == "invalid_audio"
    assert problem in error["message"]
    assert names(http) == before


def test_bad_language(http: httpx.Client, reference_mp3: bytes) -> None:
    files = {"file": ("ref.mp3", reference_mp3, "audio/mpeg")}
    error = error_of(http.post("/v1/audio/voices", data={"name": "lang", "language": "xx"}, files=files), 400)
    assert error["param"] == "language" and "en (English)" in error["message"]
