"""Intelligibility scoring: canonical text, and the token error rate (CER for Chinese/Japanese, WER for
English). Training checks a given transcript against what Whisper hears with it; tests and benchmarks
score speech with it (``parrot_dev.evaluation`` re-exports it beside the delivery measures).

Texts are put in one canonical form before comparing: numbers spelled out by Parrot's own normaliser,
traditional Chinese mapped to simplified (``zhconv``), punctuation dropped, case folded.
"""

from __future__ import annotations

import re
import unicodedata

from .text.normalize import normalize

# Scripts scored per character (CER): kana, Han, Hangul syllables, Devanagari.
_CHARACTER_SCRIPTS = r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7a3\u0900-\u097f"
# One token per such character, one per run of anything else: 去Starbucks喝 -> 去, starbucks, 喝.
_TOKEN = re.compile(rf"[{_CHARACTER_SCRIPTS}]|[^{_CHARACTER_SCRIPTS}]+")


def canonical(text: str, lang: str | None = None) -> str:
    """Lower-case words (or CJK characters) without punctuation, numbers spelled out (in ``lang``)."""
    from zhconv import convert

    text = convert(normalize(text, lang), "zh-cn").lower()
    kept = [
        ch if unicodedata.category(ch)[0] in "LNM" or ch == "'" else " " for ch in unicodedata.normalize("NFKC", text)
    ]
    return " ".join("".join(kept).replace("-", " ").split())


def tokens(text: str, lang: str | None = None) -> list[str]:
    """Words for alphabetic text, single characters for CJK, Hangul and Devanagari (so CER and WER mix)."""
    return [token for word in canonical(text, lang).split() for token in _TOKEN.findall(word)]


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i]
        for j, h in enumerate(hyp, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = current
    return previous[-1]


def error_rate(reference: str, hypothesis: str, lang: str | None = None) -> float:
    """Token error rate: CER for Chinese/Japanese/Korean/Hindi, WER for Latin scripts, mixed for mixed text."""
    ref = tokens(reference, lang)
    if not ref:
        raise ValueError("reference has no words")
    return edit_distance(ref, tokens(hypothesis, lang)) / len(ref)
