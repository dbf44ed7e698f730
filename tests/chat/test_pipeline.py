"""ChatSession: streaming order, memory, speakable text, language hints, cancellation; then the real thing
(Parrot's own speech in, Whisper, a fake OpenAI-compatible server, Parrot speaking the answer)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from parrot.audio import decode, resample
from parrot.chat.llm import Message, OpenAICompatibleModel
from parrot.chat.pipeline import (
    ChatSession,
    EarlyTranscript,
    LocalSpeaker,
    ReplyAudio,
    ReplyDelta,
    Transcribed,
    TurnDone,
    collect,
    count_words,
)
from parrot.errors import InputError


class ScriptedModel:
    """Answers with ``pieces`` (after ``delay`` each); records the messages it was sent."""

    name = "scripted"

    def __init__(self, pieces: list[str], delay: float = 0.0) -> None:
        self.pieces = pieces
        self.delay = delay
        self.seen: list[list[Message]] = []
        self.stopped_after: int | None = None

    async def stream(self, messages: Sequence[Message], *, max_tokens: int = 200, temperature: float = 0.6):
        self.seen.append(list(messages))
        sent = 0
        try:
            for piece in self.pieces:
                await asyncio.sleep(self.delay)
                sent += 1
                yield piece
        finally:
            self.stopped_after = sent


class RecordingSpeaker:
    """Two chunks of silence per phrase; records what it was asked to say."""

    sample_rate = 24_000

    def __init__(self, delay: float = 0.0) -> None:
        self.said: list[str] = []
        self.delay = delay

    async def speak(self, text: str, voice: str | None, speed: float) -> AsyncIterator[np.ndarray]:
        self.said.append(text)
        for _ in range(2):
            await asyncio.sleep(self.delay)
            yield np.zeros(2_400, np.float32)


def test_reply_streams_text_then_audio_per_phrase() -> None:
    model = ScriptedModel(["**Paris** is ", "the capital. ", "It is ", "lovely 😀."])
    speaker = RecordingSpeaker()
    session = ChatSession(model, speaker, voice="linda")
    events, audio, done = asyncio.run(collect(session.reply("What is the capital of France?")))
    assert speaker.said == ["Paris is the capital.", "It is lovely ."]  # spoken without markdown or emoji
    assert [type(e) for e in events[:1]] == [ReplyDelta]
    audio_events = [e for e in events if isinstance(e, ReplyAudio)]
    assert [e.text for e in audio_events] == ["Paris is the capital.", "", "It is lovely .", ""]
    assert len(audio) == 4 * 2_400
    assert done.reply == "**Paris** is the capital. It is lovely 😀."  # shown as written
    assert done.status == "completed" and done.timings.first_audio is not None
    assert done.timings.words == 7 and done.timings.model_first_phrase is not None


def test_the_model_waits_while_the_first_phrase_is_synthesized() -> None:
    """On a small machine the model and the synthesis share the cores: the first audio comes first."""
    clock: list[tuple[str, float]] = []

    class TimedModel(ScriptedModel):
        async def stream(self, messages, **options):  # noqa: ANN001, ANN003
            async for piece in super().stream(messages, **options):
                clock.append(("piece", time.perf_counter()))
                yield piece

    class SlowFirstChunk(RecordingSpeaker):
        async def speak(self, text: str, voice: str | None, speed: float) -> AsyncIterator[np.ndarray]:
            await asyncio.sleep(0.3 if not self.said else 0.0)
            clock.append(("audio", time.perf_counter()))
            async for chunk in super().speak(text, voice, speed):
                yield chunk

    model = TimedModel(["Hello there. ", "How ", "are ", "you ", "today? "], delay=0.02)
    _, _, done = asyncio.run(collect(ChatSession(model, SlowFirstChunk()).reply("hi")))
    first_audio = next(i for i, (what, _) in enumerate(clock) if what == "audio")
    assert 1 <= first_audio <= 2  # the phrase (and at most the piece that showed it had ended), then the audio
    assert done.reply == "Hello there. How are you today?"
    assert done.timings.model_seconds is not None and done.timings.model_seconds < 0.3  # the wait is not the model's


def test_a_paused_reader_pauses_the_thread() -> None:
    from parrot.chat.aio import iterate_in_thread

    made: list[int] = []

    def count() -> Iterator[int]:
        for i in range(100):
            made.append(i)
            yield i

    async def run() -> list[int]:
        taken = []
        async with contextlib.aclosing(iterate_in_thread(count, ahead=2)) as items:
            async for item in items:
                taken.append(item)
                if item == 0:
                    await asyncio.sleep(0.3)  # the reader is busy: the thread must not run on
                    assert len(made) <= 4
        return taken

    assert asyncio.run(run()) == list(range(100))


def test_memory_system_prompt_and_language_hint() -> None:
    model = ScriptedModel(["OK."])
    session = ChatSession(model, RecordingSpeaker(), system_prompt="Be brief.", history_turns=2)
    for question in ["one", "two", "三"]:
        asyncio.run(collect(session.reply(question)))
    sent = model.seen[-1]
    assert sent[0].role == "system" and sent[0].content.startswith("Be brief.")
    assert "简体中文" in sent[0].content  # a Chinese question gets a Chinese-answer hint
    assert "English" in model.seen[0][0].content
    assert [m.content for m in sent[1:]] == ["one", "OK.", "two", "OK.", "三"]
    assert [m.content for m in session.history] == ["two", "OK.", "三", "OK."]  # two turns kept
    session.reset()
    assert session.history == []


def test_closing_the_turn_cancels_generation_and_remembers_what_was_heard() -> None:
    model = ScriptedModel([f"Sentence {i}. " for i in range(50)], delay=0.02)
    session = ChatSession(model, RecordingSpeaker())

    async def barge_in() -> list[object]:
        seen = []
        async with contextlib.aclosing(session.reply("tell me a long story")) as events:
            async for event in events:
                seen.append(event)
                if isinstance(event, ReplyAudio) and event.text == "Sentence 1.":
                    break  # the user started speaking
        return seen

    seen = asyncio.run(barge_in())
    assert not any(isinstance(e, TurnDone) for e in seen)
    assert model.stopped_after is not None and model.stopped_after < 10  # the model was stopped
    assert session.history[-1].content.startswith("Sentence 0. Sentence 1.")
    assert session.history[-1].content.endswith("…")


def test_a_client_that_played_less_can_cut_the_remembered_answer() -> None:
    session = ChatSession(ScriptedModel(["One. ", "Two. ", "Three. ", "Four."]), RecordingSpeaker())
    asyncio.run(collect(session.reply("count")))  # made faster than real time: all of it reached the client
    assert session.history[-1].content == "One. Two. Three. Four."
    assert not session.truncate_reply(4)  # all heard: nothing to change
    assert session.truncate_reply(2)
    assert session.history[-1].content == "One. Two. …"
    assert not session.truncate_reply(3)  # cannot grow back
    assert session.truncate_reply(0) and session.history[-1].content == "…"
    with pytest.raises(InputError):
        session.truncate_reply(-1)
    session.model = ScriptedModel(["Five. "] * 20, delay=0.05)

    async def cancelled_before_speech() -> None:
        async with contextlib.aclosing(session.reply("more")) as events:
            async for _ in events:
                break

    asyncio.run(cancelled_before_speech())
    assert not session.truncate_reply(0)  # "the last answer" is now the unspoken one: older ones stay as they are
    assert session.history[-1].content == "…"


def test_a_question_cancelled_before_any_answer_is_kept_for_the_next_one() -> None:
    from parrot.asr import Transcript

    class SlowRecognizer:
        def transcribe(self, audio, *, language=None, prompt=None, short=False):  # noqa: ANN001
            import time

            time.sleep(0.3)
            return Transcript("tell me a story", "en", 1.0)

    async def run() -> tuple[list[str], list[Message]]:
        model = ScriptedModel(["OK."])
        session = ChatSession(model, RecordingSpeaker(), transcriber=SlowRecognizer())
        late: list[str] = []
        silence = np.zeros(16_000, np.float32)
        turn = asyncio.create_task(collect(session.turn(silence, late=lambda t: late.append(t.text))))
        await asyncio.sleep(0.05)
        turn.cancel()  # the user spoke again while the first turn was still being recognised
        await asyncio.gather(turn, return_exceptions=True)
        await asyncio.sleep(0.5)  # recognition goes on to its end
        await collect(session.reply("about dragons"))
        return late, model.seen[-1]

    late, sent = asyncio.run(run())
    assert late == ["tell me a story"]  # the client can still show what was said
    assert sent[-1].content == "tell me a story about dragons"

    model = ScriptedModel(["Sure. "] * 20, delay=0.05)
    session = ChatSession(model, RecordingSpeaker())

    async def cancelled_before_speech() -> None:
        async with contextlib.aclosing(session.reply("first question")) as events:
            async for event in events:
                if isinstance(event, ReplyDelta):
                    break  # written but not yet spoken

    asyncio.run(cancelled_before_speech())
    assert session.history == [] and session.unanswered == ["first question"]
    model.pieces = ["Fine."]
    asyncio.run(collect(session.reply("second")))
    assert [m.content for m in session.history] == ["first question second", "Fine."]
    assert session.unanswered == []


def test_model_failure_propagates_and_is_not_remembered() -> None:
    class Broken:
        name = "broken"

        async def stream(self, messages, **_: object):
            raise RuntimeError("boom")
            yield ""  # pragma: no cover

    session = ChatSession(Broken(), RecordingSpeaker())
    with pytest.raises(RuntimeError, match="boom"):
        asyncio.run(collect(session.reply("hi")))
    assert session.history == []
    with pytest.raises(InputError, match="empty"):
        asyncio.run(collect(session.reply("   ")))
    with pytest.raises(InputError, match="speed 9 is out of range"):
        ChatSession(Broken(), RecordingSpeaker(), speed=9)


def test_count_words() -> None:
    assert count_words("Paris is nice.") == 3
    assert count_words("法国的首都是巴黎。Yes!") == 9


@pytest.mark.slow
def test_spoken_question_gets_a_relevant_spoken_answer(tts, recognizer, fake_llm, question_wav: Path) -> None:
    """Parrot speaks "What is the capital of France?"; Whisper hears it; the (fake) model answers; Parrot
    speaks the answer in the chosen voice; Whisper, listening to that answer, hears Paris."""
    url, _ = fake_llm
    audio, _ = decode(question_wav, 16_000)
    session = ChatSession(
        OpenAICompatibleModel(url, "fake"), LocalSpeaker(tts), transcriber=recognizer, voice="austen_reader"
    )
    events, answer, done = asyncio.run(collect(session.turn(audio)))
    heard = events[0]
    assert isinstance(heard, Transcribed) and "capital of france" in heard.text.lower()
    assert heard.language == "en"
    assert done.reply.startswith("The capital of France is Paris.")
    assert len(answer) / tts.sample_rate > 1.5
    back = recognizer.transcribe(resample(answer, tts.sample_rate, 16_000), language="en").text.lower()
    assert "paris" in back and "capital" in back
    t = done.timings
    assert t.asr and t.first_audio and t.tts_first_chunk and t.total and t.first_audio < t.total


@pytest.mark.slow
def test_short_utterance_recognition_hears_the_same_words(recognizer, question_wav: Path) -> None:
    audio, _ = decode(question_wav, 16_000)
    full = recognizer.transcribe(audio, language="en").text
    short = recognizer.transcribe(audio, language="en", short=True)
    assert short.text.lower().strip(" ?.") == full.lower().strip(" ?.") == "what is the capital of france"
    assert short.language == "en" and abs(short.duration - len(audio) / 16_000) < 1e-6


def test_early_transcript_is_used_only_when_the_pause_was_the_end() -> None:
    from parrot.asr import Transcript
    from parrot.chat.vad import SpeechPaused, SpeechStarted, SpeechStopped

    class CountingRecognizer:
        def __init__(self) -> None:
            self.calls: list[int] = []

        def transcribe(self, audio, *, language=None, prompt=None, short=False):  # noqa: ANN001
            self.calls.append(len(audio))
            return Transcript(f"{len(audio)} samples", "en", len(audio) / 16_000)

    async def run() -> tuple[list[str], list[int]]:
        recognizer = CountingRecognizer()
        session = ChatSession(ScriptedModel(["OK."]), RecordingSpeaker(), transcriber=recognizer)
        early = EarlyTranscript(session)
        heard = []
        audio = np.zeros(16_000, np.float32)
        # 1. the pause was the end of the turn: its transcription is reused
        early.observe(SpeechStarted(0.0))
        early.observe(SpeechPaused(7, audio[:8_000]))
        stopped = SpeechStopped(0.0, 0.5, audio, segment=7)
        events, _, _ = await collect(session.turn(stopped.audio, heard=early.take(stopped)))
        heard.append(events[0].text)
        # 2. the user spoke again after the pause: the turn is transcribed afresh
        early.observe(SpeechPaused(8, audio[:4_000]))
        stopped = SpeechStopped(0.0, 1.0, audio, segment=9)
        events, _, _ = await collect(session.turn(stopped.audio, heard=early.take(stopped)))
        heard.append(events[0].text)
        return heard, recognizer.calls

    heard, calls = asyncio.run(run())
    assert heard == ["8000 samples", "16000 samples"]
    assert sorted(calls) == [4_000, 8_000, 16_000]  # the unused early one still ran (in its thread)


def test_unspeakable_phrases_are_shown_but_skipped(tts) -> None:  # noqa: ANN001
    model = ScriptedModel(["Hello there. ", "สวัสดีครับ. ", "Bye now."])  # Thai: a script the engine cannot speak
    session = ChatSession(model, LocalSpeaker(tts), voice="linda")
    events, audio, done = asyncio.run(collect(session.reply("hi")))
    assert [e.text for e in events if isinstance(e, ReplyAudio) and e.text] == ["Hello there.", "Bye now."]
    assert "สวัสดีครับ" in done.reply and len(audio) > 0
    with pytest.raises(InputError, match="nobody"):
        asyncio.run(collect(ChatSession(ScriptedModel(["Hi."]), LocalSpeaker(tts), voice="nobody").reply("hi")))
