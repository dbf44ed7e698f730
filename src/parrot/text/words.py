"""Which phonemes of a chunk say which word of its text, so the model's durations time every word.

Words are Latin words (with their apostrophes and hyphens) and, in Chinese and Japanese, every character
(Mandarin is timed per character: one syllable each). The G2P separates words with spaces, but not always
as the text does: espeak runs function words together ("of the" -> ``ʌvðə``) and jieba joins characters into
words. So the phoneme string is cut into *groups* (at spaces, punctuation, and after each Mandarin tone
mark, which ends a syllable), and words are matched to groups by dynamic programming on their expected
sizes: one word to one group, several words to one group (split in proportion), or one word to several.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

_LATIN = r"[0-9A-Za-z\u00c0-\u024f]+"
_WORD = re.compile(rf"{_LATIN}(?:['’\-]{_LATIN})*|[\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_GROUP = re.compile(r"[^\s,.!?;:—…“”\"()'’«»¡¿]+")
_TONES = "→↗↘↓"
# A Mandarin syllable: up to its tone mark, then its coda (ŋ always; n unless a vowel or glide follows,
# when it begins the next syllable). A neutral-tone syllable has no mark and stays with the syllable before.
_SYLLABLE = re.compile(rf"[^{_TONES}]*[{_TONES}](?:ŋ|n(?![aeiouyəɛɤʊɪɚɑɔjwɥ]))?|[^{_TONES}]+$")
_MAX_RUN = 4  # at most this many words share one group, or one word spans this many groups


@dataclass(frozen=True)
class WordSpan:
    """A word: its characters ``[start, end)`` in the text and its phonemes ``[first, last)`` in the phonemes."""

    start: int
    end: int
    first: int
    last: int


def _expected(word: str) -> float:
    """Roughly how many phonemes a word makes: a syllable per CJK character, about one per Latin letter."""
    return 3.0 if len(word) == 1 and ord(word) >= 0x3040 else 0.9 * len(word)


def _groups(phonemes: str) -> list[tuple[int, int]]:
    groups = []
    for match in _GROUP.finditer(phonemes):
        piece = match.group()
        if any(t in piece for t in _TONES):
            for syllable in _SYLLABLE.finditer(piece):
                if syllable.group():
                    groups.append((match.start() + syllable.start(), match.start() + syllable.end()))
        else:
            groups.append(match.span())
    return groups


def word_spans(text: str, phonemes: str) -> list[WordSpan]:
    """The words of ``text`` with the phonemes (of ``phonemes``, made from ``text``) that say them, in order."""
    words = [m.span() for m in _WORD.finditer(text)]
    groups = _groups(phonemes)
    if not words or not groups:
        return []
    if len(words) == len(groups):
        return [WordSpan(w[0], w[1], g[0], g[1]) for w, g in zip(words, groups, strict=True)]
    sizes = [_expected(text[a:b]) for a, b in words]
    lengths = [b - a for a, b in groups]
    ratio = sum(lengths) / sum(sizes)
    return _matched(words, groups, sizes, lengths, ratio)


def _matched(
    words: list[tuple[int, int]],
    groups: list[tuple[int, int]],
    sizes: list[float],
    lengths: list[int],
    ratio: float,
) -> list[WordSpan]:
    """Monotonic matching of words to groups minimising how far each match's size is from the usual ratio."""
    n, m = len(words), len(groups)
    inf = math.inf
    cost = [[inf] * (m + 1) for _ in range(n + 1)]
    step: list[list[tuple[int, int]]] = [[(0, 0)] * (m + 1) for _ in range(n + 1)]
    cost[0][0] = 0.0
    moves = [(1, 1)] + [(k, 1) for k in range(2, _MAX_RUN + 1)] + [(1, k) for k in range(2, _MAX_RUN + 1)]
    for i in range(n + 1):
        for j in range(m + 1):
            if cost[i][j] == inf:
                continue
            for a, b in moves:
                if i + a > n or j + b > m:
                    continue
                said = sum(lengths[j : j + b])
                expected = sum(sizes[i : i + a]) * ratio
                c = cost[i][j] + abs(math.log(said / expected)) + (0.0 if a == b == 1 else 0.3 * (a + b - 2))
                if c < cost[i + a][j + b]:
                    cost[i + a][j + b] = c
                    step[i + a][j + b] = (a, b)
    if cost[n][m] == inf:  # more words than groups can absorb (or the reverse): spread them evenly
        return _spread(words, groups[0][0], groups[-1][1], sizes)
    spans: list[WordSpan] = []
    i, j = n, m
    while i or j:
        a, b = step[i][j]
        first, last = groups[j - b][0], groups[j - 1][1]
        spans[:0] = _spread(words[i - a : i], first, last, sizes[i - a : i])
        i, j = i - a, j - b
    return spans


def _spread(words: list[tuple[int, int]], first: int, last: int, sizes: list[float]) -> list[WordSpan]:
    """Words sharing the phonemes ``[first, last)``, each a share in proportion to its expected size (empty
    when there are more words than phonemes)."""
    total = sum(sizes)
    spans, done = [], 0.0
    for (start, end), size in zip(words, sizes, strict=True):
        a = first + round((last - first) * done / total)
        done += size
        spans.append(WordSpan(start, end, a, first + round((last - first) * done / total)))
    return spans
