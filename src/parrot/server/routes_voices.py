"""The voice library over HTTP: list, get, clone, import, export, rename and delete voices."""

from __future__ import annotations

import time
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ..audio import FORMATS, encode
from ..errors import InputError, UnknownVoiceError
from ..text.segment import check_language
from ..voices.consent import Consent, consent_of
from ..voices.design import Design
from ..voices.library import VoiceLibrary
from ..voices.store import decode_voice_file
from ..voices.voice import Voice
from .errors import checked
from .names import VOICE_NAME_HELP, check_voice_name, refuse_taken_name
from .schemas import ApiError, ConsentInfo, VoiceDesign, VoiceInfo, VoiceList, VoiceRename, responses
from .speech import collect_audio, start_speech
from .state import ServerState, State
from .uploads import read_upload

router = APIRouter()


@router.get(
    "/v1/audio/voices",
    tags=["voices"],
    summary="Voices (built-in and saved) and OpenAI voice aliases",
    response_model=VoiceList,
    responses=responses(),
)
async def list_voices(state: State) -> VoiceList:
    voices = await run_in_threadpool(state.tts.voices.list)
    return VoiceList(voices=[voice_info(v) for v in voices], aliases=state.aliases)


@router.get(
    "/v1/audio/voices/{name}",
    tags=["voices"],
    summary="One voice (by name or OpenAI alias)",
    response_model=VoiceInfo,
    responses=responses(400, 404),
)
async def get_voice(name: str, state: State) -> VoiceInfo:
    name = check_voice_name(name)
    return voice_info(await run_in_threadpool(state.voice, name))


@router.post(
    "/v1/audio/voices",
    tags=["voices"],
    summary="Clone a voice from a recording and save it",
    description="Takes several seconds (one clone at a time per server). The recording can be any audio "
    "format; 3-30 s of one person speaking clearly, without music, works best. Without `text`, the words are "
    "transcribed with Whisper first. The new voice's name then works as `voice` in every speech route.",
    status_code=201,
    response_model=VoiceInfo,
    responses=responses(400, 409, 413, 429, 503),
)
async def create_voice(
    state: State,
    response: Response,
    name: Annotated[str, Form(description=f"Name of the new voice: {VOICE_NAME_HELP}")],
    file: Annotated[UploadFile, File(description="A clean recording of the speaker, 3-30 s, any format")],
    text: Annotated[str | None, Form(description="What the recording says (default: transcribed with Whisper)")] = None,
    language: Annotated[
        str | None, Form(description="Language of the recording: zh, en, ja or auto (default: detect)")
    ] = None,
    consent_by: Annotated[
        str | None, Form(description="Who agreed to have their voice cloned (recorded and shown with the voice)")
    ] = None,
    consent_text: Annotated[str | None, Form(description="The statement they agreed to (with consent_by)")] = None,
) -> VoiceInfo:
    name = check_voice_name(name)
    language = checked(check_language, language, "language")
    consent = Consent.given(consent_by, consent_text) if consent_by or consent_text else None
    library = state.tts.voices
    await run_in_threadpool(refuse_taken_name, library, name)
    data = await read_upload(state.settings, file, "file")
    voice = await state.clones.clone(
        state.tts, data, text, name=name, param="file", transcript_param="text", language=language
    )
    return await _save(library, consent.attach(voice) if consent else voice, response)


@router.post(
    "/v1/audio/voices/design",
    tags=["voices"],
    summary="Design a voice without a recording (blend voices; adjust pitch, pace, brightness, breathiness) and "
    "save it",
    status_code=201,
    response_model=VoiceInfo,
    responses=responses(400, 404, 409),
)
async def design_voice(body: VoiceDesign, state: State, response: Response) -> VoiceInfo:
    if body.name is None:
        raise ApiError(400, "name is required to save a designed voice (or use .../design/preview)", param="name")
    name = check_voice_name(body.name)
    library = state.tts.voices
    await run_in_threadpool(refuse_taken_name, library, name)
    voice = await run_in_threadpool(_designed, state, body, name)
    return await _save(library, voice, response)


@router.post(
    "/v1/audio/voices/design/preview",
    tags=["voices"],
    summary="Hear a designed voice before saving it: speaks `input` (WAV), saves nothing",
    response_class=Response,
    responses={200: {"content": {"audio/wav": {}}}, **responses(400, 404, 429, 503)},
)
async def preview_design(body: VoiceDesign, state: State) -> Response:
    started = time.perf_counter()
    if not body.input or not body.input.strip():
        raise ApiError(400, "input (the text to speak) is required for a preview", param="input")
    voice = await run_in_threadpool(_designed, state, body, "preview")
    speech = await start_speech(state, body.input, voice)
    audio = await collect_audio(state, speech.job, "design_preview", started)
    wav = await run_in_threadpool(encode, audio, state.tts.sample_rate, "wav")
    return Response(wav, media_type=FORMATS["wav"], headers=speech.headers)


