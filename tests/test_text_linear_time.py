"""Every text parser takes time linear in its input, whatever the input: pathological texts at the size
limit finish quickly, and doubling the size does not quadruple the time (issue 16: a 100 KB request must
never freeze the server)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

import pytest

from parrot.delivery.instruct import MAX_INSTRUCTION_CHARS, parse_instruction
from parrot.text.chunk import plan
from parrot.text.markup import parse_markup, rewrite_outside_markup
from parrot.text.normalize import normalize
from parrot.text.phrases import PhraseCutter
from parrot.text.segment import Segment, split_languages

pytestmark = pytest.mark.slow  # timings at the 100k size limit: about 45 s in all, and noisy on a busy machine
LIMIT = 100_000  # Settings.max_text_chars


def seconds(work: Callable[[str], object], text: str) -> float:
    """The best of three runs (a shared machine makes single timings noisy); errors are a valid outcome."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        with contextlib.suppress(ValueError):  # InputError: rejecting the text is fine, as long as it is quick
            work(text)
        best = min(best, time.perf_counter() - started)
    return best


def assert_linear(work: Callable[[str], object], make: Callable[[int], str], size: int, bound: float) -> None:
    small, large = seconds(work, make(size // 2)), seconds(work, make(size))
    assert large < bound, f"{large:.2f} s for {size:,} characters"
    assert large < 3 * small + 0.5, f"doubling the input took {small:.3f} s -> {large:.3f} s (super-linear)"


def markup_and_rewrite(text: str) -> None:
    rewrite_outside_markup(text, str.upper)
    parse_markup(text)


MARKUP = {
    "unclosed tag then spaces": lambda n: "<p" + " " * (n - 3) + "x",
    "pause tag then spaces": lambda n: "[pause:" + " " * (n - 7),
    "pause tags never closed": lambda n: "[pause:" * (n // 7),
    "tags never closed": lambda n: "<p " * (n // 3),
    "one long attribute name": lambda n: "<p " + "a" * (n - 4) + ">",
    "attribute spaces": lambda n: "<p a" + " " * (n - 5) + ">",
    "unclosed quote": lambda n: '<p a="' + "x" * (n - 6) + ">",
    "deep nesting": lambda n: "<strong>x" * (n // 9),
    "deep prosody nesting": lambda n: "<prosody rate='slow'>x" * (n // 22),
    "closing tags never opened": lambda n: "<strong>" * (n // 16) + "</p>" * (n // 8),
    "many merged words": lambda n: "x<s/>" * (n // 5),
    "angle brackets": lambda n: "<" * n,
}


def one_feed(text: str) -> None:
    cutter = PhraseCutter()
    cutter.feed(text)
    cutter.flush()


def small_feeds(text: str) -> None:
    cutter = PhraseCutter()
    for i in range(0, len(text), 3):
        cutter.feed(text[i : i + 3])
    cutter.flush()


PHRASES = {
    "abbreviations": lambda n: "a. " * (n // 3),
    "sentence ends": lambda n: "Hi. " * (n // 4),
    "no punctuation": lambda n: "word " * (n // 5),
    "one long word": lambda n: "x" * n,
    "commas": lambda n: "a, " * (n // 3),
    "full stops": lambda n: "。" * n,
}


NORMALIZER = {
    "digits": lambda n: "1" * n,
    "spaced digits": lambda n: "1 " * (n // 2),
    "percentages": lambda n: "1%" * (n // 2),
    "phone-like": lambda n: "+1 " * (n // 3),
    "multiplication": lambda n: "1×" * (n // 2),
    "Chinese with digits": lambda n: "中1" * (n // 2),
    "addresses": lambda n: "a@" * (n // 2),
    "dotted numbers": lambda n: "1.0." * (n // 4),
    "spaces then a letter": lambda n: " " * (n - 1) + "x",
    "Korean with digits": lambda n: "가1" * (n // 2),
    "Korean counters": lambda n: "3개" * (n // 2),
    "Korean dates and phones": lambda n: "010-1234-5678 2024-03-05 가" * (n // 27),
    "acronyms in Korean": lambda n: "KT가" * (n // 3),
    "Hindi with digits": lambda n: "क1," * (n // 3),
}


SEGMENTS = {
    "exclamations": lambda n: "!" * n + "a",
    "full-width punctuation": lambda n: "！" * n,
    "alternating scripts": lambda n: "中a" * (n // 2),
    "kana": lambda n: "あ" * n,
    "Hangul": lambda n: "가" * n,
    "Hangul and Latin": lambda n: "가a" * (n // 2),
    "Devanagari and danda": lambda n: "क।" * (n // 2),
}


def letters(segment: Segment) -> str:  # a stand-in phonemizer: one phoneme per letter
    return "".join(c for c in segment.text if c.isalnum())


PLANS = {
    "dots then a letter": lambda n: "a" + "." * n + "x",
    "one long sentence": lambda n: "word " * (n // 5),
    "Han without punctuation": lambda n: "中" * n,
    "clauses": lambda n: "ab, " * (n // 4),
    "Hangul without punctuation": lambda n: "가" * n,
    "Hindi sentences": lambda n: "क ख।" * (n // 4),
}


def plan_all(text: str) -> None:
    list(plan(text, letters))


# (parser, its pathological inputs, input size, bound in seconds at that size)
PARSERS = {
    "markup": (markup_and_rewrite, MARKUP, LIMIT, 2.0),
    "phrases, one feed": (one_feed, PHRASES, LIMIT, 2.0),
    "phrases, 10,000 feeds": (small_feeds, PHRASES, 30_000, 2.0),
    "normalizer and number readers": (normalize, NORMALIZER, LIMIT // 2, 4.0),
    "language split": (split_languages, SEGMENTS, LIMIT, 2.0),
    "chunk planning": (plan_all, PLANS, 20_000, 3.0),
}


@pytest.mark.parametrize(("parser", "case"), [(p, c) for p, (_, cases, _, _) in PARSERS.items() for c in sorted(cases)])
def test_parser_is_linear(parser: str, case: str) -> None:
    work, cases, size, bound = PARSERS[parser]
    assert_linear(work, cases[case], size, bound)


@pytest.mark.parametrize("text", ["very " * 100, "don't " * 83, "'" * 500, "慢" * 500, "x" + "，" * 498 + "y"])
def test_instructions_are_bounded(text: str) -> None:
    assert seconds(parse_instruction, text[:MAX_INSTRUCTION_CHARS]) < 0.2
