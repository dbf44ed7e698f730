"""The real embedded language model (Qwen2.5 0.5B GGUF on llama-cpp-python), alone and in a spoken turn."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from parrot.audio import decode, resample
from parrot.chat.config import ChatSettings, load_model
from parrot.chat.llm import EmbeddedModel, LLMError
from parrot.chat.pipeline import ChatSession, LocalSpeaker, collect

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model(tts) -> EmbeddedModel:  # noqa: ANN001
    loaded = load_model(ChatSettings(embedded_llm="qwen2.5-0.5b"), tts.settings)
    assert isinstance(loaded, EmbeddedModel)
    return loaded


def ask(model: EmbeddedModel, question: str) -> str:
    messages = ChatSession(model, None).messages(question, None)  # type: ignore[arg-type]  # the model alone
    return asyncio.run(_answer(model, messages))


async def _answer(model: EmbeddedModel, messages) -> str:  # noqa: ANN001
    return "".join([piece async for piece in model.stream(messages, max_tokens=60, temperature=0.0)])


def test_answers_in_the_users_language(model: EmbeddedModel) -> None:
    english = ask(model, "What is the capital of France?")
    assert "Paris" in english
    chinese = ask(model, "法国的首都是哪里？")
    assert "巴黎" in chinese
    letters = re.findall(r"[A-Za-z\u4e00-\u9fff]", chinese)
    assert sum("\u4e00" <= c <= "\u9fff" for c in letters) > 0.8 * len(letters), chinese


def test_stopping_early_frees_the_model(model: EmbeddedModel) -> None:
    async def first_pieces() -> list[str]:
        got = []
        stream = model.stream(ChatSession(model, None).messages("Count from one to fifty.", "en"))  # type: ignore[arg-type]
        async for piece in stream:
            got.append(piece)
            if len(got) == 3:
                break
        await stream.aclose()
        return got

    assert len(asyncio.run(first_pieces())) == 3
    assert "Paris" in ask(model, "What is the capital of France?")  # the next generation is not blocked


def test_missing_or_corrupt_model_file_is_explained(tmp_path: Path) -> None:
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 64)
    with pytest.raises(LLMError, match="cannot load the embedded language model"):
        EmbeddedModel(bad, "broken")


def test_spoken_question_answered_by_the_embedded_model(tts, recognizer, model, question_wav: Path) -> None:  # noqa: ANN001
    audio, _ = decode(question_wav, 16_000)
    session = ChatSession(model, LocalSpeaker(tts), transcriber=recognizer, voice="linda")
    _, answer, done = asyncio.run(collect(session.turn(audio)))
    assert "paris" in done.reply.lower()
    heard = recognizer.transcribe(resample(answer, tts.sample_rate, 16_000), language="en").text.lower()
    assert "paris" in heard, heard
    assert done.timings.words_per_second and done.timings.first_audio


def test_a_question_longer_than_the_context_is_an_input_error(model: EmbeddedModel) -> None:
    """It once surfaced as llama.cpp's ValueError: a 500 on /v1/audio/chat."""
    from parrot.errors import InputError

    with pytest.raises(InputError, match="too long for the embedded language model"):
        ask(model, "hello " * 5000)
    assert "Paris" in ask(model, "What is the capital of France?")  # the model is still usable
