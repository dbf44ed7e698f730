"""What one app instance owns: settings, the model, the scheduler, metrics, the clone queue, voice chat,
training jobs, book jobs."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Annotated

import anyio
from fastapi import Depends
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from ..voices.design import blend, is_blend
from ..voices.voice import Voice
from .books import BookJobs
from .cloning import CloneQueue
from .conversations import Conversations
from .errors import count_error
from .metrics import Metrics
from .scheduler import Scheduler
from .schemas import ApiError
from .settings import ServerSettings
from .training import Trainings

log = logging.getLogger("uvicorn.error")

if TYPE_CHECKING:
    from ..api import Parrot
    from ..asr import Recognizer
    from ..chat.config import ChatSettings

# OpenAI's voice names and the gender each sounds; each maps to a stock voice of that gender.
OPENAI_VOICES: dict[str, str] = {
    "alloy": "female", "coral": "female", "nova": "female", "sage": "female", "shimmer": "female",
    "marin": "female", "ash": "male", "ballad": "male", "echo": "male", "fable": "male", "onyx": "male",
    "verse": "male", "cedar": "male",
}  # fmt: skip

# CosyVoice's own speaker names (its clients ask for `spk_id=中文女` by default) and what each sounds like.
COSYVOICE_SPEAKERS: dict[str, tuple[str, str]] = {
    "中文女": ("female", "zh"), "中文男": ("male", "zh"), "英文女": ("female", "en"), "英文男": ("male", "en"),
    "日语女": ("female", "ja"), "日语男": ("male", "ja"), "粤语女": ("female", "zh"), "韩语女": ("female", "ko"),
}  # fmt: skip


class ServerState:
    """Everything one app instance owns. Routes reach it through the ``State`` dependency."""

    def __init__(self, settings: ServerSettings, tts: Parrot | None, chat: ChatSettings | None = None) -> None:
        self.settings = settings
        self.scheduler = Scheduler(settings.workers, settings.max_jobs, settings.max_buffered_chunks)
        self.metrics = Metrics(self.scheduler)
        self.started = int(time.time())
        self.clones = CloneQueue(self.metrics)
        self.conversations = Conversations(chat)
        self.training = Trainings()  # voice-training jobs, each in its own low-priority process
        self.books = BookJobs(self.scheduler)  # long-form jobs, one at a time at the scheduler's low priority
        # Text preparation (markup, normalisation) runs in threads, a few at a time, never on the event loop.
        self.text_limiter = anyio.CapacityLimiter(max(2, settings.workers))
        self.aliases: dict[str, str] = {}
        self._tts = tts

    def load(self) -> None:
        """Load (if not given) and warm up the model; runs in a thread at startup."""
        if self._tts is None:
            from ..api import Parrot

            self._tts = Parrot()
        self._tts.engine.warm_up()
        self.aliases = voice_aliases(self._tts.voices.list())
        self.books.load(self._tts)
        health = self._tts.voices.store.health()
        for problem in health.problems:
            log.warning("parrot: voice library: %s", problem)
        if not health.ok:
            log.error("parrot: the voice library is damaged: saved voices are read-only (parrot voices check --repair)")

    @property
    def tts(self) -> Parrot:
        if self._tts is None:
            raise ApiError(503, "the model is still loading; retry in a few seconds", code="model_loading")
        return self._tts

    def voice(self, name: str | Voice | None) -> Voice:
        """A voice by Parrot name (built-in or saved), OpenAI alias or CosyVoice speaker name, or a ``Voice``
        as it is; ``UnknownVoiceError`` lists what exists. A saved voice named like an alias wins."""
        if isinstance(name, str) and is_blend(name):  # each part may be an alias too
            return blend(name, self.voice)
        if isinstance(name, str) and name.lower() in self.aliases:
            library = self.tts.voices
            if not library.is_builtin(name) and not library.store.exists(name):
                name = self.aliases[name.lower()]
        return self.tts.voice(name)

    async def recognizer(self) -> Recognizer:
        """The Whisper recognizer, created on first use (in a thread: loading takes a second)."""
        tts = self.tts
        return await run_in_threadpool(lambda: tts.recognizer)

    def count_error(self, error: ApiError) -> None:
        count_error(self.metrics, error)


def get_state(conn: HTTPConnection) -> ServerState:
    return conn.app.state.parrot


State = Annotated[ServerState, Depends(get_state)]


def voice_aliases(voices: list[Voice]) -> dict[str, str]:
    """OpenAI's names spread over the stock voices of the matching gender (all voices if none), and
    CosyVoice's speaker names, each on the stock voice of its gender that speaks its language natively."""
    names = [v.name for v in voices if v.kind == "stock"] or [v.name for v in voices]
    aliases: dict[str, str] = {}
    for gender in ("female", "male"):
        pool = [v.name for v in voices if v.gender == gender and v.name in names] or names
        wanted = [alias for alias, g in OPENAI_VOICES.items() if g == gender]
        for i, alias in enumerate(wanted):
            aliases[alias] = pool[i % len(pool)]
    for speaker, (gender, lang) in COSYVOICE_SPEAKERS.items():
        pool = [v for v in voices if v.name in names and v.gender == gender] or [
            v for v in voices if v.name in names
        ]
        native = [v for v in pool if v.language == lang]
        if pool:
            aliases[speaker] = (native or pool)[0].name
    return aliases
