"""Voice chat: ``POST /v1/audio/chat`` (one turn) and ``WebSocket /v1/realtime`` (a live conversation).

The WebSocket speaks a subset of OpenAI's Realtime API (JSON text frames, audio as base64 16-bit mono PCM).

Client -> server:

* ``session.update`` ``{"session": {"voice", "instructions", "speed", "language", "input_sample_rate",
  "turn_detection": {"type": "server_vad" | "none", "threshold", "silence_duration_ms",
  "prefix_padding_ms"}}}`` (any subset; ``input_sample_rate`` defaults to 24000 as in OpenAI's API)
* ``input_audio_buffer.append`` ``{"audio": base64 pcm16}``: microphone audio as it is captured
* ``input_audio_buffer.commit`` (the user is done: answer now) and ``input_audio_buffer.clear``
* ``conversation.item.create`` with a user message (``{"item": {"type": "message", "role": "user",
  "content": [{"type": "input_text", "text": "..."}]}}``) then ``response.create``: a typed turn
* ``response.cancel``: stop the answer being spoken
* ``conversation.item.truncate`` ``{"item_id": response id, "content_index": 0, "audio_end_ms"}``: the
  client stopped playing that answer after ``audio_end_ms`` of its audio (barge-in while audio made
  faster than real time was still queued): the conversation's memory keeps only the phrases begun by
  then. Answered with ``conversation.item.truncated``.

Server -> client: ``session.created``/``session.updated``, ``input_audio_buffer.speech_started`` /
``speech_stopped`` / ``committed`` / ``cleared``, ``conversation.item.input_audio_transcription.completed``
``{"transcript", "language"}``, ``response.created``, ``response.text.delta`` ``{"delta"}`` (the model's
text as written), ``response.audio_transcript.delta`` (the phrase the next audio speaks),
``response.audio.delta`` ``{"delta": base64 pcm16 at output_sample_rate}``, ``response.audio.done``,
``response.text.done``, ``response.done`` ``{"response": {"id", "status": completed|cancelled|failed,
"output_text", "transcript", "timings"}}``, and ``error`` ``{"error": {...}}``.

With server VAD (the default) the end of the user's turn is found by Silero VAD after
``silence_duration_ms`` of silence, and the answer starts at once. When the user starts speaking while an
answer is being made or played (``speech_started``), the answer is cancelled (barge-in): the client
should stop its playback on ``speech_started``, and send ``conversation.item.truncate`` saying how much
it played. The user's words are always transcribed, even when their turn is cancelled before its answer
began; their transcript then arrives late, and they are put in front of the next question.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from fastapi import WebSocket
from starlette.websockets import WebSocketState

from ..api import check_speed
from ..asr import ASR_SAMPLE_RATE
from ..audio import StreamResampler, to_pcm16
from ..chat.pipeline import ChatEvent, ChatSession, EarlyTranscript, ReplyAudio, ReplyDelta, Transcribed, TurnDone
from ..chat.vad import SpeechPaused, SpeechStarted, TurnConfig, TurnDetector, VadEvent
from ..errors import InputError
from ..text.segment import check_language
from .session import JsonSession, SessionClosed
from .state import ServerState
from .voicechat import new_chat_session


@dataclass(frozen=True)
class _Options:
    voice: str | None = None
    instructions: str | None = None
    speed: float = 1.0
    language: str | None = None
    input_sample_rate: int = 24_000
    server_vad: bool = True


@dataclass
class _Sent:
    """The latest response's audio as sent to the client: where each phrase begins, in ms from its start."""

    response_id: str = ""
    phrase_starts: list[float] = field(default_factory=list)
    ms: float = 0.0

    def add(self, event: ReplyAudio) -> None:
        if event.text:
            self.phrase_starts.append(self.ms)
        self.ms += len(event.audio) * 1000 / event.sample_rate

    def phrases_begun(self, audio_end_ms: int) -> int:
        return sum(1 for start in self.phrase_starts if start < audio_end_ms)


