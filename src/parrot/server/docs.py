"""The API's own documentation: the description shown at /docs, the OpenAPI schema, offline Swagger UI."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse

API_DESCRIPTION = """Offline multilingual speech generation (Mandarin, English, Japanese).

* OpenAI-compatible: `POST /v1/audio/speech`, `POST /v1/audio/transcriptions` (json, text, srt, vtt,
  verbose_json with segments and words, `stream=true`), `POST /v1/audio/translations`, `GET /v1/models`.
* Voice cloning and the voice library: `POST /v1/audio/voices` makes a voice from 3-30 s of one person
  speaking (any audio format; the transcript is optional) and saves it; its name then works as `voice`
  everywhere. List, get, rename (`PATCH`) and delete saved voices; export a voice as a shareable `.voice`
  file (`GET /v1/audio/voices/{name}/export`) and import one (`POST /v1/audio/voices/import`). Cloning
  takes several seconds of CPU; the server clones one voice at a time so speech keeps flowing.
* Training a voice: `POST /v1/audio/voices/train` (multipart `name`, one or more `files`, optional `text`
  per file, `language`, `minutes`, `resume`) starts a job that adapts the model to the speaker (202); follow
  it with `GET /v1/audio/voices/train/{id}` or its Server-Sent Events (`.../{id}/events`), cancel it with
  `DELETE` (the work is kept for `resume=true`). One job at a time, in a low-priority process.
* CosyVoice-compatible: `/inference_sft` (stock voice), `/inference_zero_shot`, `/inference_cross_lingual`
  and `/inference_instruct2` (voice of the uploaded `prompt_wav`, cloned for the request and not saved,
  spoken as `instruct_text` says). `spk_id` also takes CosyVoice's own speaker names (中文女, 英文男...).
  All stream raw 16-bit PCM.
* WebSocket `/v1/audio/speech/stream` (not listed below: OpenAPI cannot describe it). Send JSON text
  frames `{"type": "session.update", "voice", "speed", "lang", "response_format"}`,
  `{"type": "text.delta", "text"}`, `{"type": "text.done"}`, `{"type": "cancel"}`; receive
  `{"type": "audio.delta", "audio": base64, "text", "sample_rate"}`, `{"type": "audio.done"}`,
  `{"type": "audio.cancelled"}`, `{"type": "session.updated"}` and `{"type": "error", "error"}`.
  Audio starts as soon as the first sentence (or long clause) of the text is complete.

* Voice chat: `POST /v1/audio/chat` takes a spoken (or typed) question and returns the answer of a language
  model (any OpenAI-compatible endpoint, `PARROT_LLM_BASE_URL`, or the embedded one) spoken in the chosen
  voice, with the transcript and the answer's text. WebSocket `/v1/realtime` (a subset of OpenAI's Realtime
  API: `input_audio_buffer.append`, `session.update`, `conversation.item.create`, `response.create`,
  `response.cancel` in; `input_audio_buffer.speech_started`/`speech_stopped`,
  `conversation.item.input_audio_transcription.completed`, `response.text.delta`, `response.audio.delta`,
  `response.done` out) is a live conversation with voice activity detection and barge-in.

Every error has OpenAI's shape `{"error": {"message", "type", "param", "code"}}`. When the server has API
keys, send `Authorization: Bearer KEY` (WebSocket: that header or `?api_key=KEY`). Too many streams at
once: HTTP 429 with `Retry-After`.
"""


def openapi_without_422(app: FastAPI) -> dict[str, Any]:
    """FastAPI documents its validation errors as 422 with its own body; here they are 400s in OpenAI's
    shape (documented on each route), so drop the 422 entries and their schemas."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        for operation in (op for path in schema.get("paths", {}).values() for op in path.values()):
            operation.get("responses", {}).pop("422", None)
        for name in ("HTTPValidationError", "ValidationError"):
            schema.get("components", {}).get("schemas", {}).pop(name, None)
        app.openapi_schema = schema
    return app.openapi_schema


def mount_offline_docs(app: FastAPI) -> None:
    """Swagger UI at /docs from the files of the ``swagger-ui-bundle`` package (works offline)."""
    import swagger_ui_bundle
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.staticfiles import StaticFiles

    app.mount("/docs/static", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="swagger-ui")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="Parrot API",
            swagger_js_url="/docs/static/swagger-ui-bundle.js",
            swagger_css_url="/docs/static/swagger-ui.css",
            swagger_favicon_url="/docs/static/favicon-32x32.png",
        )
