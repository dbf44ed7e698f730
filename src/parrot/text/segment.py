"""Splitting text into single-language runs by script.

Hangul is Korean, Devanagari is Hindi, kana is Japanese, and Han characters are Japanese when the
sentence around them contains kana and Mandarin otherwise (or whatever ``lang`` forces). Latin
letters are English unless ``lang`` forces another Latin-script language (Spanish, French, Italian,
Portuguese): the script alone cannot tell those apart. Punctuation and spaces stay with the run they
follow. Scripts the engine cannot speak raise a clear error.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from ..errors import UnsupportedLanguageError

LANGUAGES: dict[str, str] = {
    "zh": "Mandarin Chinese",
    "en": "English",
    "ja": "Japanese",
    "ko": "Korean",
    "es": "Spanish",
    "fr": "French",
    "it": "Italian",
    "pt": "Brazilian Portuguese",
    "hi": "Hindi",
}
LATIN_LANGUAGES = ("en", "es", "fr", "it", "pt")  # written in Latin letters: told apart only by ``lang``
_ALIASES = {
    "cmn": "zh", "chinese": "zh", "mandarin": "zh", "english": "en", "japanese": "ja", "jp": "ja",
    "korean": "ko", "kor": "ko", "spanish": "es", "spa": "es", "french": "fr", "fra": "fr", "italian": "it",
    "ita": "it", "portuguese": "pt", "por": "pt", "hindi": "hi", "hin": "hi",
}  # fmt: skip

_UNSUPPORTED_SCRIPTS: tuple[tuple[int, int, str], ...] = (
    (0x0370, 0x03FF, "Greek"),
    (0x0400, 0x052F, "Cyrillic (e.g. Russian)"),
    (0x0590, 0x05FF, "Hebrew"),
    (0x0600, 0x06FF, "Arabic"),
    (0x0750, 0x077F, "Arabic"),
    (0x0980, 0x0DFF, "an Indic script other than Devanagari (e.g. Bengali, Tamil)"),
    (0x0E00, 0x0E7F, "Thai"),
    (0x0E80, 0x0EFF, "Lao"),
    (0x10A0, 0x10FF, "Georgian"),
    (0x0530, 0x058F, "Armenian"),
    (0x1780, 0x17FF, "Khmer"),
)

_SENTENCE_END = re.compile(r"[。！？!?\n।]")


@dataclass(frozen=True)
class Segment:
    """A run of text in one language; ``start``/``end`` index the text it came from."""

    lang: str
    text: str
    start: int
    end: int


def char_class(ch: str) -> str:
    """'han', 'kana', 'hangul', 'deva', 'latin', 'neutral' (punctuation, spaces, digits) or 'drop' (emoji...)."""
    cp = ord(ch)
    if 0xAC00 <= cp <= 0xD7A3 or 0x1100 <= cp <= 0x11FF or 0x3130 <= cp <= 0x318F:
        return "hangul"
    if 0x0900 <= cp <= 0x097F and cp not in (0x0964, 0x0965):  # the danda marks are punctuation
        return "deva"
    if 0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0xF900 <= cp <= 0xFAFF or 0x20000 <= cp <= 0x2FFFF:
        return "han"
    if 0x3040 <= cp <= 0x30FF or 0x31F0 <= cp <= 0x31FF or 0xFF66 <= cp <= 0xFF9F:
        return "kana"
    if ch.isascii():
        return "latin" if ch.isalpha() else "neutral"
    category = unicodedata.category(ch)
    if category.startswith("L"):
        if cp <= 0x024F or 0x1E00 <= cp <= 0x1EFF:
            return "latin"
        return "other"
    if category.startswith("M"):
        return "neutral"
    if category in ("So", "Sk", "Cs", "Co", "Cn") or cp in (0x200D, 0xFE0F):
        return "drop"
    return "neutral"


def unsupported_script(ch: str) -> str:
    cp = ord(ch)
    for lo, hi, name in _UNSUPPORTED_SCRIPTS:
        if lo <= cp <= hi:
            return name
    return f"the {unicodedata.name(ch, 'unknown').split()[0].title()} script"


def check_language(lang: object) -> str | None:
    """Validate a requested language code ('auto'/None means detect)."""
    if lang is None or lang == "auto":
        return None
    if not isinstance(lang, str):
        raise UnsupportedLanguageError(f"language must be a code such as en or zh, got {type(lang).__name__}")
    code = lang.lower().split("-")[0].split("_")[0]
    code = _ALIASES.get(code, code)
    if code not in LANGUAGES:
        raise UnsupportedLanguageError(
            f"language {lang!r} is not supported; use one of: {_supported()} or auto"
        )
    return code


def _supported() -> str:
    return ", ".join(f"{code} ({name})" for code, name in LANGUAGES.items())


def split_languages(text: str, lang: str | None = None) -> list[Segment]:
    """Split ``text`` into runs of one language each, in order. Emoji and symbols are dropped."""
    forced = check_language(lang)
    runs: list[_Run] = []
    pos = 0
    for sentence in _sentences(text):
        han_lang = forced if forced in ("zh", "ja") else None
        if han_lang is None:
            han_lang = "ja" if any(char_class(c) == "kana" for c in sentence) else "zh"
        latin_lang = forced if forced in LATIN_LANGUAGES else "en"
        _split_sentence(sentence, pos, han_lang, latin_lang, forced or latin_lang, runs)
        pos += len(sentence)
    segments = (Segment(run.lang, "".join(run.parts), run.start, run.end) for run in runs)
    return [s for s in segments if any(c.isalnum() for c in s.text)]


@dataclass
class _Run:
    """A segment being built: its text in parts, joined once at the end (linear time however many merge)."""

    lang: str
    parts: list[str]
    start: int
    end: int


def _sentences(text: str) -> list[str]:
    parts: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        parts.append(text[start : match.end()])
        start = match.end()
    if start < len(text):
        parts.append(text[start:])
    return parts


def _split_sentence(
    sentence: str, offset: int, han_lang: str, latin_lang: str, neutral_lang: str, out: list[_Run]
) -> None:
    current: str | None = None
    buf: list[str] = []
    buf_start = offset

    def flush(end: int) -> None:
        nonlocal buf, buf_start
        if buf and current is not None:
            if out and out[-1].lang == current and out[-1].end == buf_start:
                out[-1].parts.append("".join(buf))
                out[-1].end = end
            else:
                out.append(_Run(current, ["".join(buf)], buf_start, end))
        buf = []
        buf_start = end

    for i, ch in enumerate(sentence):
        cls = char_class(ch)
        if cls == "other":
            raise UnsupportedLanguageError(
                f"the text contains {unsupported_script(ch)} ({ch!r} at character {offset + i}); "
                f"the embedded engine speaks {_supported()}"
            )
        if cls == "drop":
            continue
        lang = {"han": han_lang, "kana": "ja", "hangul": "ko", "deva": "hi", "latin": latin_lang}.get(cls)
        if lang is None:  # neutral: stays with the current run (or the next one, at the start)
            buf.append(ch)
            continue
        if lang != current:
            if current is not None:
                flush(offset + i)
            current = lang
        buf.append(ch)
    if current is None:
        current = neutral_lang
    flush(offset + len(sentence))
