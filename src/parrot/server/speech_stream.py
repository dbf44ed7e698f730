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

Text is cut into phrases by ``parrot.text.phrases.PhraseCutter`` (sentence ends, and commas in long
runs). Each phrase becomes a scheduler job as soon as it is complete;
at most ``PIPELINE`` jobs per session run at once, the rest wait their turn in order. Closing the socket
or ``cancel`` cancels the jobs immediately.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
from collections import deque
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from fastapi import WebSocket

from ..api import check_speed, check_text_length
from ..audio import FORMATS, StreamEncoder
from ..delivery.instruct import parse_instruction
from ..errors import InputError
from ..text.phrases import PhraseCutter
from ..text.segment import check_language
from .scheduler import Job, QueueFull
from .schemas import ApiError
from .session import JsonSession, SessionClosed
from .speech import ADMISSION_WAIT, AudioStep, consume, off_loop, start_speech
from .state import ServerState

PIPELINE = 2  # jobs one session may have in the scheduler at once


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


class SpeechStreamSession(JsonSession):
    """One connection's text buffer, phrase queue and jobs. The event loop only moves messages: phrase
    cutting, text preparation and audio encoding run in worker threads."""

    def __init__(self, ws: WebSocket, state: ServerState) -> None:
        super().__init__(ws, state)
        self.rate = state.tts.sample_rate
        self.options = _Options()
        self.cutter = PhraseCutter()  # the text not yet cut into phrases
        self.pending: deque[_Phrase] = deque()  # complete phrases not yet submitted
        self.inflight: deque[tuple[_Phrase, Job[AudioStep]]] = deque()
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
            await self.add(text, final=False)
        elif kind == "text.done":
            await self.add("", final=True)
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
            changes["speed"] = check_speed(msg["speed"])
        if "lang" in msg:
            changes["lang"] = check_language(msg["lang"])
        if "instructions" in msg:
            instructions = msg["instructions"] or None
            if instructions is not None:
                parse_instruction(instructions)  # reject bad ones now, not phrase by phrase
            changes["instructions"] = instructions
        if "response_format" in msg:
            fmt = msg["response_format"]
            if not isinstance(fmt, str) or fmt not in FORMATS:
                raise InputError(f"unknown response_format {fmt!r}; use one of: {', '.join(FORMATS)}")
            changes["response_format"] = fmt
        self.options = replace(self.options, **changes)

    def describe(self) -> dict[str, Any]:
        voice = self.options.voice or self.state.tts.default_voice
        return {**asdict(self.options), "voice": voice, "sample_rate": self.rate}

    async def add(self, text: str, *, final: bool) -> None:
        queued = len(self.cutter.buffer) + sum(len(p.text) for p in self.pending)
        check_text_length(text, self.state.settings.max_text_chars, queued=queued)
        cutter = self.cutter
        phrases = await off_loop(self.state, cutter.flush if final else lambda: cutter.feed(text))
        self.pending.extend(_Phrase(p, self.options) for p in phrases)
        self.text_done = self.text_done or final
        self.wake.set()

    def cancel(self) -> None:
        self.generation += 1
        for _, job in self.inflight:
            job.cancel()
        self.inflight.clear()
        self.pending.clear()
        self.cutter = PhraseCutter()
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
                with contextlib.suppress(TimeoutError):  # (wait_for could swallow a cancel on 3.11)
                    async with asyncio.timeout(backoff):
                        await self.wake.wait()
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
            phrase, generation = self.pending[0], self.generation
            opts = phrase.options
            try:
                speech = await start_speech(
                    self.state, phrase.text, opts.voice, speed=opts.speed, lang=opts.lang, instruction=opts.instructions
                )
            except QueueFull as exc:
                if generation != self.generation:
                    return None
                if time.perf_counter() - phrase.queued < ADMISSION_WAIT:
                    return min(float(exc.retry_after), 1.0)
                self.pending.popleft()
                await self.send_error(exc)
                continue
            except Exception as exc:  # this phrase cannot be spoken; say why and go on
                if generation != self.generation:
                    return None
                self.pending.popleft()
                await self.send_error(exc)
                continue
            if generation != self.generation:  # cancelled while the text was being prepared
                speech.job.cancel()
                return None
            self.pending.popleft()
            self.inflight.append((phrase, speech.job))
            for message in speech.warnings:
                if message not in self.warned:
                    self.warned.add(message)
                    await self.send({"type": "warning", "message": message})
        return None

    async def play(self, phrase: _Phrase, job: Job[AudioStep]) -> None:
        generation = self.generation
        first = True
        try:
            async with contextlib.aclosing(consume(self.state, job, "websocket", phrase.queued)) as pieces:
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

    async def send_audio(self, piece: AudioStep, text: str, options: _Options, generation: int) -> None:
        if piece.chunk is None or generation != self.generation:
            return
        if self.encoder is None:
            self.encoder = StreamEncoder(options.response_format, self.rate)
        data = await asyncio.to_thread(self.encoder.write, piece.chunk.audio)
        await self.send_delta(data, text, generation)

    async def send_delta(self, data: bytes, text: str, generation: int) -> None:
        if data:
            audio = base64.b64encode(data).decode()
            message = {"type": "audio.delta", "audio": audio, "text": text, "sample_rate": self.rate}
            await self.send(message, generation)

    async def finish_utterance(self) -> None:
        generation = self.generation
        if self.encoder is not None:
            await self.send_delta(await asyncio.to_thread(self.encoder.close), "", generation)
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
