"""A voice conversation: the user's speech -> transcript -> language model -> the answer spoken, streaming.

    session = ChatSession(model, LocalSpeaker(tts), transcriber=tts.recognizer, voice="linda")
    async for event in session.turn(audio_16k):          # or session.reply("typed question")
        if isinstance(event, ReplyAudio): play(event.audio)

The model's text is cut into phrases as it arrives (``parrot.text.phrases``); each phrase is cleaned of
markdown and emoji and synthesized at once, while the model goes on writing, so the first audio comes
long before the answer is complete. The session remembers the conversation (the last ``history_turns``
exchanges). Stopping the iteration early (barge-in: the consumer cancels its task or closes the
generator) stops the model and the synthesis; the part of the answer already spoken is remembered, and a
client that knows how much of it was actually played can cut that down further (``truncate_reply``).
Words the user said that got no answer at all (the turn was cancelled before any of its answer was
spoken, even before its transcript was ready) are not lost: they are put in front of the next question.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np

from ..api import check_speed
from ..errors import InputError, UnknownVoiceError
from ..text.phrases import PhraseCutter
from ..text.segment import char_class
from ..voices.voice import Voice
from .aio import iterate_in_thread
from .config import DEFAULT_SYSTEM_PROMPT
from .llm import ChatModel, Message
from .loops import RepetitionGuard
from .speakable import SpeakableFilter
from .vad import SpeechPaused, SpeechStarted, SpeechStopped, VadEvent

if TYPE_CHECKING:
    from ..api import Parrot
    from ..asr import Transcript

FIRST_CLAUSE_CHARS = 16  # the first phrase may end at a comma this early, so the first audio comes sooner
# The model waits (at most this long) while the first phrase is synthesized: on a small machine they share
# the cores, and the first audio is what the user waits for; later phrases have its playing time to be made.
FIRST_PHRASE_HOLD = 3.0
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_SCRIPT_LANGUAGES = (("hangul", "ko"), ("kana", "ja"), ("deva", "hi"), ("han", "zh"))
LANGUAGE_HINTS = {
    "zh": "用户说的是中文，请用简体中文回答。",
    "en": "The user speaks English; answer in English.",
    "ja": "ユーザーは日本語で話しています。日本語で答えてください。",
    "ko": "사용자는 한국어로 말하고 있습니다. 한국어로 답하세요.",
    "es": "El usuario habla español; responde en español.",
    "fr": "L'utilisateur parle français ; réponds en français.",
    "it": "L'utente parla italiano; rispondi in italiano.",
    "pt": "O usuário fala português; responda em português do Brasil.",
    "hi": "उपयोगकर्ता हिंदी बोल रहा है; हिंदी में उत्तर दें।",
}


class Transcriber(Protocol):
    """Speech recognition (``parrot.asr.Recognizer``)."""

    def transcribe(
        self, audio: np.ndarray, *, language: str | None = None, prompt: str | None = None, short: bool = False
    ) -> Transcript:
        ...


class Speaker(Protocol):
    """Speech synthesis of one phrase, as audio chunks (mono float32 at ``sample_rate``)."""

    sample_rate: int

    def speak(self, text: str, voice: str | Voice | None, speed: float) -> AsyncIterator[np.ndarray]:
        ...


class LocalSpeaker:
    """Synthesis with a ``Parrot`` in this process (the CLI, benchmarks, tests); the server's speaker goes
    through its fair scheduler instead."""

    def __init__(self, tts: Parrot) -> None:
        self.tts = tts
        self.sample_rate = tts.sample_rate

    def speak(self, text: str, voice: str | Voice | None, speed: float) -> AsyncIterator[np.ndarray]:
        chunks = self.tts.stream(text, voice, speed=speed)  # validates now, in the caller
        return iterate_in_thread(lambda: (c.audio for c in chunks), name="parrot-tts")


# -- events ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Transcribed:
    """What the user said."""

    text: str
    language: str
    seconds: float  # recognition time


@dataclass(frozen=True)
class ReplyDelta:
    """More of the model's answer, as written (markdown and all)."""

    text: str


@dataclass(frozen=True)
class ReplyAudio:
    """Audio of the answer. ``text`` is the phrase this chunk begins (cleaned, as spoken), "" when it
    continues the previous one."""

    audio: np.ndarray = field(repr=False)
    sample_rate: int
    text: str


