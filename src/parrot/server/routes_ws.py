"""``WebSocket /v1/audio/speech/stream``: speak text while it is still being written (e.g. LLM tokens).

Client -> server, JSON text frames:

* ``{"type": "session.update", "voice": .., "speed": .., "lang": .., "instructions": .., "response_format": "pcm"}``
  (optional,
  any subset; applies to text sent afterwards, ``response_format`` from the next utterance on)
* ``{"type": "text.delta", "text": "..."}``: more text
* ``{"type": "text.done"}``: no more text for now: speak the rest, then ``audio.done``
* ``{"type": "cancel"}``: stop at once and discard text and audio not yet sent

Server -> client, JSON text frames:

* ``{"type": "session.updated", "session": {...}}``
* ``{"type": "audio.delta", "audio": "<base64>", "text": "...", "sample_rate": 24000}``: audio in the
  session's ``response_format`` (default ``pcm``: 16-bit little-endian mono). ``text`` is the phrase this
  audio begins, on its first delta, and "" on the deltas that continue it.
* ``{"type": "warning", "message": "..."}``: part of the request cannot be followed (once per distinct message)
* ``{"type": "audio.done"}`` after ``text.done``, once all audio is sent
* ``{"type": "audio.cancelled"}`` acknowledges ``cancel``
* ``{"type": "error", "error": {"message", "type", "param", "code"}}``; the session stays open unless the
  server is shutting down (then it closes with code 1013).

Text is cut into phrases by ``parrot.text.phrases.split_phrases`` (sentence ends, and commas in long
runs). Each phrase becomes a scheduler job as soon as it is complete;
at most ``PIPELINE`` jobs per session run at once, the rest wait their turn in order. Closing the socket
or ``cancel`` cancels the jobs immediately.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import time
from collections import deque
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketState

from ..api import MAX_SPEED, MIN_SPEED
from ..audio import FORMATS, StreamEncoder
from ..errors import InputError
from ..instruct import parse_instruction
from ..text.phrases import split_phrases
from ..text.segment import check_language
from .app import Piece, ServerState, State, to_api_error
from .scheduler import Job, QueueFull
from .schemas import ApiError

router = APIRouter()
log = logging.getLogger("uvicorn.error")

PIPELINE = 2  # jobs one session may have in the scheduler at once
ADMISSION_WAIT = 30.0  # seconds a phrase waits for a free slot before it is dropped with an error


@dataclass(frozen=True)
class _Options:
    voice: str | None = None
    speed: float = 1.0
    lang: str | None = None
    instructions: str | None = None
    response_format: str = "pcm"


@dataclass
class _Phrase:
    text: str
    options: _Options
    queued: float = field(default_factory=time.perf_counter)


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
                await self.handle(parse_message(message, self.binary_hint))
            except Exception as exc:
                await self.send_error(exc)

    async def send_error(self, exc: BaseException) -> ApiError:
        """Report ``exc`` to the client as an ``error`` message; returns it."""
        error = to_api_error(exc)
        self.state.count_error(error)
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


class _Session(JsonSession):
    """One connection's text buffer, phrase queue and jobs; everything runs on the event loop."""

    def __init__(self, ws: WebSocket, state: ServerState) -> None:
        super().__init__(ws, state)
        self.rate = state.tts.sample_rate
        self.options = _Options()
        self.buffer = ""
        self.pending: deque[_Phrase] = deque()  # complete phrases not yet submitted
        self.inflight: deque[tuple[_Phrase, Job[Piece]]] = deque()
        self.text_done = False
        self.encoder: StreamEncoder | None = None
        self.generation = 0  # bumped by cancel: audio of older generations is never sent
        self.wake = asyncio.Event()
        self.warned: set[str] = set()  # warnings already sent: each is sent once per session

    # -- client -> server ----------------------------------------------------------------------------

    async def handle(self, msg: dict[str, Any]) -> None:
        kind = msg.get("type")
        if kind == "session.update":
            self.update(msg)
            await self.send({"type": "session.updated", "session": self.describe()})
        elif kind == "text.delta":
            text = msg.get("text")
            if not isinstance(text, str):
                raise InputError('text.delta needs a "text" string')
            self.add(text, final=False)
        elif kind == "text.done":
            self.add("", final=True)
        elif kind == "cancel":
            self.cancel()
            await self.send({"type": "audio.cancelled"})
        else:
            raise InputError(
                f"unknown message type {kind!r}; use session.update, text.delta, text.done or cancel"
            )

    def update(self, msg: dict[str, Any]) -> None:
        changes: dict[str, Any] = {}
        if "voice" in msg:
            changes["voice"] = self.state.voice(msg["voice"]).name if msg["voice"] else None
        if "speed" in msg:
            speed = msg["speed"]
            if (
                isinstance(speed, bool)
                or not isinstance(speed, int | float)
                or not MIN_SPEED <= speed <= MAX_SPEED
            ):
                raise InputError(f"speed {speed!r} is out of range; use {MIN_SPEED} to {MAX_SPEED}")
            changes["speed"] = float(speed)
        if "lang" in msg:
            changes["lang"] = check_language(msg["lang"])
        if "instructions" in msg:
            instructions = msg["instructions"] or None
            if instructions is not None:
                parse_instruction(instructions)  # reject bad ones now, not phrase by phrase
            changes["instructions"] = instructions
        if "response_format" in msg:
            fmt = msg["response_format"]
            if fmt not in FORMATS:
                raise InputError(f"unknown response_format {fmt!r}; use one of: {', '.join(FORMATS)}")
            changes["response_format"] = fmt
        self.options = replace(self.options, **changes)

    def describe(self) -> dict[str, Any]:
        voice = self.options.voice or self.state.tts.default_voice
        return {**asdict(self.options), "voice": voice, "sample_rate": self.rate}

    def add(self, text: str, *, final: bool) -> None:
        self.state.check_text(self.buffer + text, queued=sum(len(p.text) for p in self.pending))
        phrases, self.buffer = split_phrases(self.buffer + text, final)
        self.pending.extend(_Phrase(p, self.options) for p in phrases)
        self.text_done = self.text_done or final
        self.wake.set()

    def cancel(self) -> None:
        self.generation += 1
        for _, job in self.inflight:
            job.cancel()
        self.inflight.clear()
        self.pending.clear()
        self.buffer = ""
        self.text_done = False
        self.encoder = None
        self.wake.set()

    # -- server -> client ----------------------------------------------------------------------------

    async def send_loop(self) -> None:
        while True:
            backoff = await self.top_up()
            if self.inflight:
                await self.play(*self.inflight[0])
            elif backoff is not None:  # the server is full: wait for a slot (or new messages)
                self.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), backoff)
            elif self.text_done and not self.pending:
                self.text_done = False
                await self.finish_utterance()
            else:
                self.wake.clear()
                await self.wake.wait()

    async def top_up(self) -> float | None:
        """Submit waiting phrases while the pipeline has room; returns a wait in seconds if the server is
        full."""
        while self.pending and len(self.inflight) < PIPELINE:
            phrase = self.pending[0]
            opts = phrase.options
            try:
                speech = self.state.start_speech(
                    phrase.text, opts.voice, speed=opts.speed, lang=opts.lang, instruction=opts.instructions
                )
            except QueueFull as exc:
                if time.perf_counter() - phrase.queued < ADMISSION_WAIT:
                    return min(float(exc.retry_after), 1.0)
                self.pending.popleft()
                await self.send_error(exc)
                continue
            except Exception as exc:  # this phrase cannot be spoken; say why and go on
                self.pending.popleft()
                await self.send_error(exc)
                continue
            self.pending.popleft()
            self.inflight.append((phrase, speech.job))
            for message in speech.warnings:
                if message not in self.warned:
                    self.warned.add(message)
                    await self.send({"type": "warning", "message": message})
        return None

    async def play(self, phrase: _Phrase, job: Job[Piece]) -> None:
        generation = self.generation
        first = True
        try:
            async with contextlib.aclosing(self.state.consume(job, "websocket", phrase.queued)) as pieces:
                async for piece in pieces:
                    if generation != self.generation:
                        return
                    await self.send_audio(piece, phrase.text if first else "", phrase.options, generation)
                    first = False
                    await self.top_up()
        except SessionClosed:
            raise
        except Exception as exc:
            if generation == self.generation:
                await self.send_error(exc)
        finally:
            if generation == self.generation and self.inflight and self.inflight[0][1] is job:
                self.inflight.popleft()

    async def send_audio(self, piece: Piece, text: str, options: _Options, generation: int) -> None:
        if piece.chunk is None or generation != self.generation:
            return
        if self.encoder is None:
            self.encoder = StreamEncoder(options.response_format, self.rate)
        await self.send_delta(self.encoder.write(piece.chunk.audio), text, generation)

    async def send_delta(self, data: bytes, text: str, generation: int) -> None:
        if data:
            audio = base64.b64encode(data).decode()
            message = {"type": "audio.delta", "audio": audio, "text": text, "sample_rate": self.rate}
            await self.send(message, generation)

    async def finish_utterance(self) -> None:
        generation = self.generation
        if self.encoder is not None:
            await self.send_delta(self.encoder.close(), "", generation)
            self.encoder = None
        await self.send({"type": "audio.done"}, generation)

    async def send(self, message: dict[str, Any], generation: int | None = None) -> None:
        """Send one message; audio (``generation`` given) is dropped if a cancel came in meanwhile."""
        async with self._send_lock:
            if generation is None or generation == self.generation:
                await self._write(message)

    async def send_error(self, exc: BaseException) -> ApiError:
        """Report ``exc`` to the client; if it is fatal (server unavailable), close and raise ``SessionClosed``."""
        error = await super().send_error(exc)
        if error.status == 503:
            await self.ws.close(code=1013, reason="server unavailable")
            raise SessionClosed()
        return error


def parse_message(
    message: dict[str, Any], binary_hint: str = "send JSON text frames, not binary ones"
) -> dict[str, Any]:
    """A client's WebSocket text frame as a JSON object with a "type" (``InputError`` otherwise)."""
    text = message.get("text")
    if text is None:
        raise InputError(binary_hint)
    try:
        msg = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"message is not valid JSON ({exc.msg})") from exc
    if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
        raise InputError('each message must be a JSON object with a "type"')
    return msg


@router.websocket("/v1/audio/speech/stream")
async def speech_stream(ws: WebSocket, state: State) -> None:
    """Incremental text in, audio out; see this module's docstring for the protocol."""
    await ws.accept()
    session = _Session(ws, state)
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
