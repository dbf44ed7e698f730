"""Speech recognition (Whisper base from packages): the fitted-window decoding used for voice chat turns,
against Parrot's own speech, silence and the language rules."""

from __future__ import annotations

import numpy as np
import pytest

from parrot.asr import _compression_ratio, _written_in
from parrot.audio import resample

pytestmark = pytest.mark.slow
PAD = np.zeros(4_800, np.float32)  # 0.3 s of silence, as the chat VAD keeps around a turn


@pytest.fixture(scope="module")
def spoken(tts):  # noqa: ANN001, ANN201
    def say(text: str, voice: str) -> np.ndarray:
        speech = tts.say(text, voice)
        return np.concatenate([PAD, resample(speech.audio, speech.sample_rate, 16_000), PAD])

    return say


@pytest.mark.parametrize(
    ("text", "voice", "lang", "expected"),
    [
        ("What is the capital of France?", "linda", "en", "what is the capital of france"),
        ("Tell me three interesting facts about Paris.", "linda", "en", "tell me three interesting facts about paris"),
        ("请问法国的首都在哪里？", "jf_alpha", "zh", "法"),
        ("今日はいい天気ですね。", "jf_alpha", "ja", "天気"),
    ],
)
def test_short_turns_are_heard_with_their_language(recognizer, spoken, text, voice, lang, expected) -> None:  # noqa: ANN001
    heard = recognizer.transcribe(spoken(text, voice), short=True)
    assert heard.language == lang
    assert expected in heard.text.lower().replace("?", "").replace(".", "")
    whole = recognizer.transcribe(spoken(text, voice), language=lang)  # Whisper's own 30 s decoding agrees
    assert expected in whole.text.lower().replace("?", "").replace(".", "")


def test_a_one_word_answer_is_not_repeated(recognizer, spoken) -> None:  # noqa: ANN001
    for word in ("Yes.", "Okay."):
        assert recognizer.transcribe(spoken(word, "linda"), short=True).text.strip(".") == word.strip(".")


def test_silence_and_noise_give_no_words(recognizer) -> None:  # noqa: ANN001
    assert recognizer.transcribe(np.zeros(32_000, np.float32), short=True).text == ""
    noise = np.random.default_rng(0).normal(0, 0.05, 32_000).astype(np.float32)
    assert recognizer.transcribe(noise, short=True).text == ""


def test_the_script_settles_the_language() -> None:
    assert _written_in("No thanks", "ja") == "en"
    assert _written_in("今日はいい天気", "zh") == "ja"
    assert _written_in("你好", "en") == "zh" and _written_in("天気", "ja") == "ja"
    assert _written_in("", "zh") == "zh"
    assert _written_in("안녕하세요", "ja") == "ko" and _written_in("नमस्ते", "ur") == "hi"
    assert _written_in("Hola amigo", "es") == "es" and _written_in("Hello", "de") == "en"
    assert _compression_ratio("Paris " * 40) > 2.4 > _compression_ratio("What is the capital of France?")
