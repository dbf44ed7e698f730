"""Voice design over HTTP with the real model: blends anywhere a voice name goes, preview, save, export and
import, the errors; and consent statements recorded with cloned voices."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from parrot.audio import decode
from parrot.dsp.world import analyze

pytestmark = pytest.mark.slow
TEXT = "The quick brown fox jumps over the lazy dog."


def speak(http: httpx.Client, voice: str, text: str = TEXT) -> bytes:
    response = http.post("/v1/audio/speech", json={"input": text, "voice": voice, "response_format": "wav"})
    assert response.status_code == 200, response.text
    return response.content


def median_f0(wav: bytes) -> float:
    audio, rate = decode(wav)
    f0, _, _ = analyze(audio, rate)
    return float(np.median(f0[f0 > 0]))


def error_of(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    return response.json()["error"]


def test_blends_work_wherever_a_voice_name_goes(http: httpx.Client) -> None:
    assert speak(http, "jf_alpha*0.3+jf_alpha*0.7") == speak(http, "jf_alpha")  # a voice blended with itself
    mixed = speak(http, "jf_alpha*0.5+jm_kumo*0.5")
    assert mixed not in (speak(http, "jf_alpha"), speak(http, "jm_kumo"))
    assert median_f0(speak(http, "jm_kumo")) < median_f0(mixed) < median_f0(speak(http, "jf_alpha"))
    speak(http, "alloy*0.5+jm_kumo*0.5")  # OpenAI aliases inside a blend
    error = error_of(http.post("/v1/audio/speech", json={"input": TEXT, "voice": "jf_alpha*0.5+nobody*0.5"}), 404)
    assert "nobody" in error["message"]
    error = error_of(http.post("/v1/audio/speech", json={"input": TEXT, "voice": "jf_alpha*-1+jm_kumo"}), 400)
    assert "write it as 'voice_a*0.3+voice_b*0.7'" in error["message"]


def test_design_preview_save_use_export_import(http: httpx.Client) -> None:
    recipe = {"source": "jf_alpha*0.6+jm_kumo*0.4", "pitch": -4, "pace": 1.2, "brightness": -2, "breathiness": 0.3}
    preview = http.post("/v1/audio/voices/design/preview", json={**recipe, "input": TEXT})
    assert preview.status_code == 200 and preview.headers["content-type"] == "audio/wav"
    plain = speak(http, recipe["source"])
    assert median_f0(preview.content) < median_f0(plain) * 0.87  # 4 semitones down: x0.79
    assert decode(preview.content)[0].size < decode(plain)[0].size * 0.9  # 1.2x faster
    assert "designed_dj" not in [v["name"] for v in http.get("/v1/audio/voices").json()["voices"]]  # not saved

    saved = http.post("/v1/audio/voices/design", json={**recipe, "name": "designed_dj", "description": "deep"})
    assert saved.status_code == 201, saved.text
    info = saved.json()
    assert info["kind"] == "cloned" and info["description"] == "deep"
    assert info["design"]["blend"] == [["jf_alpha", 0.6], ["jm_kumo", 0.4]]
    assert info["design"]["adjust"] == {"pitch": -4.0, "pace": 1.2, "brightness": -2.0, "breathiness": 0.3}
    try:
        assert speak(http, "designed_dj") == preview.content  # the saved voice sounds as previewed
        exported = http.get("/v1/audio/voices/designed_dj/export").content
        imported = http.post(
            "/v1/audio/voices/import", files={"file": ("v.voice", exported)}, data={"name": "designed_dj2"}
        )
        assert imported.status_code == 201 and imported.json()["design"] == info["design"]
        assert speak(http, "designed_dj2") == preview.content
        error = error_of(http.post("/v1/audio/voices/design", json={**recipe, "name": "designed_dj"}), 409)
        assert "already exists" in error["message"]
        redesigned = http.post("/v1/audio/voices/design", json={"source": "designed_dj", "pitch": 4, "name": "dj3"})
        assert redesigned.status_code == 201 and redesigned.json()["design"]["adjust"]["pitch"] == 0.0
    finally:
        for name in ("designed_dj", "designed_dj2", "dj3"):
            http.delete(f"/v1/audio/voices/{name}")


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"source": "jf_alpha", "pitch": 20, "name": "x1"}, 400, "pitch must be between -12 and 12"),
        ({"source": "jf_alpha", "breathiness": -1, "name": "x1"}, 400, "breathiness must be between 0 and 1"),
        ({"source": "jf_alpha"}, 400, "name is required"),
        ({"source": "nobody", "name": "x1"}, 404, "no voice named 'nobody'"),
        ({"source": "jf_alpha", "name": "../x"}, 400, ""),
        ({"source": "jf_alpha", "name": "jm_kumo"}, 409, "built-in voice"),
        ({"source": "jf_alpha", "name": "x1", "tone": 3}, 400, "tone"),
    ],
)
def test_bad_designs_change_nothing(http: httpx.Client, body: dict, status: int, message: str) -> None:
    before = http.get("/v1/audio/voices").json()["voices"]
    error = error_of(http.post("/v1/audio/voices/design", json=body), status)
    assert message in error["message"]
    assert http.get("/v1/audio/voices").json()["voices"] == before


def test_a_preview_needs_text(http: httpx.Client) -> None:
    error = error_of(http.post("/v1/audio/voices/design/preview", json={"source": "jf_alpha"}), 400)
    assert "input" in error["message"]


def test_consent_statement_is_recorded_and_shown(http: httpx.Client, reference_mp3: bytes) -> None:
    files = {"file": ("ref.mp3", reference_mp3, "audio/mpeg")}
    error = error_of(http.post("/v1/audio/voices", files=files, data={"name": "c1", "consent_by": "Ada"}), 400)
    assert "consent_text is required" in error["message"]
    statement = "I, Ada, agree that Parrot may clone my voice for this test."
    data = {"name": "consenting", "consent_by": "Ada", "consent_text": statement}
    created = http.post("/v1/audio/voices", files=files, data=data)
    assert created.status_code == 201, created.text
    try:
        consent = created.json()["consent"]
        assert consent["by"] == "Ada" and consent["text"] == statement and consent["at"].endswith("Z")
        assert http.get("/v1/audio/voices/consenting").json()["consent"] == consent
        listed = {v["name"]: v for v in http.get("/v1/audio/voices").json()["voices"]}
        assert listed["consenting"]["consent"] == consent and listed["jf_alpha"]["consent"] is None
        exported = http.get("/v1/audio/voices/consenting/export").content
        back = http.post("/v1/audio/voices/import", files={"file": ("v.voice", exported)}, data={"name": "consent2"})
        assert back.json()["consent"] == consent
    finally:
        for name in ("consenting", "consent2"):
            http.delete(f"/v1/audio/voices/{name}")