@dataclass
class TurnTimings:
    """Where the time of one turn went (seconds; None when the stage did not happen)."""

    asr: float | None = None  # speech recognition
    model_first_token: float | None = None  # model start -> first text
    model_first_phrase: float | None = None  # model start -> first complete speakable phrase
    tts_first_chunk: float | None = None  # first phrase complete -> its first audio
    first_audio: float | None = None  # turn start (end of the user's speech) -> first reply audio
    model_seconds: float | None = None  # the whole generation
    total: float | None = None
    words: int = 0  # words (a CJK character counts as one) the model wrote
    words_per_second: float | None = None
    repetition_stopped: int = 0  # 1 when the model repeated itself and was stopped (``loops.RepetitionGuard``)

    def as_dict(self) -> dict[str, float | int | None]:
        return {k: round(v, 3) if isinstance(v, float) else v for k, v in asdict(self).items()}


@dataclass(frozen=True)
class TurnDone:
    """The end of a turn: ``status`` is ``completed``, or ``cancelled`` (barge-in/cancel)."""

    transcript: str
    reply: str
    status: Literal["completed", "cancelled"]
    timings: TurnTimings


ChatEvent = Transcribed | ReplyDelta | ReplyAudio | TurnDone


def count_words(text: str) -> int:
    """Words in ``text`` (runs with a letter or digit), counting each Chinese character as one."""
    cjk = len(_CJK.findall(text))
    return cjk + sum(1 for w in _CJK.sub(" ", text).split() if any(c.isalnum() for c in w))


def guess_language(text: str) -> str:
    """The language typed input is in, by its script (it has no ASR language): Hangul ``ko``, kana ``ja``,
    Devanagari ``hi``, Chinese characters ``zh``, else ``en``."""
    scripts = {char_class(c) for c in text}
    return next((lang for script, lang in _SCRIPT_LANGUAGES if script in scripts), "en")


class _Failed:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


_END = object()


