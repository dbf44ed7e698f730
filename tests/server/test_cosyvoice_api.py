"""CosyVoice-compatible routes, called the way upstream's client calls them (form fields, GET or POST)."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from parrot.audio import encode


@pytest.fixture(scope="module")
def prompt_wav() -> bytes:
    t = np.arange(16_000 * 2) / 16_000
    return encode((0.2 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 16_000, "wav")


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_inference_sft_streams_int16_pcm(http: httpx.Client, method: str) -> None:
    form = {"tts_text": "你好，世界。", "spk_id": "jf_alpha"}
    with http.stream(method, "/inference_sft", data=form) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/octet-stream"
        rate = int(response.headers["x-parrot-sample-rate"])
        pcm = b"".join(response.iter_bytes())
    assert len(pcm) % 2 == 0
    samples = np.frombuffer(pcm, "<i2")
    assert 0.5 < len(samples) / rate < 4.0
    assert np.abs(samples).max() > 1000  # speech, not silence


def test_inference_sft_unknown_speaker(fake_http: httpx.Client) -> None:
    response = fake_http.post("/inference_sft", data={"tts_text": "hello", "spk_id": "没有这个人"})
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "voice_not_found" and "fake_f" in error["message"]  # lists the voices there are


@pytest.mark.parametrize(("speaker", "gender"), [("中文女", "female"), ("中文男", "male"), ("英文女", "female"),
                                                 ("英文男", "male"), ("日语男", "male")])
def test_cosyvoice_speaker_names_map_to_voices_of_their_sex(http: httpx.Client, speaker: str, gender: str) -> None:
    """CosyVoice's own client asks for spk_id=中文女 by default: it must get speech, in a voice of that sex."""
    voices = {v["name"]: v for v in http.get("/v1/audio/voices").json()["voices"]}
    aliases = http.get("/v1/audio/voices").json()["aliases"]
    assert voices[aliases[speaker]]["gender"] == gender
    with http.stream("POST", "/inference_sft", data={"tts_text": "你好。", "spk_id": speaker}) as response:
        assert response.status_code == 200
        pcm = b"".join(response.iter_bytes())
    assert np.abs(np.frombuffer(pcm, "<i2")).max() > 1000


CLONING_ROUTES = [
    ("/inference_zero_shot", {"tts_text": "Hello there.", "prompt_text": "A test tone."}),
    ("/inference_cross_lingual", {"tts_text": "Hello there."}),
    ("/inference_instruct2", {"tts_text": "Hello there.", "instruct_text": "Speak slowly."}),
]
CLONE_TIMEOUT = 600  # the session's first clone also loads the speaker encoder: a minute on a busy machine
CLONED_TEXT = "Nice to meet you. This voice was cloned a moment ago."


def _pcm(http: httpx.Client, path: str, form: dict[str, str], prompt: bytes) -> tuple[httpx.Headers, np.ndarray]:
    files = {"prompt_wav": ("prompt.mp3", prompt, "audio/mpeg")}
    with http.stream("POST", path, data=form, files=files, timeout=CLONE_TIMEOUT) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"] == "application/octet-stream"
        pcm = b"".join(response.iter_bytes())
    assert len(pcm) % 2 == 0
    samples = np.frombuffer(pcm, "<i2")
    assert np.abs(samples).max() > 1000  # speech, not silence
    return response.headers, samples


def test_zero_shot_speaks_in_the_prompt_voice(http: httpx.Client, reference_mp3: bytes, reference_text: str) -> None:
    form = {"tts_text": CLONED_TEXT, "prompt_text": reference_text}
    headers, samples = _pcm(http, "/inference_zero_shot", form, reference_mp3)
    assert 1.5 < len(samples) / int(headers["x-parrot-sample-rate"]) < 8.0
    assert "x-parrot-warning" not in headers


def test_cross_lingual_and_instruct2(http: httpx.Client, reference_mp3: bytes) -> None:
    before = {v["name"] for v in http.get("/v1/audio/voices").json()["voices"]}
    headers, plain = _pcm(http, "/inference_cross_lingual", {"tts_text": "你好，今天天气很好。"}, reference_mp3)
    rate = int(headers["x-parrot-sample-rate"])
    assert 1.0 < len(plain) / rate < 6.0
    # instruct2 with the same prompt reuses its clone (no second wait); the instruction is followed (slower),
    # never spoken, and its pirate part reported as beyond the engine.
    form = {"tts_text": "你好，今天天气很好。", "instruct_text": "Speak like a pirate, very slowly and loudly."}
    clones = _clone_count(http)
    headers, instructed = _pcm(http, "/inference_instruct2", form, reference_mp3)
    assert "different kind of voice" in headers["x-parrot-warning"]
    assert headers["x-parrot-instruction"] == "slower (very), louder"
    assert len(instructed) > 1.25 * len(plain)
    assert _clone_count(http) == clones
    assert {v["name"] for v in http.get("/v1/audio/voices").json()["voices"]} == before  # nothing saved


def test_instruct_with_a_named_voice(http: httpx.Client) -> None:
    form = {"tts_text": "Hello there.", "spk_id": "jm_kumo"}
    plain = http.post("/inference_sft", data=form)
    whisper = http.post("/inference_instruct", data={**form, "instruct_text": "whisper"})
    assert whisper.status_code == 200 and whisper.headers["x-parrot-instruction"] == "whisper"
    loudness = [np.sqrt(np.mean(np.frombuffer(r.content, "<i2").astype(float) ** 2)) for r in (plain, whisper)]
    assert loudness[1] < 0.7 * loudness[0]
    empty = http.post("/inference_instruct", data={**form, "instruct_text": " "})
    assert empty.status_code == 400 and empty.json()["error"]["param"] == "instruct_text"


def _clone_count(http: httpx.Client) -> float:
    for line in http.get("/metrics").text.splitlines():
        if line.startswith("parrot_voice_clone_seconds_count "):
            return float(line.split()[1])
    raise AssertionError("no parrot_voice_clone_seconds_count in /metrics")


@pytest.mark.parametrize(("path", "form"), CLONING_ROUTES)
def test_cloning_routes_reject_a_bad_upload(fake_http: httpx.Client, prompt_wav: bytes, path: str, form) -> None:  # noqa: ANN001
    junk = b"this is certainly not audio " * 200
    response = fake_http.request("GET", path, data=form, files={"prompt_wav": ("prompt.wav", junk, "audio/wav")})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "prompt_wav" and "not a recognised audio file" in error["message"]
    response = fake_http.post(path, data=form, files={"prompt_wav": ("prompt.wav", prompt_wav, "audio/wav")})
    assert response.status_code == 400  # a tone, not speech
    error = response.json()["error"]
    assert error["param"] == "prompt_wav" and "speech" in error["message"]


def test_cloning_route_checks_missing_fields(fake_http: httpx.Client, prompt_wav: bytes) -> None:
    files = {"prompt_wav": ("prompt.wav", prompt_wav, "audio/wav")}
    response = fake_http.post("/inference_zero_shot", data={"tts_text": "Hello."}, files=files)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "prompt_text"
