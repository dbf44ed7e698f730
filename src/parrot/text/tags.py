"""Markup that must never be spoken: CosyVoice inline tags, pause tags, an SSML subset, language tags.

The embedded engine cannot yet act on these (breaths, laughter, emphasis, pauses), so they are
removed before normalisation rather than read out as words; ``strip_tags`` reports what it removed
so callers can tell the user.
"""

from __future__ import annotations

import re

_TAGS = re.compile(
    r"\[(?:breath|laughter|noise|cough|sigh|clucking|accent|quick_breath|hissing|vocalized-noise|lipsmack|mn)\]"
    r"|\[pause:\s*\d+(?:\.\d+)?\s*m?s\]"
    r"|</?(?:strong|laughter|emphasis|prosody|say-as|speak|voice|lang|s|p)(?:\s[^<>]*)?>"
    r"|<break(?:\s[^<>]*)?/?>"
    r"|<\|(?:zh|en|ja|yue|ko|jp)\|>",
    re.IGNORECASE,
)


def strip_tags(text: str) -> tuple[str, list[str]]:
    """``text`` without markup (a tag becomes a space) and the tags that were removed, in order."""
    found = [m.group() for m in _TAGS.finditer(text)]
    return (_TAGS.sub(" ", text) if found else text), found
