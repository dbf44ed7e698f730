"""Cutting text that arrives piece by piece (a language model's tokens) into speakable phrases.

One phrase is spoken as soon as it is complete, so speech starts long before the whole text exists.
A phrase ends at a sentence end (。！？；.!?; or a newline) and, once the buffer is longer than
``clause_min_chars``, at a comma (，、,). A run without any punctuation is cut at a space after
``MAX_PHRASE_CHARS``. Used by the speech WebSocket and by voice chat.
"""

from __future__ import annotations

import re

CLAUSE_MIN_CHARS = 40  # cut at a comma only when the buffer is longer than this
MAX_PHRASE_CHARS = 300  # cut at a space when a run of text has no punctuation at all

_CLOSERS = re.escape("\"')]）」』”’»")  # quotes and brackets that stay with the sentence they close
_STRONG = re.compile(rf"(?:[。！？；]|\n)[{_CLOSERS}]*|[.!?;]+[{_CLOSERS}]*(?=\s)")
_CLAUSE = re.compile(r"[，、]|,(?=\s)")
_ABBREVIATION = re.compile(
    r"(?:\b(?:Mr|Mrs|Ms|Dr|Prof|St|Sr|Jr|vs|etc|e\.g|i\.e|No)|\b[A-Za-z])\.$", re.IGNORECASE
)


def split_phrases(
    buffer: str, final: bool = False, *, clause_min_chars: int = CLAUSE_MIN_CHARS
) -> tuple[list[str], str]:
    """Cut complete phrases off the front of ``buffer``; returns them and the incomplete rest. An ASCII
    '.', '!', '?', ';' or ',' only ends a phrase once the next character (a space) has arrived, so "3.14"
    and "e.g." split correctly. ``final`` returns everything. Phrases without a letter or digit (bare
    punctuation) are dropped."""
    phrases: list[str] = []
    while True:
        strong = next(
            (m for m in _STRONG.finditer(buffer) if not _ABBREVIATION.search(buffer[: m.end()])), None
        )
        clauses = list(_CLAUSE.finditer(buffer)) if len(buffer) > clause_min_chars else []
        if strong:
            cut = strong.end()
        elif clauses:
            cut = clauses[-1].end()
        elif len(buffer) > MAX_PHRASE_CHARS:
            cut = buffer.rfind(" ", 0, MAX_PHRASE_CHARS) + 1 or MAX_PHRASE_CHARS
        else:
            break
        phrases.append(buffer[:cut])
        buffer = buffer[cut:]
    if final:
        phrases.append(buffer)
        buffer = ""
    return [p.strip() for p in phrases if any(c.isalnum() for c in p)], buffer


class PhraseCutter:
    """Stateful wrapper over ``split_phrases``: ``feed`` text as it arrives, ``flush`` at the end.

    ``first_clause_min_chars`` lets the first phrase be cut at a comma sooner than the rest, so the first
    audio of an answer starts earlier (later phrases are longer and sound more natural).
    """

    def __init__(
        self, *, clause_min_chars: int = CLAUSE_MIN_CHARS, first_clause_min_chars: int | None = None
    ) -> None:
        self.buffer = ""
        self.clause_min_chars = clause_min_chars
        self.first_clause_min_chars = first_clause_min_chars if first_clause_min_chars is not None else clause_min_chars
        self.count = 0  # phrases returned so far

    def feed(self, text: str) -> list[str]:
        """Add ``text``; return the phrases it completes."""
        return self._cut(self.buffer + text, final=False)

    def flush(self) -> list[str]:
        """Return whatever is left as the last phrase(s)."""
        return self._cut(self.buffer, final=True)

    def _cut(self, buffer: str, final: bool) -> list[str]:
        limit = self.first_clause_min_chars if self.count == 0 else self.clause_min_chars
        phrases, self.buffer = split_phrases(buffer, final, clause_min_chars=limit)
        self.count += len(phrases)
        return phrases
