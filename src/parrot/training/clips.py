"""Training recordings: decoded, checked, cut into pieces the model can take, and transcribed.

Each clip must be one person speaking (the checks of ``voices.reference.check_speech``: not shorter than a
second, not silent, not clipped, enough speech, no music). Long clips are cut at pauses into pieces of at
most ``MAX_PIECE_SECONDS``. A transcript given by the user is checked against what Whisper hears; a clip
without one is transcribed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from os import PathLike
from typing import TYPE_CHECKING

import numpy as np

from ..audio import AudioError, decode, resample
from ..errors import InputError
from ..evaluation import error_rate
from ..text.segment import split_languages
from ..voices.reference import RATE, check_speech

if TYPE_CHECKING:
    from ..asr import Recognizer

SAMPLE_RATE = 24_000
MAX_CLIP_SECONDS = 600.0
MAX_PIECE_SECONDS = 20.0
MIN_SPEECH_FRACTION = 0.35  # of a clip's length: music or noise with a little speech in it is refused
MAX_TRANSCRIPT_ERROR = 0.6  # a given transcript this far from what Whisper hears is not the clip's
_PAD = int(0.15 * RATE)
_HINT = "give recordings of one person speaking (10 s to a few minutes in all)"

ClipSource = str | PathLike[str] | bytes


@dataclass(frozen=True)
class Piece:
    """A stretch of one clip: 24 kHz audio and what is said in it."""

    audio: np.ndarray
    text: str
    language: str | None
    clip: int  # index of the clip it came from

    @property
    def seconds(self) -> float:
        return len(self.audio) / SAMPLE_RATE


def load_pieces(
    sources: list[ClipSource], recognizer: Recognizer, texts: list[str] | None = None, language: str | None = None
) -> list[Piece]:
    """Decode, check, cut and transcribe every clip. ``texts``: one transcript per clip, or None."""
    if not sources:
        raise InputError(f"no training recordings; {_HINT}")
    if texts is not None and len(texts) != len(sources):
        raise InputError(f"{len(texts)} transcripts for {len(sources)} clips; give one --text per clip, or none")
    pieces: list[Piece] = []
    for index, source in enumerate(sources):
        name = f"clip {index + 1}" if isinstance(source, bytes) else f"{source}"
        audio16, _ = decode(source, sample_rate=RATE, max_seconds=MAX_CLIP_SECONDS)
        spans = check_speech(audio16, what=name, hint=_HINT)
        speech = sum(e - s for s, e in spans)
        if speech < MIN_SPEECH_FRACTION * (spans[-1][1] - spans[0][0]):
            raise AudioError(f"{name} holds little speech ({speech / RATE:.1f} s); is it music or noise? {_HINT}")
        given = texts[index].strip() if texts is not None else None
        if given and len(spans) and (spans[-1][1] - spans[0][0]) / RATE > MAX_PIECE_SECONDS:
            raise InputError(
                f"{name} is longer than {MAX_PIECE_SECONDS:g} s of speech, too long to align with one transcript; "
                "cut it into shorter clips or leave out --text (it is then transcribed piece by piece)"
            )
        for start, end in _group(spans, int(MAX_PIECE_SECONDS * RATE)):
            segment = audio16[max(0, start - _PAD) : min(len(audio16), end + _PAD)]
            heard = recognizer.transcribe(segment, language=language or (text_language(given) if given else None))
            if given:
                text, lang = given, language or heard.language
                if not heard.text.strip() or error_rate(given, heard.text) > MAX_TRANSCRIPT_ERROR:
                    raise InputError(
                        f"the transcript of {name} does not match what is said in it (heard: {heard.text[:80]!r}); "
                        "give the exact words, or leave out --text to transcribe it"
                    )
            else:
                text, lang = heard.text.strip(), heard.language
                if not text:
                    raise AudioError(f"no words were recognised in {name}; {_HINT}")
            pieces.append(Piece(resample(segment, RATE, SAMPLE_RATE).astype(np.float32), text, lang, index))
    return pieces


def text_language(text: str) -> str | None:
    """The language most of ``text`` is written in (by script), to tell Whisper what to listen for."""
    counts: dict[str, int] = {}
    for segment in split_languages(text):
        counts[segment.lang] = counts.get(segment.lang, 0) + len(segment.text)
    return max(counts, key=lambda lang: counts[lang]) if counts else None


def _group(spans: list[tuple[int, int]], limit: int) -> list[tuple[int, int]]:
    """Consecutive speech spans joined into stretches of at most ``limit`` samples (a longer span is cut)."""
    groups: list[tuple[int, int]] = []
    for start, end in spans:
        while end - start > limit:
            groups.append((start, start + limit))
            start += limit
        if groups and end - groups[-1][0] <= limit:
            groups[-1] = (groups[-1][0], end)
        else:
            groups.append((start, end))
    return groups


def fingerprint(pieces: list[Piece]) -> str:
    """A digest of the training material (audio and transcripts), to check that a resume trains on the same."""
    digest = hashlib.sha256()
    for piece in pieces:
        digest.update(np.ascontiguousarray(piece.audio).tobytes())
        digest.update(piece.text.encode())
    return digest.hexdigest()[:16]
