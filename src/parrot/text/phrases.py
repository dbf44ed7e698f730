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
    punctuation) are dropped.

    One pass over ``buffer`` (linear time): the sentence ends are visited in order, each judged once."""
    cuts: list[int] = []
    pos = 0
    strong = _StrongBreaks(buffer)
    last_clause = max((m.end() for m in _CLAUSE.finditer(buffer)), default=0)
    while True:
        end = strong.next(pos)
        if end is not None:
            cut = end
        elif last_clause > pos and len(buffer) - pos > clause_min_chars:
            cut = last_clause
        elif len(buffer) - pos > MAX_PHRASE_CHARS:
            space = buffer.rfind(" ", pos, pos + MAX_PHRASE_CHARS)
            cut = space + 1 if space >= 0 else pos + MAX_PHRASE_CHARS
        else:
            break
        cuts.append(cut)
        pos = cut
    if final:
        cuts.append(len(buffer))
    phrases = [buffer[a:b] for a, b in zip([0, *cuts], cuts, strict=False)]
    return [p.strip() for p in phrases if any(c.isalnum() for c in p)], buffer[cuts[-1] if cuts else 0 :]


class _StrongBreaks:
    """The sentence ends of ``text`` in order, skipping abbreviations ("Dr.", "e.g.", "A."), each judged once."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._matches = _STRONG.finditer(text)
        self._current = next(self._matches, None)

    def next(self, pos: int) -> int | None:
        """The end of the first sentence end at or after ``pos`` (the start of the phrase being cut)."""
        while self._current is not None:
            match = self._current
            if match.start() < pos:  # cut past it (or through it: search again from the cut)
                self._matches = _STRONG.finditer(self.text, pos)
                self._current = next(self._matches, None)
                continue
            # An abbreviation is at most 5 characters before the end, plus one for the word boundary.
            if not _ABBREVIATION.search(self.text[max(pos, match.end() - 7) : match.end()]):
                return match.end()
            self._current = next(self._matches, None)
        return None


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
