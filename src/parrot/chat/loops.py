"""Stopping a language model that goes round in circles.

Small models repeat themselves: asked for three facts they give one fact three times, or restate the same
list of landmarks sentence after sentence. A spoken answer cannot be skimmed, so a repetition is worse
aloud than on screen. ``RepetitionGuard`` sees each phrase of an answer before it is spoken and says when
one only repeats what was already said: the phrase is then dropped and the generation stopped.
"""

from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"\w+", re.UNICODE)
_HAN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
GRAM = 4  # words (or CJK characters) per n-gram
REPEATED_SHARE = 0.6  # a phrase whose n-grams were mostly said before is a repetition
MIN_GRAMS = 3  # n-grams a phrase needs before its share of repeated ones is judged
MIN_UNITS = 3  # a phrase said again word for word counts from this length ("Yes." may come twice)


def _units(text: str) -> list[str]:
    """Words, with every CJK character its own unit (they are written without spaces)."""
    units: list[str] = []
    for word in _WORD.findall(unicodedata.normalize("NFKC", text).casefold()):
        if _HAN.search(word):
            units.extend(word)
        else:
            units.append(word)
    return units


class RepetitionGuard:
    """Judges the phrases of one answer in order; ``repeats(phrase)`` is True for one that repeats."""

    def __init__(self) -> None:
        self._phrases: set[tuple[str, ...]] = set()
        self._grams: set[tuple[str, ...]] = set()
        self.stopped = False  # a repetition was seen: the rest of the answer should not be generated

    def repeats(self, phrase: str) -> bool:
        units = tuple(_units(phrase))
        if not units:
            return False
        grams = {units[i : i + GRAM] for i in range(len(units) - GRAM + 1)}
        repeated = (len(units) >= MIN_UNITS and units in self._phrases) or (
            len(grams) >= MIN_GRAMS and len(grams & self._grams) >= REPEATED_SHARE * len(grams)
        )
        self._phrases.add(units)
        self._grams |= grams
        self.stopped = self.stopped or repeated
        return repeated
