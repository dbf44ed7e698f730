"""Matching a chunk's words to the phonemes that say them (``parrot.text.words``)."""

from __future__ import annotations

from parrot.text.words import word_spans


def said(text: str, phonemes: str) -> list[tuple[str, str]]:
    return [(text[w.start : w.end], phonemes[w.first : w.last]) for w in word_spans(text, phonemes)]


def test_one_group_per_word() -> None:
    assert said("Hello there, friend.", "həlˈO ðˈɛɹ, fɹˈɛnd.") == [
        ("Hello", "həlˈO"), ("there", "ðˈɛɹ"), ("friend", "fɹˈɛnd"),
    ]  # fmt: skip


def test_words_espeak_runs_together_share_their_group_in_order() -> None:
    text = "books in a row of the day"
    spans = word_spans(text, "bˈʊks ˌɪnə ɹˈO ʌvðə dˈA")
    assert [text[w.start : w.end] for w in spans] == text.split()
    assert all(a.last <= b.first for a, b in zip(spans, spans[1:], strict=False))  # in order, no overlap
    assert all(w.first < w.last for w in spans)  # every word gets some phonemes
    pairs = said(text, "bˈʊks ˌɪnə ɹˈO ʌvðə dˈA")
    assert pairs[0] == ("books", "bˈʊks") and pairs[3] == ("row", "ɹˈO") and pairs[-1] == ("day", "dˈA")
    assert pairs[1][1] + pairs[2][1] == "ˌɪnə" and pairs[4][1] + pairs[5][1] == "ʌvðə"


def test_mandarin_is_timed_per_character_with_codas_kept() -> None:
    text = "今天很好，我们散步。"
    assert said(text, "ʨi→ntʰjɛ→n xə↗nxau↓, wo↓mən sa↘npu↘.") == [
        ("今", "ʨi→n"), ("天", "tʰjɛ→n"), ("很", "xə↗n"), ("好", "xau↓"), ("我", "wo↓"), ("们", "mən"),
        ("散", "sa↘n"), ("步", "pu↘"),
    ]  # fmt: skip
    # an n before a vowel begins the next syllable (西安 xi an, 你 ni)
    assert said("你你", "ni↓ni↓") == [("你", "ni↓"), ("你", "ni↓")]


def test_mixed_languages_and_nothing_to_time() -> None:
    assert [w for w, _ in said("我爱 Python", "wo↓ aɪ↘ pˈIθɑn")] == ["我", "爱", "Python"]
    assert word_spans("...", "...") == []
    assert word_spans("", "") == []


def test_more_words_than_the_matching_can_absorb_are_spread_evenly() -> None:
    text = "a b c d e f g h i j"
    spans = word_spans(text, "ɐ")
    assert [text[w.start : w.end] for w in spans] == text.split()
    assert all(0 <= w.first <= w.last <= 1 for w in spans)
    assert all(a.last <= b.first for a, b in zip(spans, spans[1:], strict=False))
