"""The OpenAI-compatible API through the official ``openai`` client and httpx, against a real server."""

from __future__ import annotations

import base64
import json
import time

import httpx
import pytest
from openai import OpenAI

from parrot.audio import FORMATS, decode

SHORT = "Hello world."
LONG = (
    "The first sentence is short. The second sentence is a little longer than the first one. "
    "The third sentence ends this small paragraph."
)


@pytest.fixture(scope="module")
def client(server) -> OpenAI:  # noqa: ANN001
    return OpenAI(base_url=f"{server.url}/v1", api_key="not-needed", max_retries=0, timeout=120)


def _seconds(data: bytes, fmt: str) -> float:
    if fmt == "pcm":
        return len(data) / 2 / 24_000
    audio, rate = decode(data)
    return len(audio) / rate


@pytest.mark.parametrize("fmt", ["mp3", "opus", "aac", "flac", "wav", "pcm"])
def test_speech_in_every_format(client: OpenAI, fmt: str) -> None:
    response = client.audio.speech.create(model="tts-1", voice="alloy", input=SHORT, response_format=fmt)
    assert response.response.headers["content-type"] == FORMATS[fmt]
    assert response.response.headers["x-parrot-sample-rate"] == "24000"
    assert 0.4 < _seconds(response.content, fmt) < 3.0


def test_streaming_response_sends_audio_before_synthesis_ends(client: OpenAI, tmp_path) -> None:  # noqa: ANN001
    path = tmp_path / "long.mp3"
    started = time.perf_counter()
    first = None
    with (
        client.audio.speech.with_streaming_response.create(
            model="gpt-4o-mini-tts", voice="jf_alpha", input=LONG, response_format="mp3"
        ) as response,
        open(path, "wb") as out,
    ):
        for data in response.iter_bytes():
            if data and first is None:
                first = time.perf_counter() - started
            out.write(data)
    total = time.perf_counter() - started
    assert first is not None
    assert first < 0.6 * total, f"first audio after {first:.2f} s of {total:.2f} s"
    assert 4.0 < _seconds(path.read_bytes(), "mp3") < 15.0


def test_stream_to_file(client: OpenAI, tmp_path) -> None:  # noqa: ANN001
    path = tmp_path / "hello.wav"
    with client.audio.speech.with_streaming_response.create(
        model="kokoro", voice="jm_kumo", input=SHORT, response_format="wav", speed=1.5
    ) as response:
        response.stream_to_file(path)
    assert 0.3 < _seconds(path.read_bytes(), "wav") < 2.0


def test_plain_wav_has_true_sizes(client: OpenAI) -> None:
    """Python's wave module once read 89,478 s from a 4.8 s file (0xFFFFFFFF sizes of a streamed header)."""
    import io
    import wave

    data = client.audio.speech.create(model="tts-1", voice="jm_kumo", input=SHORT, response_format="wav").content
    with wave.open(io.BytesIO(data)) as w:
        seconds = w.getnframes() / w.getframerate()
    assert 0.3 < seconds < 3.0 and abs(seconds - _seconds(data, "wav")) < 0.01


def test_sse_stream_format(fake_http: httpx.Client) -> None:
    body = {
        "model": "tts-1",
        "input": SHORT,
        "voice": "nova",
        "response_format": "pcm",
        "stream_format": "sse",
    }
    events = []
    with fake_http.stream("POST", "/v1/audio/speech", json=body) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[6:]))
    deltas, done = events[:-1], events[-1]
    assert deltas and all(e["type"] == "speech.audio.delta" for e in deltas)
    pcm = b"".join(base64.b64decode(e["audio"]) for e in deltas)
    assert 0.4 < _seconds(pcm, "pcm") < 3.0
    assert done["type"] == "speech.audio.done"
    usage = done["usage"]
    assert usage["input_tokens"] == 3 and usage["output_tokens"] > 0
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]


def test_instructions_are_followed_and_reported(http: httpx.Client) -> None:
    body = {"input": "Hello there, how are you today?", "voice": "coral", "response_format": "pcm"}
    plain = http.post("/v1/audio/speech", json=body)
    slow = http.post("/v1/audio/speech", json={**body, "instructions": "Speak much more slowly, and sadly."})
    assert slow.status_code == 200
    assert slow.headers["x-parrot-instruction"] == "slower (very), sad"
    assert "x-parrot-warning" not in slow.headers and "x-parrot-instruction" not in plain.headers
    assert len(slow.content) > 1.4 * len(plain.content)  # the instruction is followed, not spoken


def test_instructions_beyond_the_engine_are_reported(http: httpx.Client) -> None:
    body = {"input": SHORT, "instructions": "用四川话说，开心一点", "response_format": "pcm"}
    response = http.post("/v1/audio/speech", json=body)
    assert response.status_code == 200
    assert "dialects" in response.headers["x-parrot-warning"]
    assert response.headers["x-parrot-instruction"] == "happy (a bit)"


def test_bad_instructions_and_markup_are_400(fake_http: httpx.Client) -> None:
    too_long = fake_http.post("/v1/audio/speech", json={"input": SHORT, "instructions": "x" * 501})
    assert too_long.status_code == 400
    bad_pause = fake_http.post("/v1/audio/speech", json={"input": "Wait [pause:forever] now."})
    assert bad_pause.status_code == 400 and "pause" in bad_pause.json()["error"]["message"]
    korean = fake_http.post("/v1/audio/speech", json={"input": "<|ko|>annyeong"})
    assert korean.status_code == 400 and "ko" in korean.json()["error"]["message"]


