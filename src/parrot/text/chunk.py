"""Cutting normalised text into phoneme chunks that fit the acoustic model, lazily.

Text is split into sentences, sentences into clauses only when they are too long, and clauses
into groups of whole words only when a clause alone is too long, so a word is never cut. Each
chunk records the pause that should follow it. The first chunk of a stream may be made short
(at a clause or word boundary) so audio starts sooner. Work is done one sentence at a time, so
memory stays flat for texts of any length.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .segment import Segment, split_languages

# Pause (seconds) after a chunk, by the punctuation that ends it.
_PAUSES: tuple[tuple[str, float], ...] = (
    ("\n", 0.45),
    ("。！？!?.…।", 0.30),
    ("；;：:", 0.20),
    ("，,、—", 0.12),
)
_SENTENCE = re.compile(r".+?(?:[。！？!?…।]+[”’\"')）]*|\.(?=\s|$)[”’\"')]*|\n+|$)", re.S)
_CLAUSE = re.compile(r".+?(?:[，,、；;：:—]+|$)", re.S)
_WORD = re.compile(
    r"[0-9A-Za-z\u00c0-\u024f'’\-]+\s*|[\uac00-\ud7a3]+\s*|[\u0900-\u0963\u0966-\u097f]+\s*|[\u3040-\u30ff\u31f0-\u31ff]+|[\u3400-\u4dbf\u4e00-\u9fff]+|\S\s*|\s+"
)

_MAX_JIEBA_RUN = 256  # characters of one Han run given to jieba at once

Phonemizer = Callable[[Segment], str]


@dataclass(frozen=True)
class Chunk:
    """A piece of text ready for the acoustic model."""

    text: str
    phonemes: str
    start: int  # offsets into the (normalised) text given to ``plan``
    end: int
    pause: float  # seconds of silence to put after this chunk's audio


def pause_after(text: str) -> float:
    tail = text.rstrip(" \t\"'”’)）")
    if text.endswith("\n"):
        return _PAUSES[0][1]
    if not tail:
        return 0.0
    for marks, seconds in _PAUSES[1:]:
        if tail[-1] in marks:
            return seconds
    return 0.0


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """``[start, end)`` of each sentence of ``text`` (as ``plan`` cuts them), without surrounding spaces."""
    spans = []
    for match in _SENTENCE.finditer(text):
        sentence = match.group()
        if sentence.strip():
            start = match.start() + len(sentence) - len(sentence.lstrip())
            spans.append((start, match.end() - (len(sentence) - len(sentence.rstrip()))))
    return spans


def plan(
    text: str,
    phonemize: Phonemizer,
    *,
    lang: str | None = None,
    max_phonemes: int = 480,
    first_max_phonemes: int | None = None,
) -> Iterator[Chunk]:
    """Yield chunks of at most ``max_phonemes`` phonemes (``first_max_phonemes`` for the first)."""
    limit = first_max_phonemes or max_phonemes
    for match in _SENTENCE.finditer(text):
        sentence = match.group()
        if not sentence.strip():
            continue
        for chunk in _split(sentence, match.start(), phonemize, lang, limit, max_phonemes):
            yield chunk
            limit = max_phonemes


def _phonemes(text: str, phonemize: Phonemizer, lang: str | None) -> str:
    parts = [phonemize(seg) for seg in split_languages(text, lang)]
    return " ".join(p for p in parts if p)


def _split(
    text: str, offset: int, phonemize: Phonemizer, lang: str | None, limit: int, max_phonemes: int
) -> Iterator[Chunk]:
    """Split one sentence; the first chunk obeys ``limit``, the rest ``max_phonemes``."""
    phonemes = _phonemes(text, phonemize, lang)
    if len(phonemes) <= limit:
        if phonemes:
            yield Chunk(text.strip(), phonemes, offset, offset + len(text), pause_after(text))
        return
    clauses = [m.group() for m in _CLAUSE.finditer(text) if m.group()]
    if len(clauses) == 1:
        pieces = _words(text)
        if len(pieces) == 1:  # one unsplittable token longer than the limit: cut the phonemes
            yield Chunk(text.strip(), phonemes[:limit], offset, offset + len(text), pause_after(text))
            return
    else:
        pieces = clauses
    yield from _pack(pieces, offset, phonemize, lang, limit, max_phonemes)


def _words(text: str) -> list[str]:
    """Whole words: Latin words, kana runs, and Han runs cut by jieba's dictionary."""
    pieces: list[str] = []
    for match in _WORD.finditer(text):
        piece = match.group()
        if len(piece) > 1 and "\u3400" <= piece[0] <= "\u9fff":
            import jieba

            # jieba's HMM pass grows with the square of a run of unknown characters: cut very long runs first.
            for start in range(0, len(piece), _MAX_JIEBA_RUN):
                pieces.extend(jieba.lcut(piece[start : start + _MAX_JIEBA_RUN]))
        else:
            pieces.append(piece)
    return pieces


def _pack(
    pieces: list[str], offset: int, phonemize: Phonemizer, lang: str | None, limit: int, max_phonemes: int
) -> Iterator[Chunk]:
    """Greedily join consecutive pieces while they fit; recurse into pieces that do not.

    Each piece is phonemized once and a group's size is the sum of its pieces' (plus the spaces joining
    them), so packing is linear in the length of the text; a group whose phonemes, made as a whole, still
    overflow is halved (see ``_emit``)."""
    group: list[str] = []
    group_start = offset
    pos = offset
    size = 0
    for piece in pieces:
        count = len(_phonemes(piece, phonemize, lang))
        if group and size + 1 + count > limit:
            yield from _emit(group, group_start, phonemize, lang, limit, max_phonemes)
            limit = max_phonemes
            group, group_start, size = [], pos, 0
        size += count + (1 if group else 0)
        group.append(piece)
        pos += len(piece)
    if group:
        yield from _emit(group, group_start, phonemize, lang, limit, max_phonemes)


def _emit(
    group: list[str], offset: int, phonemize: Phonemizer, lang: str | None, limit: int, max_phonemes: int
) -> Iterator[Chunk]:
    """One packed group as chunks: whole if its phonemes fit, else its halves (a single piece is split)."""
    text = "".join(group)
    if len(group) == 1 or len(_phonemes(text, phonemize, lang)) <= limit:
        yield from _split(text, offset, phonemize, lang, limit, max_phonemes)
        return
    half = len(group) // 2
    yield from _emit(group[:half], offset, phonemize, lang, limit, max_phonemes)
    yield from _emit(group[half:], offset + sum(map(len, group[:half])), phonemize, lang, max_phonemes, max_phonemes)