class RealtimeSession(JsonSession):
    """One WebSocket conversation: microphone audio -> VAD -> turns of the chat session, with barge-in."""

    binary_hint = "send JSON text frames (audio goes base64-encoded in input_audio_buffer.append)"

    def __init__(self, ws: WebSocket, state: ServerState) -> None:
        super().__init__(ws, state)
        self.options = _Options()
        self.turns = TurnConfig()
        self.detector: TurnDetector | None = None
        self.resampler: StreamResampler | None = None
        self.chat: ChatSession | None = None
        self.early: EarlyTranscript | None = None
        self.response: asyncio.Task[None] | None = None
        self.sent = _Sent()
        self.pending_text: str | None = None

    async def start(self) -> None:
        chat = self.state.conversations.settings
        self.options = replace(self.options, voice=self.state.voice(chat.voice).name)
        try:
            self.chat = await new_chat_session(self.state, voice=self.options.voice, instructions=None, speed=1.0)
        except Exception as exc:
            await self.send_error(exc)
            raise SessionClosed() from exc
        self.detector = await asyncio.to_thread(TurnDetector, self.turns)
        self.early = EarlyTranscript(self.chat)
        await self.send({"type": "session.created", "session": self.describe()})

    def describe(self) -> dict[str, Any]:
        assert self.chat is not None
        return {
            "model": self.state.conversations.settings.llm_description,
            "voice": self.options.voice,
            "instructions": self.chat.system_prompt,
            "speed": self.options.speed,
            "language": self.options.language,
            "input_audio_format": "pcm16",
            "input_sample_rate": self.options.input_sample_rate,
            "output_audio_format": "pcm16",
            "output_sample_rate": self.state.tts.sample_rate,
            "turn_detection": {
                "type": "server_vad" if self.options.server_vad else "none",
                "threshold": self.turns.threshold,
                "silence_duration_ms": self.turns.silence_ms,
                "prefix_padding_ms": self.turns.prefix_ms,
            },
        }

    # -- client -> server -----------------------------------------------------------------------------

    async def handle(self, msg: dict[str, Any]) -> None:
        kind = msg["type"]
        if kind == "input_audio_buffer.append":
            await self.append(msg.get("audio"))
        elif kind == "session.update":
            self.update(msg.get("session", msg))
            await self.send({"type": "session.updated", "session": self.describe()})
        elif kind == "input_audio_buffer.commit":
            await self.commit()
        elif kind == "input_audio_buffer.clear":
            assert self.detector is not None
            self.detector.reset()
            await self.send({"type": "input_audio_buffer.cleared"})
        elif kind == "conversation.item.create":
            self.pending_text = _user_text(msg.get("item"))
            await self.send({"type": "conversation.item.created", "item": msg.get("item")})
        elif kind == "response.create":
            if not self.pending_text:
                raise InputError("nothing to answer: send conversation.item.create with a user message first")
            text, self.pending_text = self.pending_text, None
            await self.start_response(text, time.perf_counter())
        elif kind == "response.cancel":
            await self.cancel_response()
        elif kind == "conversation.item.truncate":
            await self.truncate(msg.get("item_id"), msg.get("audio_end_ms"))
        else:
            raise InputError(
                f"unknown event type {kind!r}; use session.update, input_audio_buffer.append/commit/clear, "
                "conversation.item.create, conversation.item.truncate, response.create or response.cancel"
            )

    async def truncate(self, item_id: Any, audio_end_ms: Any) -> None:
        rid = self.sent.response_id
        if not item_id or item_id != rid:
            latest = rid or "none yet"
            raise InputError(f"conversation.item.truncate: item_id must be the latest response's id ({latest})")
        if isinstance(audio_end_ms, bool) or not isinstance(audio_end_ms, int) or audio_end_ms < 0:
            raise InputError("conversation.item.truncate: audio_end_ms must be a whole number of milliseconds >= 0")
        assert self.chat is not None
        await self.cancel_response()  # the client stopped playing it, so the rest is not wanted
        if self.sent.phrase_starts:  # else nothing of it was remembered
            self.chat.truncate_reply(self.sent.phrases_begun(audio_end_ms))
        await self.send({
            "type": "conversation.item.truncated", "item_id": rid, "content_index": 0, "audio_end_ms": audio_end_ms,
        })  # fmt: skip

    def update(self, session: Any) -> None:
        if not isinstance(session, dict):
            raise InputError('session.update needs a "session" object')
        assert self.chat is not None
        changes: dict[str, Any] = {}
        if session.get("voice"):
            changes["voice"] = self.state.voice(session["voice"]).name
        if "speed" in session:
            changes["speed"] = check_speed(session["speed"])
        if "language" in session:
            changes["language"] = check_language(session["language"] or None)
        if "input_sample_rate" in session:
            rate = session["input_sample_rate"]
            if not isinstance(rate, int) or not 8_000 <= rate <= 96_000:
                raise InputError("input_sample_rate must be an integer from 8000 to 96000")
            changes["input_sample_rate"] = rate
        if "turn_detection" in session:
            self._turn_detection(session["turn_detection"], changes)
        self.options = replace(self.options, **changes)
        if "instructions" in session:
            prompt = str(session["instructions"] or "").strip()
            self.chat.system_prompt = prompt or self.state.conversations.settings.system_prompt
        self.chat.voice, self.chat.speed = self.options.voice, self.options.speed
        if self.early is not None:
            self.early.language = self.options.language
        if "input_sample_rate" in changes:
            self.resampler = None

    def _turn_detection(self, value: Any, changes: dict[str, Any]) -> None:
        if value is None or (isinstance(value, dict) and value.get("type") == "none"):
            changes["server_vad"] = False
            return
        if not isinstance(value, dict):
            raise InputError('turn_detection must be an object like {"type": "server_vad"} or null')
        fields = {"threshold": "threshold", "silence_duration_ms": "silence_ms", "prefix_padding_ms": "prefix_ms"}
        try:
            tuned = {ours: value[theirs] for theirs, ours in fields.items() if theirs in value}
            release = min(self.turns.release, tuned.get("threshold", self.turns.threshold))
            self.turns = replace(self.turns, **tuned, release=release)
        except (TypeError, ValueError) as exc:
            raise InputError(f"turn_detection: {exc}") from exc
        assert self.detector is not None
        self.detector.config = self.turns
        changes["server_vad"] = True

    async def append(self, data: Any) -> None:
        if not isinstance(data, str):
            raise InputError('input_audio_buffer.append needs "audio": base64-encoded 16-bit PCM')
        try:
            raw = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InputError("input_audio_buffer.append: audio is not valid base64") from exc
        if len(raw) % 2:
            raise InputError("input_audio_buffer.append: 16-bit PCM needs an even number of bytes")
        samples = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
        rate = self.options.input_sample_rate
        if rate != ASR_SAMPLE_RATE:
            if self.resampler is None:
                self.resampler = StreamResampler(rate, ASR_SAMPLE_RATE)
            samples = self.resampler(samples)
        assert self.detector is not None
        for event in self.detector.push(samples):
            await self.on_vad(event)

    async def on_vad(self, event: VadEvent) -> None:
        assert self.early is not None
        self.early.observe(event)  # transcription starts while the VAD waits out the silence
        if isinstance(event, SpeechPaused):
            return
        if isinstance(event, SpeechStarted):
            await self.send({"type": "input_audio_buffer.speech_started", "audio_start_ms": int(event.at * 1000)})
            if self.options.server_vad:
                await self.cancel_response()  # barge-in
            return
        await self.send({"type": "input_audio_buffer.speech_stopped", "audio_end_ms": int(event.end * 1000)})
        if self.options.server_vad:
            assert self.detector is not None
            lag = max(0.0, self.detector.position - event.end)  # the silence waited for, and buffering
            await self.send({"type": "input_audio_buffer.committed"})
            await self.start_response(event.audio, time.perf_counter() - lag, self.early.take(event))

    async def commit(self) -> None:
        assert self.detector is not None
        event = self.detector.commit()
        if event is None:
            raise InputError("the input audio buffer holds no speech; nothing to answer")
        await self.send({"type": "input_audio_buffer.committed"})
        await self.start_response(event.audio, time.perf_counter())

    # -- responses ------------------------------------------------------------------------------------

    async def start_response(
        self, source: np.ndarray | str, started: float, heard: asyncio.Future[Transcribed] | None = None
    ) -> None:
        await self.cancel_response()
        rid = f"resp_{uuid.uuid4().hex[:16]}"
        self.response = asyncio.create_task(self.respond(source, started, rid, heard))

    async def cancel_response(self) -> None:
        task, self.response = self.response, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait([task])

    async def respond(
        self, source: np.ndarray | str, started: float, rid: str, heard: asyncio.Future[Transcribed] | None = None
    ) -> None:
        assert self.chat is not None
        self.sent = _Sent(rid)
        if isinstance(source, str):
            await self.send_created(rid)
            events = self.chat.reply(source, self.options.language, started=started)
        else:  # response.created follows the transcript, so clients can show the question first
            events = self.chat.turn(
                source, language=self.options.language, speech_end=started, heard=heard, late=self.late_transcript
            )
        transcript = source if isinstance(source, str) else ""
        written: list[str] = []
        try:
            async with contextlib.aclosing(events) as stream:
                async for event in stream:
                    transcript = await self.forward(event, rid, transcript, written)
        except asyncio.CancelledError:
            await self.send_done(rid, "cancelled", transcript, "".join(written))
            raise
        except Exception as exc:
            await self.send_error(exc)
            await self.send_done(rid, "failed", transcript, "".join(written), error=str(exc))

    def late_transcript(self, heard: Transcribed) -> None:
        """The transcript of a turn cancelled before it was ready (the user went on speaking)."""
        task = asyncio.ensure_future(self.send_transcript(heard))
        task.add_done_callback(lambda t: t.cancelled() or t.exception())  # a closed socket is no news

    async def send_transcript(self, heard: Transcribed) -> None:
        await self.send({
            "type": "conversation.item.input_audio_transcription.completed",
            "transcript": heard.text,
            "language": heard.language,
        })  # fmt: skip

    async def forward(self, event: ChatEvent, rid: str, heard: str, written: list[str]) -> str:
        """Send one pipeline event to the client; returns the transcript so far."""
        if isinstance(event, Transcribed):
            await self.send_transcript(event)
            await self.send_created(rid)
            return event.text
        if isinstance(event, ReplyDelta):
            written.append(event.text)
            await self.send({"type": "response.text.delta", "response_id": rid, "delta": event.text})
        elif isinstance(event, ReplyAudio):
            self.sent.add(event)
            if event.text:
                await self.send({"type": "response.audio_transcript.delta", "response_id": rid, "delta": event.text})
            audio = base64.b64encode(to_pcm16(event.audio)).decode()
            await self.send({"type": "response.audio.delta", "response_id": rid, "delta": audio})
        elif isinstance(event, TurnDone):
            await self.send({"type": "response.audio.done", "response_id": rid})
            await self.send({"type": "response.text.done", "response_id": rid, "text": event.reply})
            await self.send_done(rid, "completed", event.transcript, event.reply, timings=event.timings.as_dict())
        return heard

    async def send_created(self, rid: str) -> None:
        await self.send({"type": "response.created", "response": {"id": rid, "status": "in_progress"}})

    async def send_done(self, rid: str, status: str, transcript: str, text: str, **extra: Any) -> None:
        response = {"id": rid, "status": status, "transcript": transcript, "output_text": text, **extra}
        await self.send({"type": "response.done", "response": response})

    # -- sending --------------------------------------------------------------------------------------

    async def send(self, message: dict[str, Any]) -> None:
        async with self._send_lock:
            if self.ws.client_state == WebSocketState.CONNECTED:
                await self._write(message)


def _user_text(item: Any) -> str:
    """The text of a ``conversation.item.create`` user message."""
    if not isinstance(item, dict) or item.get("role", "user") != "user":
        raise InputError('conversation.item.create needs an "item" with role "user"')
    content = item.get("content")
    parts = content if isinstance(content, list) else [{"text": content}]
    text = " ".join(str(p.get("text") or "") for p in parts if isinstance(p, dict)).strip()
    if not text:
        raise InputError('the user message has no text; send content [{"type": "input_text", "text": "..."}]')
    return text
