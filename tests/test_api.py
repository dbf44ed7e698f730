"""The facade: validation of bad input, streaming behaviour, whole-utterance synthesis."""

import time

import numpy as np
import pytest

from parrot.errors import InputError, UnknownVoiceError, UnsupportedLanguageError

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("   \n\t  ", "empty"),
        ("\x00\x01\x1b\x7f", "empty"),
        ("🎉😀👍", "nothing speakable"),
        ("!!! ... ???", "nothing speakable"),
    ],
)
def test_unspeakable_text_is_rejected(tts, text, message):
    with pytest.raises(InputError, match=message):
        tts.stream(text)


def test_text_over_the_limit_is_rejected_before_any_work(tts):
    text = "a" * (tts.settings.max_text_chars + 1)
    with pytest.raises(InputError, match="limit is 100,000"):
        tts.stream(text)


def test_100k_characters_start_streaming_fast(tts):
    text = ("This is a long article sentence, and it keeps going. " * 2000)[: tts.settings.max_text_chars]
    started = time.perf_counter()
    first = next(tts.stream(text))
    assert first.audio.size > 0
    assert time.perf_counter() - started < 30  # validation is linear; synthesis is lazy


def test_control_characters_are_ignored(tts):
    chunks = list(tts.stream("Hello\x00 there\x1b."))
    assert chunks and chunks[0].text == "Hello there."


@pytest.mark.parametrize("speed", [0.1, 3.0, float("nan"), "fast"])
def test_speed_out_of_range(tts, speed):
    with pytest.raises(InputError, match="speed"):
        tts.stream("hello", speed=speed)


def test_unknown_voice_lists_the_available_ones(tts):
    with pytest.raises(UnknownVoiceError, match="jf_alpha"):
        tts.stream("hello", voice="nobody")


def test_unsupported_language(tts):
    with pytest.raises(UnsupportedLanguageError, match="'de' is not supported"):
        tts.stream("guten Tag", lang="de")
    with pytest.raises(UnsupportedLanguageError, match=r"Thai .*ko \(Korean\)"):
        tts.stream("สวัสดีครับ")


def test_stream_yields_chunks_with_text_spans(tts):
    chunks = list(tts.stream("Good morning. 今天天气真不错，我们去公园吧！"))
    assert len(chunks) >= 2
    assert "Good morning." in chunks[0].text
    assert all(c.sample_rate == 24_000 and c.audio.dtype == np.float32 for c in chunks)
    assert all(np.abs(c.audio).max() <= 1.0 for c in chunks)
    assert [c.start for c in chunks] == sorted(c.start for c in chunks)


def test_joins_have_no_clicks(tts):
    audio = tts.say("One sentence here. Another sentence there. And a third one!").audio
    # No sample-to-sample jump near the loudest ones: fades and silence separate the chunks.
    jumps = np.abs(np.diff(audio))
    assert jumps.max() < 0.6
    chunks = list(tts.stream("One sentence here. Another sentence there."))
    for c in chunks:
        assert abs(c.audio[0]) < 0.02 and abs(c.audio[-1]) < 0.02


def test_speed_changes_duration(tts):
    normal = tts.say("The weather is lovely today.").duration
    fast = tts.say("The weather is lovely today.", speed=1.5).duration
    slow = tts.say("The weather is lovely today.", speed=0.75).duration
    assert fast < normal * 0.8 and slow > normal * 1.15


def test_every_stock_voice_speaks(tts):
    for voice in tts.voices.list():
        assert tts.say("你好。", voice=voice.name).duration > 0.3


def test_long_article_memory_stays_flat(tts):
    import tracemalloc

    text = "这是一个很长的段落，用来测试内存。It keeps going on and on. " * 150  # about 6,000 characters
    tracemalloc.start()
    stream = tts.stream(text)
    for i, chunk in enumerate(stream):
        assert chunk.audio.size
        if i == 2:
            baseline = tracemalloc.get_traced_memory()[0]
        if i == 12:
            break
    grown = tracemalloc.get_traced_memory()[0] - baseline
    tracemalloc.stop()
    assert grown < 5_000_000  # chunks are not accumulated anywhere


def test_default_voice_follows_the_language(tts):
    assert tts.default_voice_for(("ko",)).name == "jm_kumo"
    assert tts.default_voice_for(("en", "zh")).name == "jm_kumo"
    assert tts.default_voice_for(()).name == tts.default_voice
    prepared = tts.prepare("<|ko|>3개 주세요")
    assert prepared.languages == ("ko",) and prepared.normalized == "세 개 주세요"
    assert tts.prepare("Tengo 3 gatos.", "es").normalized == "Tengo tres gatos."