def _designed(state: ServerState, body: VoiceDesign, name: str) -> Voice:
    """The designed voice a request describes (blend parts may be OpenAI aliases); 400 for bad settings."""
    adjust = Design(pitch=body.pitch, pace=body.pace, brightness=body.brightness, breathiness=body.breathiness)
    return state.tts.design(state.voice(body.source), adjust, name=name, description=body.description)


@router.post(
    "/v1/audio/voices/import",
    tags=["voices"],
    summary="Import a .voice file (from GET /v1/audio/voices/{name}/export) into the library",
    status_code=201,
    response_model=VoiceInfo,
    responses=responses(400, 409, 413),
)
async def import_voice(
    state: State,
    response: Response,
    file: Annotated[UploadFile, File(description="A Parrot .voice file")],
    name: Annotated[
        str | None, Form(description=f"Save it under this name instead of its own: {VOICE_NAME_HELP}")
    ] = None,
) -> VoiceInfo:
    name = check_voice_name(name) if name is not None and name.strip() else None
    data = await read_upload(state.settings, file, "file")
    try:
        voice = await run_in_threadpool(lambda: decode_voice_file(data, name=name))
    except InputError as exc:
        raise ApiError(400, f"file: {exc}", code="invalid_voice_file", param="file") from exc
    engine = state.tts.engine.name
    if voice.engine != engine:
        raise ApiError(
            400,
            f"file: this voice was made for the {voice.engine} engine; this server runs {engine}",
            code="invalid_voice_file",
            param="file",
        )
    return await _save(state.tts.voices, voice, response)


@router.get(
    "/v1/audio/voices/{name}/export",
    tags=["voices"],
    summary="Download a voice as a shareable .voice file (import it with POST /v1/audio/voices/import)",
    response_class=Response,
    responses={
        200: {"content": {"application/zip": {}}, "description": "The .voice file (a zip archive)"},
        **responses(400, 404),
    },
)
async def export_voice(name: str, state: State) -> Response:
    name = check_voice_name(name)
    voice = await run_in_threadpool(state.voice, name)
    data = await run_in_threadpool(state.tts.voices.export, voice.name)
    return Response(
        data,
        media_type="application/zip",
        headers={"Content-Disposition": _attachment(f"{voice.name}.voice")},
    )


@router.patch(
    "/v1/audio/voices/{name}",
    tags=["voices"],
    summary="Rename a saved voice (built-in voices cannot be renamed)",
    response_model=VoiceInfo,
    responses=responses(400, 403, 404, 409),
)
async def rename_voice(name: str, body: VoiceRename, state: State) -> VoiceInfo:
    name = check_voice_name(name)
    new = check_voice_name(body.name)
    library = state.tts.voices
    try:
        renamed = await run_in_threadpool(library.rename, name, new)
    except UnknownVoiceError as exc:
        raise ApiError(404, str(exc), code=exc.kind, param="name") from exc
    return voice_info(renamed)


@router.delete(
    "/v1/audio/voices/{name}",
    tags=["voices"],
    summary="Delete a saved voice (built-in voices cannot be deleted)",
    status_code=204,
    responses=responses(400, 403, 404),
)
async def delete_voice(name: str, state: State) -> Response:
    name = check_voice_name(name)
    library = state.tts.voices
    try:
        await run_in_threadpool(library.delete, name)
    except UnknownVoiceError as exc:
        raise ApiError(404, str(exc), code=exc.kind, param="name") from exc
    return Response(status_code=204)


def voice_info(voice: Voice) -> VoiceInfo:
    meta = voice.meta or {}
    transcript = meta.get("transcript")
    notes = meta.get("notes")
    consent = consent_of(voice)
    design = meta.get("design")
    return VoiceInfo(
        **voice.info(),
        transcript=transcript if isinstance(transcript, str) else None,
        notes=[str(n) for n in notes] if isinstance(notes, list) else [],
        consent=ConsentInfo(**consent.as_meta()) if consent else None,
        design=design if isinstance(design, dict) else None,
    )


async def _save(library: VoiceLibrary, voice: Voice, response: Response) -> VoiceInfo:
    """Save a new voice (409 if its name was taken meanwhile) and point ``Location`` at it."""
    saved = await run_in_threadpool(library.save, voice)
    response.headers["Location"] = f"/v1/audio/voices/{quote(saved.name)}"
    return voice_info(saved)


def _attachment(filename: str) -> str:
    """``Content-Disposition`` for a download, with an ASCII fallback for non-ASCII names (RFC 6266)."""
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
