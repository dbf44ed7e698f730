"""The server's voice-cloning queue: one clone at a time, a bounded wait, and a cache of one-off prompts."""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from typing import TYPE_CHECKING

import anyio
from starlette.concurrency import run_in_threadpool

from ..audio import AudioError
from ..errors import InputError
from ..voices.reference import load_reference
from ..voices.voice import Voice
from .schemas import ApiError

if TYPE_CHECKING:
    from ..api import Parrot
    from .metrics import Metrics

MAX_WAITING_CLONES = 8  # clone requests queued behind the running one before new ones get 429
PROMPT_CACHE_SIZE = 8  # one-off voices of recent CosyVoice prompt_wav uploads, kept for reuse


class CloneQueue:
    """Clones voices from uploaded recordings for one app.

    The recording is decoded (once, by content) and checked right away, in parallel with other requests,
    so bad clips are refused at once (400 naming ``param``). The heavy part (Whisper for a missing
    transcript, then the engine's fitting) runs in a thread, one clone at a time so it cannot starve the
    synthesis workers; too many clones waiting gives 429. ``reuse`` keeps recent one-off voices by content,
    so a client that sends the same prompt with every request (as CosyVoice clients do) pays once.
    """

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        self._limiter = anyio.CapacityLimiter(1)
        self._pending = 0
        self._prompt_voices: OrderedDict[str, Voice] = OrderedDict()

    async def clone(
        self,
        tts: Parrot,
        data: bytes,
        transcript: str | None,
        *,
        name: str,
        param: str,
        transcript_param: str,
        language: str | None = None,
        reuse: bool = False,
    ) -> Voice:
        """A voice (not saved) cloned from the uploaded recording ``data``; ``language`` is already checked."""
        transcript = transcript.strip() if transcript and transcript.strip() else None
        try:
            reference = await run_in_threadpool(load_reference, data)
        except AudioError as exc:
            raise ApiError(400, f"{param}: {exc}", code=exc.kind, param=param) from exc
        key = _prompt_key(data, transcript, language) if reuse else None
        if key is not None and (cached := self._cached(key)) is not None:
            return cached
        if self._pending > MAX_WAITING_CLONES:
            raise ApiError(
                429,
                f"{self._pending} voice clones are already in progress or waiting; retry shortly",
                code="rate_limit_exceeded",
                headers={"Retry-After": "15"},
            )
        self._pending += 1
        try:
            async with self._limiter:
                if key is not None and (cached := self._cached(key)) is not None:
                    return cached  # an identical request finished while this one waited
                started = time.perf_counter()
                try:
                    voice = await run_in_threadpool(
                        lambda: tts.clone(reference, transcript, name=name, language=language)
                    )
                except InputError as exc:  # e.g. a transcript with nothing speakable in it
                    where = transcript_param if transcript else param
                    raise ApiError(400, f"{where}: {exc}", code=exc.kind, param=where) from exc
                self._metrics.clone_seconds.observe(time.perf_counter() - started)
        finally:
            self._pending -= 1
        if key is not None:
            self._prompt_voices[key] = voice
            while len(self._prompt_voices) > PROMPT_CACHE_SIZE:
                self._prompt_voices.popitem(last=False)
        return voice

    def _cached(self, key: str) -> Voice | None:
        voice = self._prompt_voices.get(key)
        if voice is not None:
            self._prompt_voices.move_to_end(key)
        return voice


def _prompt_key(data: bytes, transcript: str | None, language: str | None) -> str:
    digest = hashlib.sha256(data)
    digest.update(b"\0" + (transcript or "").encode() + b"\0" + (language or "").encode())
    return digest.hexdigest()
