"""A WebSocket conversation in JSON text frames: the part the speech stream and the realtime chat share."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from fastapi import WebSocket
from starlette.websockets import WebSocketState

from ..errors import InputError
from .errors import to_api_error
from .schemas import ApiError
from .state import ServerState

log = logging.getLogger("uvicorn.error")


class SessionClosed(Exception):
    """The session cannot go on after a fatal error (already reported to the client)."""


class JsonSession:
    """A WebSocket conversation in JSON text frames: each client message goes to ``handle`` (one that fails
    is answered with an ``error`` message, and the session goes on); messages are sent one at a time;
    errors take OpenAI's shape. The speech stream and the realtime chat are both one."""

    binary_hint = "send JSON text frames, not binary ones"

    def __init__(self, ws: WebSocket, state: ServerState) -> None:
        self.ws = ws
        self.state = state
        self._send_lock = asyncio.Lock()

    async def handle(self, msg: dict[str, Any]) -> None:
        raise NotImplementedError

    async def send(self, message: dict[str, Any]) -> None:
        raise NotImplementedError

    async def receive_loop(self) -> None:
        while True:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            try:
                await self.handle(parse_message(message, self.binary_hint, self.state.settings.max_json_bytes))
            except Exception as exc:
                await self.send_error(exc)

    async def send_error(self, exc: BaseException) -> ApiError:
        """Report ``exc`` to the client as an ``error`` message; returns it."""
        error = to_api_error(exc)
        self.state.count_error(error)
        if error.code == "internal_error":  # a bug, not the client's mistake: keep the details for the log
            log.error("WebSocket message failed", exc_info=exc)
        await self.send({"type": "error", **error.body()})
        return error

    async def close(self) -> None:
        """Close the socket, unless either end already has."""
        ws = self.ws
        if ws.client_state == WebSocketState.CONNECTED and ws.application_state == WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await ws.close()

    async def _write(self, message: dict[str, Any]) -> None:
        """Send ``message`` now (the caller holds ``_send_lock``)."""
        await self.ws.send_text(json.dumps(message, ensure_ascii=False, separators=(",", ":")))


def parse_message(
    message: dict[str, Any], binary_hint: str = "send JSON text frames, not binary ones", max_chars: int = 1 << 20
) -> dict[str, Any]:
    """A client's WebSocket text frame as a JSON object with a "type" (``InputError`` otherwise)."""
    text = message.get("text")
    if text is None:
        raise InputError(binary_hint)
    if len(text) > max_chars:
        raise InputError(f"message is {len(text):,} characters; the limit is {max_chars:,}: send text in pieces")
    try:
        msg = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"message is not valid JSON ({exc.msg})") from exc
    except RecursionError as exc:
        raise InputError("message is nested too deeply") from exc
    if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
        raise InputError('each message must be a JSON object with a "type"')
    return msg
