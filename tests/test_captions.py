"""Word and sentence timings of a speech (``parrot.captions``), and the subtitles made from them."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from parrot.captions import Timeline, cues, subtitle_format, subtitles
from parrot.engines.base import AudioChunk, TimedText
from parrot.errors import InputError

TEXT = "Hello there. How are you?"


def chunk(text: str, start: int, words: list[tuple[str, float, float]], offset: float, seconds: float) -> AudioChunk:
    timed, pos = [], start
    for word, a, b in words:
        first = TEXT.index(word, pos)
        pos = first + len(word)
        timed.append(TimedText(word, a, b, first, pos))
    audio = np.zeros(int(seconds * 24_000), np.float32)
    return AudioChunk(audio, 24_000, text, start, start + len(text), tuple(timed), offset)


def parse_srt(text: str) -> list[tuple[float, float, str]]:
    """SubRip parsed back: numbered blocks in order, times ``HH:MM:SS,mmm``."""
    found = []
    for number, block in enumerate(text.strip().split("\n\n"), start=1):
        lines = block.split("\n")
        assert lines[0] == str(number)
        match = re.fullmatch(r"(\d\d):(\d\d):(\d\d),(\d{3}) --> (\d\d):(\d\d):(\d\d),(\d{3})", lines[1])
        assert match, lines[1]
        h1, m1, s1, ms1, h2, m2, s2, ms2 = map(int, match.groups())
        found.append(
            (h1 * 3600 + m1 * 60 + s1 + ms1 / 1000, h2 * 3600 + m2 * 60 + s2 + ms2 / 1000, "\n".join(lines[2:]))
        )
    return found


def seconds(stamp: str) -> float:
    hours, minutes, secs = stamp.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(secs)


def parse_vtt(text: str) -> list[tuple[float, float, str]]:
    header, *blocks = text.strip().split("\n\n")
    assert header == "WEBVTT"
    found = []
    for block in blocks:
        times, *lines = block.split("\n")
        a, b = (
            sum(float(x) * m for x, m in zip(t.split(":"), (3600, 60, 1), strict=True)) for t in times.split(" --> ")
        )
        found.append((a, b, "\n".join(lines)))
    return found


def test_timeline_puts_words_in_speech_time_and_closes_sentences_as_they_end() -> None:
    timeline = Timeline(TEXT)
    words, done = timeline.add(chunk("Hello", 0, [("Hello", 0.05, 0.4)], 0.0, 0.5))
    assert [(w.text, w.start) for w in words] == [("Hello", 0.05)] and done == []  # the sentence goes on
    words, done = timeline.add(chunk(" there.", 5, [("there", 0.0, 0.3)], 0.5, 0.6))
    assert words[0].start == pytest.approx(0.5) and words[0].end == pytest.approx(0.8)
    assert [(s.text, s.start, s.end) for s in done] == [("Hello there.", 0.05, pytest.approx(0.8))]
    timeline.add(AudioChunk(np.zeros(2400, np.float32), 24_000, "", 12, 12, (), 1.1))  # a pause: no words
    words, done = timeline.add(
        chunk(" How are you?", 12, [("How", 0.1, 0.2), ("are", 0.2, 0.3), ("you", 0.3, 0.5)], 1.2, 0.6)
    )
    assert [s.text for s in done] == ["How are you?"] and timeline.finish() == []
    assert [s.text for s in timeline.sentences] == ["Hello there.", "How are you?"]


def test_cues_split_long_sentences_between_words() -> None:
    text = " ".join(f"word{i}" for i in range(40)) + "."
    words, pos = [], 0
    for i, word in enumerate(text.rstrip(".").split()):
        first = text.index(word, pos)
        pos = first + len(word)
        words.append(TimedText(word, i * 0.3, i * 0.3 + 0.25, first, pos))
    sentence = TimedText(text, 0.0, words[-1].end, 0, len(text))
    made = cues(text, [sentence], words)
    assert len(made) > 2
    assert all(len(c.text) <= 84 and c.end - c.start <= 7.0 for c in made)
    assert " ".join(c.text for c in made) == text  # nothing lost, the final stop kept
    assert all(a.end <= b.start for a, b in zip(made, made[1:], strict=False))


def test_subtitle_formats() -> None:
    assert subtitle_format("talk.SRT") == "srt" and subtitle_format("vtt") == "vtt"
    with pytest.raises(InputError, match="srt, .vtt or .json"):
        subtitle_format("talk.txt")


def check_timed(items: tuple[TimedText, ...] | list[TimedText], duration: float) -> None:
    """Monotonic, non-negative, inside the audio."""
    assert items
    for item in items:
        assert 0.0 <= item.start <= item.end <= duration + 1e-6, item
    for a, b in zip(items, items[1:], strict=False):
        assert a.end <= b.start + 1e-6 and a.last <= b.first, (a, b)


@pytest.mark.parametrize(
    ("text", "lang", "count"),
    [
        ("The morning was bright and calm, so we walked along the river. Then we went home!", "en", 16),
        ("今天天气很好，我们一起去公园散步。朋友们都来了！", "zh", 21),
    ],
)
def test_real_speech_words_are_monotonic_and_cover_the_audio(tts, text, lang, count) -> None:
    speech = tts.say(text, lang=lang)
    check_timed(speech.words, speech.duration)
    assert len(speech.words) == count  # every word (every Han character) is timed
    assert [w.text for w in speech.words] == [speech.text[w.first : w.last] for w in speech.words]
    assert speech.words[0].start < 0.3 and speech.words[-1].end > speech.duration - 0.3  # they cover the audio
    assert len(speech.sentences) == 2
    check_timed(speech.sentences, speech.duration)
    srt = parse_srt(subtitles("srt", speech.text, list(speech.words), list(speech.sentences)))
    vtt = parse_vtt(subtitles("vtt", speech.text, list(speech.words), list(speech.sentences)))
    assert [c[2] for c in srt] == [c[2] for c in vtt] == [s.text for s in speech.sentences]
    assert [c[0] for c in srt] == pytest.approx([s.start for s in speech.sentences], abs=1e-3)
    data = json.loads(subtitles("json", speech.text, list(speech.words), list(speech.sentences)))
    assert [w["text"] for w in data["words"]] == [w.text for w in speech.words]


def test_timings_follow_speed_instructions_markup_and_streaming(tts) -> None:
    text = 'First words. <break time="800ms"/> Then [laughter] some more words, slowly.'
    normal = tts.say(text)
    fast = tts.say(text, speed=1.5, instruction="speak cheerfully")
    for speech in (normal, fast):
        check_timed(speech.words, speech.duration)
        assert [w.text for w in speech.words] == ["First", "words", "Then", "some", "more", "words", "slowly"]
    assert fast.words[-1].end < 0.8 * normal.words[-1].end
    # the break and the laugh are between the words, not inside them
    assert normal.words[2].start - normal.words[1].end > 0.8
    # streaming: each chunk's words, moved by its offset, are the whole speech's
    stream = tts.stream(text, fast_start=False)
    timeline = Timeline(stream.text)
    for part in stream:
        words, _ = timeline.add(part)
        for word in words:
            assert part.offset - 1e-6 <= word.start <= word.end <= part.offset + part.duration + 1e-6
    timeline.finish()
    assert [(w.text, round(w.start, 3)) for w in timeline.words] == [(w.text, round(w.start, 3)) for w in normal.words]
