"""CORS: pages on the configured origins may call the API (API keys or not); no CORS headers otherwise."""

from __future__ import annotations

import httpx
import pytest

from parrot.errors import InputError
from parrot.server.app import create_app
from parrot.server.settings import ServerSettings

ALLOWED = "https://app.example.com"
OTHER = "https://evil.example.net"
KEY = {"Authorization": "Bearer sesame"}
SPEECH = {"input": "hello there", "response_format": "pcm"}


def _preflight(client: httpx.Client, origin: str, path: str = "/v1/audio/speech") -> httpx.Response:
    return client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )


def test_allowed_origin_with_api_keys(serve, fake_parrot) -> None:  # noqa: ANN001
    settings = ServerSettings(api_keys=frozenset({"sesame"}), cors_origins=(ALLOWED + "/",))
    with serve(create_app(fake_parrot(delay=0.0), settings)) as srv, httpx.Client(base_url=srv.url) as client:
        for path in ("/v1/audio/speech", "/v1/audio/transcriptions", "/v1/audio/voices/jf_alpha"):
            preflight = _preflight(client, ALLOWED, path)  # carries no API key, and must not need one
            assert preflight.status_code == 200, preflight.text
            assert preflight.headers["access-control-allow-origin"] == ALLOWED
            assert "POST" in preflight.headers["access-control-allow-methods"]
            assert "authorization" in preflight.headers["access-control-allow-headers"].lower()

        spoken = client.post("/v1/audio/speech", json=SPEECH, headers={**KEY, "Origin": ALLOWED})
        assert spoken.status_code == 200 and spoken.content
        assert spoken.headers["access-control-allow-origin"] == ALLOWED
        exposed = {h.strip() for h in spoken.headers["access-control-expose-headers"].split(",")}
        assert "x-parrot-sample-rate" in exposed and all(h.startswith("x-parrot-") for h in exposed)

        refused = client.post("/v1/audio/speech", json=SPEECH, headers={"Origin": ALLOWED})  # no key
        assert refused.status_code == 401 and refused.headers["access-control-allow-origin"] == ALLOWED
        assert refused.json()["error"]["code"] == "invalid_api_key"  # the page can read why

        assert _preflight(client, OTHER).status_code == 400
        assert "access-control-allow-origin" not in _preflight(client, OTHER).headers
        other = client.post("/v1/audio/speech", json=SPEECH, headers={**KEY, "Origin": OTHER})
        assert other.status_code == 200 and "access-control-allow-origin" not in other.headers
        assert client.post("/v1/audio/speech", json=SPEECH).status_code == 401  # keys still needed


def test_any_origin(serve, fake_parrot) -> None:  # noqa: ANN001
    with (
        serve(create_app(fake_parrot(delay=0.0), ServerSettings(cors_origins=("*",)))) as srv,
        httpx.Client(base_url=srv.url) as client,
    ):
        assert _preflight(client, OTHER).headers["access-control-allow-origin"] == "*"
        models = client.get("/v1/models", headers={"Origin": OTHER})
        assert models.status_code == 200 and models.headers["access-control-allow-origin"] == "*"
        assert "access-control-expose-headers" not in models.headers  # nothing of Parrot's to expose


def test_no_cors_by_default(http: httpx.Client) -> None:
    preflight = _preflight(http, ALLOWED)
    assert preflight.status_code == 405 and "access-control-allow-origin" not in preflight.headers
    models = http.get("/v1/models", headers={"Origin": ALLOWED})
    assert models.status_code == 200 and not any(h.startswith("access-control-") for h in models.headers)


def test_origins_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARROT_CORS_ORIGINS", " https://a.example/, http://localhost:5173 ,,")
    assert ServerSettings.from_env().cors_origins == ("https://a.example", "http://localhost:5173")
    monkeypatch.setenv("PARROT_CORS_ORIGINS", "*")
    assert ServerSettings.from_env().cors_origins == ("*",)
    monkeypatch.delenv("PARROT_CORS_ORIGINS")
    assert ServerSettings.from_env().cors_origins == ()
    for wrong in ("a.example", "https://a.example/app", "ftp://a.example"):
        monkeypatch.setenv("PARROT_CORS_ORIGINS", wrong)
        with pytest.raises(InputError, match="PARROT_CORS_ORIGINS"):
            ServerSettings.from_env()
