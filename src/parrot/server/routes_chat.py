"""Voice chat routes: ``POST /v1/audio/chat`` (one turn) and ``WebSocket /v1/realtime`` (a live
conversation; the protocol is in ``realtime.py``)."""

from __future__ import annotations

import base64
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, File, Form, UploadFile, WebSocket
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocketDisconnect

from ..api import check_speed, check_text_length
from ..asr import ASR_SAMPLE_RATE
from ..audio import FORMATS, AudioError, encode
from ..chat import runtime
from ..chat.pipeline import ChatEvent, Transcribed, collect
from ..chat.vad import trim_to_speech
from ..errors import InputError
from ..text.segment import check_language
from .errors import checked
from .realtime import RealtimeSession
from .schemas import ApiError, responses
from .session import SessionClosed
from .state import State
from .uploads import decode_upload
from .voicechat import new_chat_session

router = APIRouter()
log = logging.getLogger("uvicorn.error")

MAX_TURN_SECONDS = 120.0  # longest accepted recording for one HTTP turn
ChatFormat = Literal["wav", "mp3", "flac", "opus", "aac", "pcm", "json"]


@router.get(
    "/v1/audio/chat/status",
    tags=["chat"],
    summary="Whether voice chat can answer now: its language model, and the embedded runtime's build progress",
)
async def chat_status(state: State) -> dict[str, object]:
    chat = state.conversations.settings
    if chat.llm_base_url:  # a language model server: nothing to build here
        return {"ready": True, "llm": chat.llm_description, "runtime": None}
    current = await run_in_threadpool(runtime.status, state.tts.settings.data_dir)
    return {"ready": current.state == "ready", "llm": chat.llm_description, "runtime": current.as_dict()}


@router.post(
    "/v1/audio/chat",
    tags=["chat"],
    summary="Voice chat, one turn: a spoken (or typed) question in, the answer spoken in the chosen voice",
    response_model=None,
    responses={
        200: {
            "description": "The spoken answer in `response_format` (headers `X-Parrot-Transcript` and "
            "`X-Parrot-Reply`, percent-encoded UTF-8, and `X-Parrot-Timings`, JSON); with `json`: "
            "`{transcript, language, reply, audio (base64 WAV), sample_rate, timings, session_id}`",
            "content": {**{FORMATS[f].split(";")[0]: {} for f in ("wav", "mp3", "flac")}, "application/json": {}},
        },
        **responses(400, 404, 413, 429, 502, 503),
    },
)
async def voice_chat(
    state: State,
    file: Annotated[UploadFile | None, File(description="The question, spoken (any audio format)")] = None,
    text: Annotated[str | None, Form(description="Or the question typed (instead of file)")] = None,
    voice: Annotated[str | None, Form(description="Voice of the answer (default: PARROT_CHAT_VOICE)")] = None,
    instructions: Annotated[str | None, Form(description="System prompt for this turn")] = None,
    language: Annotated[str | None, Form(description="zh or en to skip language detection")] = None,
    speed: Annotated[float, Form(description="Speaking rate of the answer, 0.5-2.0")] = 1.0,
    response_format: Annotated[ChatFormat, Form()] = "wav",
    session_id: Annotated[str | None, Form(description="Keep a conversation's memory across calls")] = None,
) -> Response:
    if (file is None) == (text is None or not text.strip()):
        raise ApiError(400, "send either a recording as 'file' or a typed question as 'text'", param="file")
    language = checked(check_language, language, "language")
    speed = checked(check_speed, speed, "speed")
    if text is not None:
        checked(lambda t: check_text_length(t, state.settings.max_text_chars), text, "text")
    session = await new_chat_session(state, voice=voice, instructions=instructions, speed=speed)
    if session_id:
        session.history = state.conversations.history(session_id)
    try:
        if file is not None:
            audio, _ = await decode_upload(
                state.settings, file, "file", sample_rate=ASR_SAMPLE_RATE, max_seconds=MAX_TURN_SECONDS
            )
            try:
                speech = await run_in_threadpool(trim_to_speech, audio)
            except AudioError as exc:
                raise ApiError(400, f"file: {exc}", code="no_speech", param="file") from exc
            events: AsyncIterator[ChatEvent] = session.turn(speech, language=language)
        else:
            events = session.reply(text or "", language)
        seen, answer, done = await collect(events)
    except InputError as exc:
        raise ApiError(400, str(exc), code="no_speech" if file is not None else exc.kind, param="file") from exc
    if session_id:
        state.conversations.remember(session_id, session.history)
    heard = next((e for e in seen if isinstance(e, Transcribed)), None)
    rate = state.tts.sample_rate
    if response_format == "json":
        return JSONResponse(
            {
                "transcript": done.transcript,
                "language": heard.language if heard else language,
                "reply": done.reply,
                "audio": base64.b64encode(await run_in_threadpool(encode, answer, rate, "wav")).decode(),
                "format": "wav",
                "sample_rate": rate,
                "timings": done.timings.as_dict(),
                "session_id": session_id,
            }
        )
    headers = {
        "X-Parrot-Transcript": quote(done.transcript),
        "X-Parrot-Reply": quote(done.reply),
        "X-Parrot-Timings": json.dumps(done.timings.as_dict(), separators=(",", ":")),
        "X-Parrot-Sample-Rate": str(rate),
    }
    data = await run_in_threadpool(encode, answer, rate, response_format)
    return Response(data, media_type=FORMATS[response_format], headers=headers)


@router.websocket("/v1/realtime")
async def realtime(ws: WebSocket, state: State) -> None:
    """A live voice conversation; see this module's docstring for the protocol."""
    await ws.accept()
    session = RealtimeSession(ws, state)
    state.metrics.websocket_sessions.inc()
    try:
        await session.start()
        await session.receive_loop()
    except (SessionClosed, WebSocketDisconnect):
        pass
    except Exception:
        log.exception("voice chat session failed")
    finally:
        with contextlib.suppress(Exception):
            await session.cancel_response()
        await session.close()
        state.metrics.websocket_sessions.dec()
