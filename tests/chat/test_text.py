"""Cutting a model's streamed answer into phrases, and cleaning them for speech."""

from __future__ import annotations

import pytest

from parrot.chat.speakable import SpeakableFilter, speakable
from parrot.text.phrases import PhraseCutter


def feed_all(cutter: PhraseCutter, pieces: list[str]) -> list[str]:
    phrases = [p for piece in pieces for p in cutter.feed(piece)]
    return phrases + cutter.flush()


def test_cutter_emits_each_sentence_as_soon_as_it_is_complete() -> None:
    cutter = PhraseCutter()
    assert cutter.feed("The capital of France") == []
    assert cutter.feed(" is Paris.") == []  # "." only ends a sentence once the next character arrives
    assert cutter.feed(" It is") == ["The capital of France is Paris."]
    assert cutter.flush() == ["It is"]


def test_first_phrase_may_end_at_an_early_comma() -> None:
    pieces = ["Well, ", "that is a good question, ", "and the answer is long, really long, ", "yes."]
    early = feed_all(PhraseCutter(first_clause_min_chars=4), pieces)
    assert early[0] == "Well,"
    normal = feed_all(PhraseCutter(), pieces)
    assert normal[0] != "Well,"
    assert " ".join(early) == " ".join(normal)  # nothing lost or repeated


def test_cutter_handles_chinese_and_abbreviations() -> None:
    chinese = feed_all(PhraseCutter(), ["法国的首都", "是巴黎。那是", "一座城市。"])
    assert chinese == ["法国的首都是巴黎。", "那是一座城市。"]
    assert feed_all(PhraseCutter(), ["Ask Dr. Smith ", "about it. ", "OK"]) == ["Ask Dr. Smith about it.", "OK"]


@pytest.mark.parametrize(
    ("written", "spoken"),
    [
        ("**Sure!** It is *really* easy.", "Sure! It is really easy."),
        ("# Title", "Title"),
        ("- first item", "first item"),
        ("2. second item", "second item"),
        ("See [the docs](https://example.com/x) now.", "See the docs now."),
        ("Visit https://example.com today 😀🎉!", "Visit today !"),
        ("Use `pip install` here.", "Use pip install here."),
        ("你好😀，世界！", "你好 ，世界！"),
        ("3 * 4 = 12", "3 4 = 12"),
    ],
)
def test_speakable_strips_markup_and_emoji(written: str, spoken: str) -> None:
    assert speakable(written) == spoken


def test_code_blocks_are_not_read_aloud_across_phrases() -> None:
    clean = SpeakableFilter()
    assert clean("Here is code: ```python") == "Here is code:"
    assert clean("print('hi')") == ""
    assert clean("``` That was it.") == "That was it."