class ChatSession:
    """One conversation: its memory, system prompt, voice and speed. Turns run one at a time."""

    def __init__(
        self,
        model: ChatModel,
        speaker: Speaker,
        *,
        transcriber: Transcriber | None = None,
        system_prompt: str | None = None,
        voice: str | Voice | None = None,
        speed: float = 1.0,
        max_tokens: int = 160,
        temperature: float = 0.6,
        history_turns: int = 8,
    ) -> None:
        self.model = model
        self.speaker = speaker
        self.transcriber = transcriber
        self.system_prompt = system_prompt or DEFAULT_SYSTEM_PROMPT
        self.voice = voice
        self.speed = check_speed(speed)
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.history_turns = history_turns
        self.history: list[Message] = []
        self.unanswered: list[str] = []  # what the user said in turns cancelled before any answer was spoken
        self._last_spoken: list[str] = []  # the phrases of the remembered last answer that reached the speaker

    def reset(self) -> None:
        """Forget the conversation."""
        self.history.clear()
        self.unanswered.clear()
        self._last_spoken = []

    def truncate_reply(self, phrases_heard: int) -> bool:
        """The user heard only the first ``phrases_heard`` phrases of the last answer (the client stopped
        playback there: barge-in while the audio, made faster than real time, was still playing). Memory
        keeps only those. Returns whether memory changed."""
        if phrases_heard < 0:
            raise InputError("the number of phrases heard cannot be negative")
        if not self._last_spoken or phrases_heard >= len(self._last_spoken):
            return False
        if not self.history or self.history[-1].role != "assistant":
            return False
        self._last_spoken = self._last_spoken[:phrases_heard]
        self.history[-1] = Message("assistant", " ".join([*self._last_spoken, "…"]))
        return True

    def messages(self, text: str, language: str | None) -> list[Message]:
        """What the model is sent: the system prompt (with a hint of the user's language), the remembered
        exchanges, and ``text``."""
        system = self.system_prompt
        hint = LANGUAGE_HINTS.get((language or guess_language(text)).lower()[:2])
        if hint:
            system = f"{system}\n{hint}"
        keep = self.history[-2 * self.history_turns :] if self.history_turns else []
        return [Message("system", system), *keep, Message("user", " ".join([*self.unanswered, text]))]

    def _remember(self, user: str, reply: str, spoken: list[str]) -> None:
        user = " ".join([*self.unanswered, user])
        self.unanswered.clear()
        self._last_spoken = list(spoken)
        self.history += [Message("user", user), Message("assistant", reply or "…")]
        if self.history_turns:
            del self.history[: -2 * self.history_turns]
        else:
            self.history.clear()

    async def transcribe(self, audio: np.ndarray, language: str | None = None) -> Transcribed:
        """What the user said in ``audio`` (mono float32 at 16 kHz), recognised in a thread."""
        if self.transcriber is None:
            raise InputError("this chat session has no speech recognizer; send text instead")
        transcriber = self.transcriber
        t0 = time.perf_counter()
        heard = await asyncio.to_thread(lambda: transcriber.transcribe(audio, language=language, short=True))
        return Transcribed(heard.text, heard.language, time.perf_counter() - t0)

    async def turn(
        self,
        audio: np.ndarray,
        *,
        language: str | None = None,
        speech_end: float | None = None,
        heard: asyncio.Future[Transcribed] | None = None,
        late: Callable[[Transcribed], None] | None = None,
    ) -> AsyncIterator[ChatEvent]:
        """Answer one spoken turn (``audio``: mono float32 at 16 kHz, the user's speech).

        ``speech_end``: ``time.perf_counter()`` when the user stopped speaking, so ``first_audio`` counts
        from there (default: now). ``heard``: a transcription of ``audio`` already under way (started when
        the user paused, see ``EarlyTranscript``); the ``asr`` timing is then the time still waited for it.
        If the turn is cancelled before its transcript is ready, recognition still finishes: the words
        are kept for the next question, and given to ``late`` (so a client can still show what was said).
        Raises ``InputError`` when no words are recognised."""
        started = speech_end if speech_end is not None else time.perf_counter()
        t0 = time.perf_counter()
        task = heard if heard is not None else asyncio.ensure_future(self.transcribe(audio, language))
        try:
            transcript = await asyncio.shield(task)
        except asyncio.CancelledError:
            task.add_done_callback(lambda done: self._transcribed_late(done, late))
            raise
        asr_seconds = time.perf_counter() - t0
        if not transcript.text.strip():
            raise InputError("no words were recognised in the speech; speak clearly and try again")
        try:
            yield Transcribed(transcript.text, transcript.language, asr_seconds)
        except GeneratorExit:  # closed before the answer began: the question is still open
            self.unanswered.append(transcript.text.strip())
            raise
        events = self.reply(transcript.text, transcript.language, started=started)
        async with contextlib.aclosing(events) as stream:  # from here ``reply`` keeps memory
            async for event in stream:
                if isinstance(event, TurnDone):
                    event.timings.asr = asr_seconds
                yield event

    def _transcribed_late(self, task: asyncio.Future[Transcribed], late: Callable[[Transcribed], None] | None) -> None:
        if task.cancelled() or task.exception() is not None:
            return
        transcript = task.result()
        if transcript.text.strip():
            self.unanswered.append(transcript.text.strip())
            if late is not None:
                late(transcript)

    async def reply(
        self, text: str, language: str | None = None, *, started: float | None = None
    ) -> AsyncIterator[ChatEvent]:
        """Answer ``text``: the model's text (``ReplyDelta``) and audio (``ReplyAudio``) as they are made,
        then ``TurnDone``. Closing the generator early cancels the rest of the turn."""
        text = text.strip()
        if not text:
            raise InputError("the message is empty; say or type something")
        started = started if started is not None else time.perf_counter()
        timings = TurnTimings()
        messages = self.messages(text, language)
        self._last_spoken = []  # ``truncate_reply`` now means this answer
        events: asyncio.Queue[object] = asyncio.Queue(maxsize=16)
        phrases: asyncio.Queue[tuple[str, float] | None] = asyncio.Queue()
        written: list[str] = []
        spoken: list[str] = []
        first_phrase_dealt_with = asyncio.Event()  # its first audio exists, or it was skipped
        outcome = "running"  # then "completed" or "failed"; still "running" in ``finally`` means cancelled

        async def generate() -> None:
            cutter = PhraseCutter(first_clause_min_chars=FIRST_CLAUSE_CHARS)
            guard = RepetitionGuard()
            t0 = time.perf_counter()
            try:
                stream = self.model.stream(messages, max_tokens=self.max_tokens, temperature=self.temperature)
                async with contextlib.aclosing(stream) as pieces:  # type: ignore[type-var]
                    async for piece in pieces:
                        now = time.perf_counter()
                        if timings.model_first_token is None:
                            timings.model_first_token = now - t0
                        written.append(piece)
                        await events.put(ReplyDelta(piece))
                        fresh = [p for p in cutter.feed(piece) if not guard.repeats(p)]
                        for phrase in fresh:
                            await self._queue_phrase(phrases, phrase, now, t0, timings)
                        if guard.stopped:  # the model goes round in circles: stop it (closing the stream)
                            break
                        if timings.model_first_phrase is not None and not first_phrase_dealt_with.is_set():
                            hold = time.perf_counter()
                            with contextlib.suppress(TimeoutError):  # not wait_for: on 3.11 it can swallow a cancel
                                async with asyncio.timeout(FIRST_PHRASE_HOLD):
                                    await first_phrase_dealt_with.wait()
                            t0 += time.perf_counter() - hold  # the model's own time excludes the wait
                for phrase in cutter.flush() if not guard.stopped else []:
                    if not guard.repeats(phrase):
                        await self._queue_phrase(phrases, phrase, time.perf_counter(), t0, timings)
                timings.model_seconds = time.perf_counter() - t0
                timings.repetition_stopped = int(guard.stopped)
                timings.words = count_words("".join(written))
                if timings.model_seconds > 0 and timings.words:
                    timings.words_per_second = timings.words / timings.model_seconds
            except Exception as exc:
                await events.put(_Failed(exc))
            finally:
                phrases.put_nowait(None)

        async def speak() -> None:
            clean = SpeakableFilter()
            try:
                while (item := await phrases.get()) is not None:
                    phrase, ready = item
                    words = clean(phrase)
                    if not any(c.isalnum() for c in words):
                        first_phrase_dealt_with.set()
                        continue
                    first = True
                    try:
                        async with contextlib.aclosing(self.speaker.speak(words, self.voice, self.speed)) as audio:
                            async for chunk in audio:
                                if first:
                                    spoken.append(words)
                                    first_phrase_dealt_with.set()
                                    if timings.tts_first_chunk is None:
                                        timings.tts_first_chunk = time.perf_counter() - ready
                                        timings.first_audio = time.perf_counter() - started
                                await events.put(ReplyAudio(chunk, self.speaker.sample_rate, words if first else ""))
                                first = False
                    except UnknownVoiceError:
                        raise
                    except InputError:  # e.g. only symbols, or a script the engine cannot speak: shown, not said
                        first_phrase_dealt_with.set()
                        continue
                await events.put(_END)
            except Exception as exc:
                await events.put(_Failed(exc))
            finally:
                first_phrase_dealt_with.set()

        tasks = [asyncio.create_task(generate()), asyncio.create_task(speak())]
        try:
            while True:
                event = await events.get()
                if event is _END:
                    break
                if isinstance(event, _Failed):
                    outcome = "failed"
                    raise event.exc
                yield event  # type: ignore[misc]
            outcome = "completed"
            timings.total = time.perf_counter() - started
            reply = "".join(written).strip()
            self._remember(text, reply, spoken)
            yield TurnDone(text, reply, "completed", timings)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if outcome == "running" and spoken:  # barge-in: remember what reached the speaker
                self._remember(text, " ".join(spoken) + " …", spoken)
            elif outcome == "running":  # cancelled before a word was spoken: the question is still open
                self.unanswered.append(text)

    @staticmethod
    async def _queue_phrase(
        phrases: asyncio.Queue[tuple[str, float] | None], phrase: str, now: float, t0: float, timings: TurnTimings
    ) -> None:
        if timings.model_first_phrase is None:
            timings.model_first_phrase = now - t0
        await phrases.put((phrase, now))


