"""Word and sentence timings of a speech, and the subtitles made from them.

Engines time the words of each chunk (``AudioChunk.words``, relative to the chunk); ``Parrot.stream`` sets
where each chunk starts (``AudioChunk.offset``). ``Timeline`` follows a stream chunk by chunk and gives every
word its time in the whole speech, and each sentence as soon as its last chunk has arrived, so streaming
clients get timings with their audio. ``subtitles`` writes them as SubRip, WebVTT or JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from .engines.base import AudioChunk, TimedText
from .errors import InputError
from .subtitles import Cue, srt, vtt
from .text.chunk import sentence_spans

SUBTITLE_FORMATS = ("srt", "vtt", "json")
MAX_CUE_CHARS = 84  # two lines of 42, the usual broadcast limit
MAX_CUE_SECONDS = 7.0


class Timeline:
    """The words and sentences of one speech, from its chunks in order. ``text``: the normalised text the
    chunks' character offsets point into (``SpeechStream.text``)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.words: list[TimedText] = []
        self.sentences: list[TimedText] = []
        self._pending = sentence_spans(text)  # sentences not yet complete
        self._heard: list[TimedText] = []  # words of the pending sentences

    def add(self, chunk: AudioChunk) -> tuple[list[TimedText], list[TimedText]]:
        """This chunk's words in speech time, and the sentences it completes."""
        words = [w.shifted(chunk.offset) for w in chunk.words]
        self.words += words
        self._heard += words
        done = []
        while self._pending and self._pending[0][1] <= max(chunk.end, max((w.last for w in words), default=0)):
            done += self._close(*self._pending.pop(0))
        return words, done

    def finish(self) -> list[TimedText]:
        """The sentences still open when the speech ends."""
        done = []
        while self._pending:
            done += self._close(*self._pending.pop(0))
        return done

    def _close(self, start: int, end: int) -> list[TimedText]:
        inside = [w for w in self._heard if start <= w.first < end]
        self._heard = [w for w in self._heard if w.first >= end]
        if not inside:  # a sentence with nothing timed (only symbols, or a sound)
            return []
        sentence = TimedText(self.text[start:end], inside[0].start, inside[-1].end, start, end)
        self.sentences.append(sentence)
        return [sentence]


def cues(text: str, sentences: Iterable[TimedText], words: list[TimedText]) -> list[Cue]:
    """Subtitle cues: one per sentence, long sentences cut between words to at most ``MAX_CUE_CHARS``
    characters and ``MAX_CUE_SECONDS`` seconds."""
    out: list[Cue] = []
    for sentence in sentences:
        inside = [w for w in words if sentence.first <= w.first < sentence.last]
        group: list[TimedText] = []
        for word in inside:
            if group and (word.last - group[0].first > MAX_CUE_CHARS or word.end - group[0].start > MAX_CUE_SECONDS):
                out.append(_cue(text, group, sentence))
                group = []
            group.append(word)
        if group:
            out.append(_cue(text, group, sentence))
    return out


def _cue(text: str, group: list[TimedText], sentence: TimedText) -> Cue:
    """A cue for consecutive words of ``sentence``: the text between them, with the sentence's trailing
    punctuation when the group ends the sentence."""
    last = group[-1].last
    if text[last : sentence.last].strip() and not any(c.isalnum() for c in text[last : sentence.last]):
        last = sentence.last
    return Cue(group[0].start, group[-1].end, text[group[0].first : last])


def timings_json(words: Iterable[TimedText], sentences: Iterable[TimedText]) -> dict[str, list[dict[str, object]]]:
    """``{"words": [...], "sentences": [...]}``, each item ``{"text", "start", "end"}`` (seconds, to the ms)."""
    return {"words": [as_json(w) for w in words], "sentences": [as_json(s) for s in sentences]}


def as_json(item: TimedText) -> dict[str, object]:
    return {"text": item.text, "start": round(item.start, 3), "end": round(item.end, 3)}


def subtitle_format(name: str) -> str:
    """The format of a subtitle file name or format name (``talk.srt`` -> ``srt``); ``InputError`` if unknown."""
    fmt = name.rsplit(".", 1)[-1].lower()
    if fmt not in SUBTITLE_FORMATS:
        raise InputError(f"subtitles must be .srt, .vtt or .json, not {name!r}")
    return fmt


def subtitles(fmt: str, text: str, words: list[TimedText], sentences: list[TimedText]) -> str:
    """Timed ``words`` and ``sentences`` of ``text`` (a ``Timeline``'s, or a ``Speech``'s) as ``srt``, ``vtt``
    or ``json`` text."""
    fmt = subtitle_format(fmt)
    if fmt == "json":
        return json.dumps(timings_json(words, sentences), ensure_ascii=False, indent=1) + "\n"
    made = cues(text, sentences, words)
    return srt(made) if fmt == "srt" else vtt(made)
