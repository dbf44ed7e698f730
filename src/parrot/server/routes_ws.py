"""``WebSocket /v1/audio/speech/stream``: speak text while it is still being written (protocol in
``speech_stream.py``)."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect

from .session import SessionClosed
from .speech_stream import SpeechStreamSession
from .state import State

router = APIRouter()
log = logging.getLogger("uvicorn.error")


@router.websocket("/v1/audio/speech/stream")
async def speech_stream(ws: WebSocket, state: State) -> None:
    """Incremental text in, audio out; see this module's docstring for the protocol."""
    await ws.accept()
    session = SpeechStreamSession(ws, state)
    state.metrics.websocket_sessions.inc()
    tasks = [asyncio.create_task(session.receive_loop()), asyncio.create_task(session.send_loop())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        session.cancel()
        for task in tasks:
            task.cancel()
        for result in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(result, Exception) and not isinstance(
                result, SessionClosed | WebSocketDisconnect | OSError
            ):
                log.error("WebSocket session failed", exc_info=result)
        await session.close()
        state.metrics.websocket_sessions.dec()
