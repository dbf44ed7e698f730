"""Voice chat sessions of the server: the chat pipeline wired to the server's model, recognizer and scheduler."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import numpy as np

from ..chat.pipeline import ChatSession
from ..voices.voice import Voice
from .scheduler import Job, QueueFull
from .speech import ADMISSION_WAIT, AudioStep, consume, start_speech
from .state import ServerState


async def new_chat_session(
    state: ServerState, *, voice: str | None, instructions: str | None, speed: float
) -> ChatSession:
    """A chat session with the configured model; the voice is checked first (404 lists the voices)."""
    chat = state.conversations.settings
    chosen = state.voice(voice or chat.voice).name
    model = await state.conversations.model(state.tts.settings)
    return ChatSession(
        model,
        SchedulerSpeaker(state),
        transcriber=await state.recognizer(),
        system_prompt=(instructions or "").strip() or chat.system_prompt,
        voice=chosen,
        speed=speed,
        max_tokens=chat.max_tokens,
        temperature=chat.temperature,
        history_turns=chat.history_turns,
    )


class SchedulerSpeaker:
    """Synthesis through the server's fair scheduler (so voice chat shares the CPU fairly with other streams)."""

    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.sample_rate = state.tts.sample_rate

    async def speak(self, text: str, voice: str | Voice | None, speed: float) -> AsyncIterator[np.ndarray]:
        started = time.perf_counter()
        job = await self._admit(text, voice, speed, started)
        async with contextlib.aclosing(consume(self.state, job, "chat", started)) as steps:
            async for step in steps:
                if step.chunk is not None:
                    yield step.chunk.audio

    async def _admit(self, text: str, voice: str | Voice | None, speed: float, started: float) -> Job[AudioStep]:
        while True:
            try:
                return (await start_speech(self.state, text, voice, speed=speed)).job
            except QueueFull as exc:
                if time.perf_counter() - started > ADMISSION_WAIT:
                    raise
                await asyncio.sleep(min(float(exc.retry_after), 1.0))
