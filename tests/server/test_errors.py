"""Bad input and abuse: every failure is an OpenAI-shaped error with a useful message.

None of this needs real speech, so the tests run against ``fake_server`` (a ``FakeEngine``, no model)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import numpy as np
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from parrot.audio import encode
from parrot.errors import ModelError
from parrot.server.app import create_app
from parrot.server.settings import ServerSettings


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert "Traceback" not in response.text
    return body["error"]


def speech(client: httpx.Client, **body: Any) -> httpx.Response:
    return client.post("/v1/audio/speech", json={"response_format": "pcm", **body})


@pytest.fixture(scope="module")
def tone_wav() -> bytes:
    t = np.arange(16_000) / 16_000
    return encode((0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 16_000, "wav")


def test_empty_input(fake_http: httpx.Client) -> None:
    error = error_of(speech(fake_http, input="   "), 400)
    assert error["type"] == "invalid_request_error" and "empty" in error["message"]


def test_missing_input(fake_http: httpx.Client) -> None:
    error = error_of(fake_http.post("/v1/audio/speech", json={"voice": "alloy"}), 400)
    assert error["param"] == "input" and "required" in error["message"]


def test_unknown_voice_lists_the_voices(fake_http: httpx.Client) -> None:
    error = error_of(speech(fake_http, input="Hello.", voice="darth"), 404)
    assert error["code"] == "voice_not_found" and error["param"] == "voice"
    assert all(name in error["message"] for name in ("fake_f", "fake_m"))
    assert error_of(fake_http.get("/v1/audio/voices/darth"), 404)["code"] == "voice_not_found"


def test_unsupported_language_names_the_supported_ones(fake_http: httpx.Client) -> None:
    error = error_of(speech(fake_http, input="Привет, как дела?"), 400)
    assert error["code"] == "unsupported_language"
    assert all(lang in error["message"] for lang in ("English", "Japanese", "Mandarin"))
    error = error_of(speech(fake_http, input="Hello.", lang="ko"), 400)
    assert error["code"] == "unsupported_language"


@pytest.mark.parametrize("speed", [0.25, 3.0, 4.0])
def test_speed_outside_parrots_range(fake_http: httpx.Client, speed: float) -> None:
    error = error_of(speech(fake_http, input="Hello.", speed=speed), 400)
    assert "0.5 to 2.0" in error["message"]


def test_unknown_response_format_and_model(fake_http: httpx.Client) -> None:
    error = error_of(speech(fake_http, input="Hello.", response_format="m4a"), 400)
    assert error["param"] == "response_format" and "'mp3'" in error["message"] and "'pcm'" in error["message"]
    error = error_of(speech(fake_http, input="Hello.", model="eleven"), 400)
    assert error["param"] == "model" and "tts-1" in error["message"]


def test_huge_text(fake_server, fake_http: httpx.Client) -> None:  # noqa: ANN001
    limit = fake_server.state.settings.max_text_chars
    error = error_of(speech(fake_http, input="a" * (limit + 1)), 400)
    assert f"{limit:,}" in error["message"] and error["code"] == "text_too_long"


def test_malformed_json(fake_http: httpx.Client) -> None:
    response = fake_http.post(
        "/v1/audio/speech", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert "not valid JSON" in error_of(response, 400)["message"]


def test_unknown_route_and_method(fake_http: httpx.Client) -> None:
    assert error_of(fake_http.get("/v1/nothing"), 404)["code"] == "not_found"
    assert error_of(fake_http.get("/v1/audio/speech"), 405)["code"] == "method_not_allowed"


def test_non_audio_upload(fake_http: httpx.Client) -> None:
    files = {"file": ("notes.wav", b"<html>definitely not audio</html>" * 50, "audio/wav")}
    error = error_of(fake_http.post("/v1/audio/transcriptions", data={"model": "whisper-1"}, files=files), 400)
    assert error["param"] == "file" and "not a recognised audio file" in error["message"]
    error = error_of(fake_http.post("/v1/audio/voices", data={"name": "mine"}, files=files), 400)
    assert error["param"] == "file"


def test_upload_too_large(fake_server, fake_http: httpx.Client) -> None:  # noqa: ANN001
    size = fake_server.state.settings.max_upload_bytes + 1024
    files = {"file": ("big.wav", b"\0" * size, "audio/wav")}
    error = error_of(fake_http.post("/v1/audio/transcriptions", data={"model": "whisper-1"}, files=files), 413)
    assert "MB limit" in error["message"]
    huge = b"\0" * (fake_server.state.settings.max_upload_bytes + 512 * 1024)  # whole request over the limit
    response = fake_http.post(
        "/v1/audio/voices", data={"name": "big"}, files={"file": ("big.wav", huge, "audio/wav")}
    )
    assert "MB limit" in error_of(response, 413)["message"]


def test_transcription_options(http: httpx.Client, tone_wav: bytes) -> None:
    """On the real server: an unknown language is refused by Whisper itself."""
    files = {"file": ("tone.wav", tone_wav, "audio/wav")}
    for path in ("/v1/audio/transcriptions", "/v1/audio/translations"):
        error = error_of(http.post(path, data={"response_format": "xml"}, files=files), 400)
        assert error["param"] == "response_format" and "srt" in error["message"]
        not_audio = {"file": ("x.wav", b"<p>" * 99)}
        error = error_of(http.post(path, data={"model": "whisper-1"}, files=not_audio), 400)
        assert error["param"] == "file"
    error = error_of(http.post("/v1/audio/transcriptions", data={"language": "xx"}, files=files), 400)
    assert error["param"] == "language" and error["code"] == "unsupported_language"
    granularity = {"response_format": "verbose_json", "timestamp_granularities[]": ["word", "letter"]}
    error = error_of(http.post("/v1/audio/transcriptions", data=granularity, files=files), 400)
    assert error["param"] == "timestamp_granularities[]" and "segment" in error["message"]
    streamed_srt = {"stream": "true", "response_format": "srt"}
    error = error_of(http.post("/v1/audio/transcriptions", data=streamed_srt, files=files), 400)
    assert error["param"] == "stream"


@pytest.mark.parametrize(
    "name", ["../x", "../etc", "..", "a/b", "a\\b", ".hidden", "x" * 65, "a..b", " pad", "tab\there"]
)
def test_voice_name_tricks(fake_http: httpx.Client, tone_wav: bytes, name: str) -> None:
    files = {"file": ("tone.wav", tone_wav, "audio/wav")}
    error = error_of(fake_http.post("/v1/audio/voices", data={"name": name}, files=files), 400)
    assert error["code"] == "invalid_voice_name" and error["param"] == "name"
    assert "voice name" in error["message"]
    error = error_of(fake_http.post("/v1/audio/voices/import", data={"name": name}, files=files), 400)
    assert error["code"] == "invalid_voice_name"


@pytest.mark.parametrize(
    "path", ["/v1/audio/voices/..", "/v1/audio/voices/..%5Cetc", "/v1/audio/voices/%2E%2E"]
)
def test_voice_path_tricks(fake_http: httpx.Client, path: str) -> None:
    response = fake_http.delete(path)
    assert response.status_code in (400, 404)
    error_of(response, response.status_code)


def test_voice_library_refusals(fake_http: httpx.Client, tone_wav: bytes) -> None:
    files = {"file": ("tone.wav", tone_wav, "audio/wav")}
    error = error_of(fake_http.post("/v1/audio/voices", data={"name": "my_voice"}, files=files), 400)
    assert error["param"] == "file" and "speech" in error["message"]  # a tone is not someone speaking
    for taken in ("fake_f", "FAKE_M"):  # the engine's stock voices, in any case
        error = error_of(fake_http.post("/v1/audio/voices", data={"name": taken}, files=files), 409)
        assert "already exists" in error["message"] and error["code"] == "voice_exists"
    error = error_of(fake_http.delete("/v1/audio/voices/fake_f"), 403)
    assert "cannot be deleted" in error["message"]
    assert error_of(fake_http.delete("/v1/audio/voices/nobody"), 404)["code"] == "voice_not_found"


def test_api_keys(serve, fake_parrot) -> None:  # noqa: ANN001
    settings = ServerSettings(api_keys=frozenset({"sesame", "other"}))
    with serve(create_app(fake_parrot(delay=0.0), settings)) as srv, httpx.Client(base_url=srv.url) as client:
        body = {"input": "hello", "response_format": "pcm"}
        error = error_of(client.post("/v1/audio/speech", json=body), 401)
        assert error["type"] == "authentication_error" and "Bearer" in error["message"]
        wrong = {"Authorization": "Bearer nope"}
        assert (
            error_of(client.post("/v1/audio/speech", json=body, headers=wrong), 401)["code"]
            == "invalid_api_key"
        )
        assert error_of(client.get("/v1/models", headers=wrong), 401)
        assert error_of(client.get("/metrics"), 401)
        good = {"Authorization": "Bearer sesame"}
        assert client.post("/v1/audio/speech", json=body, headers=good).status_code == 200
        assert client.get("/v1/models", headers={"Authorization": "Bearer other"}).status_code == 200
        for public in ("/healthz", "/docs", "/openapi.json"):
            assert client.get(public).status_code == 200, public
        assert client.get("/", follow_redirects=False).status_code == 200  # the web UI page is public
        ws_url = f"{srv.ws_url}/v1/audio/speech/stream"
        with pytest.raises(InvalidStatus):
            connect(ws_url).close()
        with pytest.raises(InvalidStatus):
            connect(f"{ws_url}?api_key=nope").close()
        with connect(f"{ws_url}?api_key=sesame") as ws:
            ws.send('{"type": "session.update"}')
            assert "session.updated" in ws.recv(timeout=10)
        with connect(ws_url, additional_headers=good) as ws:
            ws.send('{"type": "session.update"}')
            assert "session.updated" in ws.recv(timeout=10)


def test_unexpected_errors_are_generic_500s(serve, fake_parrot) -> None:  # noqa: ANN001
    tts = fake_parrot(delay=0.0)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret internals /etc/passwd")

    app = create_app(tts, ServerSettings())
    app.state.parrot.voice = broken
    with serve(app) as srv, httpx.Client(base_url=srv.url) as client:
        error = error_of(client.post("/v1/audio/speech", json={"input": "hello", "voice": "fake_f"}), 500)
    assert error["type"] == "server_error" and "secret" not in error["message"]


def test_failure_after_audio_started(serve, fake_parrot) -> None:  # noqa: ANN001
    tts = fake_parrot(delay=0.0)
    working = tts.engine.stream

    def breaks_after_one_chunk(text, voice, options):  # noqa: ANN001, ANN202
        chunks = working(text, voice, options)
        yield next(chunks)
        raise ModelError("the model fell over")

    tts.engine.stream = breaks_after_one_chunk
    with (
        serve(create_app(tts, ServerSettings())) as srv,
        httpx.Client(base_url=srv.url, timeout=30) as client,
    ):
        body = {"input": "one two three", "response_format": "pcm"}
        with client.stream("POST", "/v1/audio/speech", json={**body, "stream_format": "sse"}) as response:
            events = [json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: ")]
        assert events[0]["type"] == "speech.audio.delta"
        assert events[-1]["type"] == "error" and events[-1]["error"]["code"] == "model_error"
        with pytest.raises(httpx.RemoteProtocolError):  # a cut-off stream, never a complete-looking file
            client.post("/v1/audio/speech", json=body)
        assert srv.state.scheduler.active_jobs == 0
        assert 'parrot_errors_total{kind="model_error"} 2.0' in client.get("/metrics").text


def test_docs_page_works_offline(fake_http):
    page = fake_http.get("/docs")
    assert page.status_code == 200
    assert "/docs/static/swagger-ui-bundle.js" in page.text
    assert "cdn" not in page.text.lower()
    assert fake_http.get("/docs/static/swagger-ui-bundle.js").status_code == 200
    assert fake_http.get("/openapi.json").json()["info"]["title"] == "Parrot"


def test_korean_is_a_clear_error_only_on_an_engine_that_cannot_speak_it(fake_http: httpx.Client) -> None:
    error = error_of(speech(fake_http, input="안녕하세요", lang="ko-KR"), 400)
    assert error["code"] == "unsupported_language" and "fake engine" in error["message"]
    assert all(lang in error["message"] for lang in ("zh", "en", "ja"))