def test_voice_object_and_aliases(http: httpx.Client) -> None:
    voices = http.get("/v1/audio/voices").json()
    names = {v["name"] for v in voices["voices"]}
    assert {"jf_alpha", "jm_kumo"} <= names
    assert voices["aliases"]["onyx"] == "jm_kumo"  # the only male stock voice
    assert voices["aliases"]["nova"].startswith("jf_")
    assert http.get("/v1/audio/voices/jm_kumo").json()["gender"] == "male"
    assert http.get("/v1/audio/voices/echo").json()["name"] == "jm_kumo"
    response = http.post(
        "/v1/audio/speech", json={"input": "Hi.", "voice": {"id": "jf_nezumi"}, "response_format": "pcm"}
    )
    assert response.status_code == 200 and len(response.content) > 4_800


def test_transcription_of_synthesized_speech(client: OpenAI) -> None:
    spoken = client.audio.speech.create(
        model="tts-1", voice="jm_kumo", input="The weather is sunny today.", response_format="wav"
    )
    result = client.audio.transcriptions.create(
        model="whisper-1", file=("speech.wav", spoken.content, "audio/wav"), language="en"
    )
    text = result.text.lower()
    assert sum(word in text for word in ("weather", "sunny", "today")) >= 2, text
    verbose = client.audio.transcriptions.create(
        model="whisper-1", file=("speech.wav", spoken.content, "audio/wav"), response_format="verbose_json"
    )
    assert verbose.language == "en" and verbose.duration > 0.5
    plain = client.audio.transcriptions.create(
        model="whisper-1", file=("speech.wav", spoken.content, "audio/wav"), response_format="text"
    )
    assert "sunny" in str(plain).lower()


def test_models(client: OpenAI) -> None:
    ids = {m.id for m in client.models.list()}
    assert {"tts-1", "tts-1-hd", "gpt-4o-mini-tts", "parrot", "kokoro", "whisper-1"} <= ids


def test_health(http: httpx.Client) -> None:
    health = http.get("/healthz").json()
    listed = http.get("/v1/audio/voices").json()["voices"]
    assert health["status"] == "ok" and health["engine"] == "kokoro"
    assert health["voices"] == len(listed) and sum(v["kind"] == "stock" for v in listed) == 5
    assert health["queue"]["workers"] == 2 and health["queue"]["max_jobs"] == 16
    assert health["queue"]["accepting"] is True


def test_metrics_after_speech(fake_http: httpx.Client) -> None:
    assert (
        fake_http.post("/v1/audio/speech", json={"input": "Metrics.", "response_format": "pcm"}).status_code == 200
    )
    text = fake_http.get("/metrics").text
    for name in (
        "parrot_queue_depth ",
        "parrot_active_jobs ",
        'parrot_request_duration_seconds_count{method="POST",route="/v1/audio/speech",status="200"}',
        'parrot_time_to_first_audio_seconds_count{route="speech"}',
        'parrot_audio_seconds_total{route="speech"}',
    ):
        assert name in text, name
    assert fake_http.get("/metrics").headers["content-type"].startswith("text/plain")


def test_root_serves_the_web_ui(fake_http: httpx.Client) -> None:
    response = fake_http.get("/", follow_redirects=False)
    assert response.status_code == 200 and "<title>Parrot</title>" in response.text
    assert fake_http.get("/docs").status_code == 200
    paths = fake_http.get("/openapi.json").json()["paths"]
    assert {
        "/v1/audio/speech",
        "/v1/audio/transcriptions",
        "/inference_sft",
        "/v1/audio/voices/{name}",
    } <= set(paths)


def test_word_timestamps_come_with_the_audio(http: httpx.Client) -> None:
    body = {"model": "tts-1", "input": LONG, "voice": "jf_alpha", "response_format": "mp3", "timestamps": "word"}
    response = http.post("/v1/audio/speech", json=body)
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    data = response.json()
    seconds = _seconds(base64.b64decode(data["audio"]), "mp3")
    words = data["words"]
    assert [w["text"] for w in words] == LONG.replace(".", "").split()
    assert all(0 <= w["start"] <= w["end"] <= seconds + 0.05 for w in words)
    assert all(a["end"] <= b["start"] for a, b in zip(words, words[1:], strict=False))
    assert words[-1]["end"] > seconds - 0.5  # the words cover the audio
    assert [s["text"] for s in data["sentences"]] == [s.strip() + "." for s in LONG.split(".") if s.strip()]
    # streamed: each event's words arrive with its audio, and the same timings as the whole
    events = []
    with http.stream("POST", "/v1/audio/speech", json={**body, "stream_format": "sse"}) as streamed:
        assert streamed.status_code == 200
        events = [json.loads(line[6:]) for line in streamed.iter_lines() if line.startswith("data: ")]
    deltas = [e for e in events if e["type"] == "speech.audio.delta"]
    heard = [w for e in deltas for w in e["words"]]
    assert [w["text"] for w in heard] == [w["text"] for w in words]
    assert [w["start"] for w in heard] == pytest.approx([w["start"] for w in words], abs=0.002)
    assert len([s for e in deltas for s in e["sentences"]]) == 3
    assert sum(bool(e["words"]) for e in deltas) > 1  # timings arrive chunk by chunk, not at the end


def test_timestamps_must_be_known(fake_http: httpx.Client) -> None:
    response = fake_http.post("/v1/audio/speech", json={"input": "hi", "timestamps": "phoneme"})
    assert response.status_code in (400, 422) and "timestamps" in response.text
