"""CosyVoice-compatible routes, called the way upstream's client calls them (form fields, GET or POST)."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from parrot.audio import encode
from parrot.server.schemas import CLONING_UNAVAILABLE


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


def test_inference_sft_unknown_speaker(http: httpx.Client) -> None:
    response = http.post("/inference_sft", data={"tts_text": "hello", "spk_id": "中文女"})
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "voice_not_found" and "jf_alpha" in error["message"]


CLONING_ROUTES = [
    ("/inference_zero_shot", {"tts_text": "Hello there.", "prompt_text": "A test tone."}),
    ("/inference_cross_lingual", {"tts_text": "Hello there."}),
    ("/inference_instruct2", {"tts_text": "Hello there.", "instruct_text": "Speak slowly."}),
]


@pytest.mark.parametrize(("path", "form"), CLONING_ROUTES)
def test_cloning_routes_answer_501_for_good_input(
    http: httpx.Client, prompt_wav: bytes, path: str, form
) -> None:  # noqa: ANN001
    response = http.post(path, data=form, files={"prompt_wav": ("prompt.wav", prompt_wav, "audio/wav")})
    assert response.status_code == 501
    assert response.json()["error"]["message"] == CLONING_UNAVAILABLE


@pytest.mark.parametrize(("path", "form"), CLONING_ROUTES)
def test_cloning_routes_reject_a_bad_upload(http: httpx.Client, path: str, form) -> None:  # noqa: ANN001
    junk = b"this is certainly not audio " * 200
    response = http.request("GET", path, data=form, files={"prompt_wav": ("prompt.wav", junk, "audio/wav")})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "prompt_wav" and "not a recognised audio file" in error["message"]


def test_cloning_route_checks_missing_fields(http: httpx.Client, prompt_wav: bytes) -> None:
    files = {"prompt_wav": ("prompt.wav", prompt_wav, "audio/wav")}
    response = http.post("/inference_zero_shot", data={"tts_text": "Hello."}, files=files)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "prompt_text"
