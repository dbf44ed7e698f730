"""Turning a language model's written answer into text worth reading aloud.

Models write markdown (``**bold**``, ``# headings``, ``- lists``, ``[links](url)``, code) and emoji even
when asked not to. Spoken, the markup would be read as symbols (or the phrase refused as having nothing
speakable), so each phrase is cleaned before synthesis; the text shown to the user keeps the original.
Code blocks are not read out: ``SpeakableFilter`` tracks ``` fences across phrases and replaces a block
with nothing.
"""

from __future__ import annotations

import re

_FENCE = re.compile(r"```|~~~")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_URL = re.compile(r"\bhttps?://\S+|\bwww\.\S+")
_INLINE_CODE = re.compile(r"`([^`]*)`")
_EMPHASIS = re.compile(r"(\*\*|__|\*|_|~~)(?=\S)(.+?)(?<=\S)\1")
_LINE_MARKUP = re.compile(r"(?m)^\s*(?:#{1,6}\s+|>\s*|[-*+•]\s+|\d{1,3}[.)]\s+(?=\D))")
_TABLE_RULE = re.compile(r"(?m)^\s*\|?\s*:?-{3,}.*$")
_LEFTOVER = re.compile(r"[*_#`|~<>^\\]+")
# Emoji and pictographs, dingbats, variation selectors, zero-width joiners, keycaps, flags.
_EMOJI = re.compile(
    "[\U0001f000-\U0001faff\U00002600-\U000027bf\U0001f1e6-\U0001f1ff\U00002b00-\U00002bff"
    "\U0000fe0e\U0000fe0f\U0000200d\U000020e3\U00002190-\U000021ff\U00002300-\U000023ff]"
)
_SPACES = re.compile(r"[ \t]{2,}")


def speakable(text: str) -> str:
    """``text`` without markdown markup, links' targets, URLs and emoji (words are kept)."""
    text = _LINK.sub(r"\1", text)
    text = _URL.sub(" ", text)
    text = _INLINE_CODE.sub(r"\1", text)
    text = _TABLE_RULE.sub(" ", text)
    text = _LINE_MARKUP.sub("", text)
    for _ in range(2):  # nested emphasis (***x***)
        text = _EMPHASIS.sub(r"\2", text)
    text = _EMOJI.sub(" ", text)
    text = _LEFTOVER.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


class SpeakableFilter:
    """Cleans consecutive phrases of one answer; text inside ``` code fences is dropped."""

    def __init__(self) -> None:
        self.in_code = False

    def __call__(self, phrase: str) -> str:
        kept: list[str] = []
        for i, part in enumerate(_FENCE.split(phrase)):
            if i > 0:
                self.in_code = not self.in_code
            if not self.in_code:
                kept.append(part)
        return speakable(" ".join(kept))