class EarlyTranscript:
    """Starts transcribing the user's turn when they pause (``SpeechPaused``), so when the pause turns out
    to be the end of the turn the transcript is ready, or nearly: recognition overlaps the silence the VAD
    waits for. Feed it every VAD event; ``take`` returns the transcription to pass to ``ChatSession.turn``
    as ``heard``: the early one when it is still valid (nothing but silence after the pause), else one
    started now. At most one early transcription runs at a time."""

    def __init__(self, session: ChatSession, language: str | None = None) -> None:
        self.session = session
        self.language = language
        self._segment: int | None = None
        self._task: asyncio.Task[Transcribed] | None = None

    def observe(self, event: VadEvent) -> None:
        if isinstance(event, SpeechPaused) and (self._task is None or self._task.done()):
            self._segment = event.segment
            self._task = asyncio.ensure_future(self.session.transcribe(event.audio, self.language))
        elif isinstance(event, SpeechStarted):
            self._drop()

    def take(self, stopped: SpeechStopped) -> asyncio.Task[Transcribed]:
        task, segment = self._task, self._segment
        self._task = self._segment = None
        if task is not None and segment == stopped.segment:
            return task
        if task is not None and not task.done():
            task.add_done_callback(_retrieve)  # it runs to its end in its thread anyway; nobody needs it
        return asyncio.ensure_future(self.session.transcribe(stopped.audio, self.language))

    def _drop(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.add_done_callback(_retrieve)
        self._task = self._segment = None


def _retrieve(task: asyncio.Task[Transcribed]) -> None:
    if not task.cancelled():
        task.exception()  # mark it retrieved: an unused early transcription may fail silently


async def collect(events: AsyncIterator[ChatEvent]) -> tuple[list[ChatEvent], np.ndarray, TurnDone]:
    """Run a whole turn; returns its events, the answer's audio joined, and the final ``TurnDone``."""
    seen: list[ChatEvent] = []
    audio: list[np.ndarray] = []
    async with contextlib.aclosing(events) as stream:  # type: ignore[type-var]
        async for event in stream:
            seen.append(event)
            if isinstance(event, ReplyAudio):
                audio.append(event.audio)
    done = seen[-1]
    assert isinstance(done, TurnDone)
    return seen, (np.concatenate(audio) if audio else np.zeros(0, np.float32)), done
