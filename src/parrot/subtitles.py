"""Subtitles: timed cues written as SubRip (``.srt``) or WebVTT (``.vtt``).

General on purpose: transcripts (``/v1/audio/transcriptions``) and captions of synthesized speech both
produce cues of start, end and text in seconds."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Cue:
    start: float  # seconds
    end: float
    text: str


def timestamp(seconds: float, decimal: str = ",") -> str:
    """``HH:MM:SS,mmm`` (SubRip) or, with ``decimal="."``, WebVTT's ``HH:MM:SS.mmm``; rounded to the
    millisecond, never negative."""
    millis = max(0, round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{decimal}{millis:03d}"


def _cleaned(cues: Iterable[Cue]) -> list[Cue]:
    """Cues with text, each ending no earlier than it starts; a blank line would end a cue early."""
    kept = []
    for cue in cues:
        text = "\n".join(line.strip() for line in cue.text.strip().splitlines() if line.strip())
        if text:
            kept.append(Cue(cue.start, max(cue.start, cue.end), text))
    return kept


def srt(cues: Iterable[Cue]) -> str:
    """SubRip: numbered blocks ``1\\n00:00:00,000 --> 00:00:01,500\\ntext``, separated by blank lines."""
    blocks = [
        f"{n}\n{timestamp(cue.start)} --> {timestamp(cue.end)}\n{cue.text}\n"
        for n, cue in enumerate(_cleaned(cues), start=1)
    ]
    return "\n".join(blocks)


def vtt(cues: Iterable[Cue]) -> str:
    """WebVTT: the ``WEBVTT`` header, then blocks ``00:00:00.000 --> 00:00:01.500\\ntext``."""
    blocks = [
        f"{timestamp(cue.start, '.')} --> {timestamp(cue.end, '.')}\n{cue.text.replace('-->', '->')}\n"
        for cue in _cleaned(cues)
    ]
    return "\n".join(["WEBVTT\n", *blocks])
