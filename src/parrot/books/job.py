"""A book job in a work folder: the plan, one file per finished segment, then the chaptered result.

The folder holds ``plan.json`` (the chapters and their segments, the voice and settings; written once),
``segments/CCCC-SSSSS.npz`` (a segment's audio and its subtitle cues, each written atomically when the
segment is finished) and, at the end, ``book.<fmt>`` and ``book.srt``. ``steps`` skips the segments that
already have a file, so a job that was killed (Ctrl-C, a crash, a server restart) continues where it
stopped: nothing is synthesized twice and no chapter is lost. The result depends only on the segment files,
so a resumed job gives the same bytes as one that ran through.

Each ``next()`` of ``steps`` is one model call (one chunk of speech), so the server's scheduler can
interleave a book with interactive requests chunk by chunk; memory stays flat whatever the book's length
(one segment's audio at a time; the result is encoded straight to the file).
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from ..audio import BOOK_FORMATS, ChapteredFileEncoder, ChapterMark
from ..errors import InputError
from ..files import write_atomically
from ..subtitles import Cue, srt
from .document import Book, BookError, Chapter

if TYPE_CHECKING:
    from ..api import Parrot
    from ..engines.base import AudioChunk

PLAN = "plan.json"
SEGMENT_PAUSE = 0.5  # seconds of silence after a paragraph
TITLE_PAUSE = 1.0  # after a spoken chapter title
CHAPTER_PAUSE = 1.5  # after a chapter's last paragraph
Stage = Literal["synthesizing", "encoding", "done"]


@dataclass(frozen=True)
class BookSettings:
    voice: str | None = None
    speed: float = 1.0
    lang: str | None = None
    format: str = "m4b"  # see audio.BOOK_FORMATS


@dataclass(frozen=True)
class Progress:
    stage: Stage
    segments_done: int
    segments_total: int
    chapter: int  # 1-based chapter being worked on
    chapters: int
    audio_seconds: float  # of finished segments, pauses left out

    @property
    def fraction(self) -> float:
        synthesis = self.segments_done / max(1, self.segments_total)
        return 1.0 if self.stage == "done" else min(0.99, synthesis * 0.97 + (0.02 if self.stage == "encoding" else 0))


def segment_cues(chunks: list[AudioChunk]) -> list[Cue]:
    """The subtitle cues of one segment from its chunks, in seconds from the segment's start. This is the
    one place that decides cue granularity (today one cue per chunk, i.e. per sentence or phrase)."""
    cues, at = [], 0.0
    for chunk in chunks:
        if chunk.text.strip():
            cues.append(Cue(at, at + chunk.duration, chunk.text.strip()))
        at += chunk.duration
    return cues


class BookJob:
    """A book in its work folder; see the module docstring."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        try:
            plan = json.loads((self.folder / PLAN).read_text(encoding="utf-8"))
            self.title: str = plan["title"]
            self.settings = BookSettings(**plan["settings"])
            self.chapters = tuple(Chapter(c["title"], tuple(c["segments"])) for c in plan["chapters"])
            self.source: str = plan.get("source", "")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise BookError(f"{self.folder} is not a readable book job ({exc})") from exc

    @classmethod
    def create(cls, folder: Path, book: Book, settings: BookSettings, source: str = "") -> BookJob:
        """A new job in ``folder`` (made if missing; must not hold another job)."""
        if settings.format not in BOOK_FORMATS:
            raise InputError(f"format must be one of: {', '.join(BOOK_FORMATS)}")
        folder = Path(folder)
        (folder / "segments").mkdir(parents=True, exist_ok=True)
        plan = {
            "title": book.title, "source": source, "settings": asdict(settings),
            "chapters": [{"title": c.title, "segments": list(c.segments)} for c in book.chapters],
        }  # fmt: skip
        write_atomically(folder / PLAN, json.dumps(plan, ensure_ascii=False).encode())
        return cls(folder)

    # -- where things are ----------------------------------------------------------------------------

    @property
    def output(self) -> Path:
        return self.folder / f"book.{self.settings.format}"

    @property
    def subtitles(self) -> Path:
        return self.folder / "book.srt"

    @property
    def segments_total(self) -> int:
        return sum(len(c.segments) for c in self.chapters)

    def _segment(self, chapter: int, index: int) -> Path:
        return self.folder / "segments" / f"{chapter:04d}-{index:05d}.npz"

    def segments_done(self) -> int:
        return sum(
            1 for c, ch in enumerate(self.chapters) for s in range(len(ch.segments)) if self._segment(c, s).exists()
        )

    @property
    def finished(self) -> bool:
        return self.output.exists() and self.subtitles.exists()

    def progress(self, stage: Stage | None = None, chapter: int = 0) -> Progress:
        done = self.segments_done()
        stage = stage or ("done" if self.finished else "synthesizing")
        return Progress(stage, done, self.segments_total, chapter or 1, len(self.chapters), 0.0)

    # -- the work ------------------------------------------------------------------------------------

    def steps(self, tts: Parrot) -> Iterator[Progress]:
        """Synthesize every missing segment (one model call per ``next()``), then write the result."""
        voice = tts.voice(self.settings.voice)  # an unknown voice fails before any work
        total, done, seconds = self.segments_total, self.segments_done(), 0.0
        for c, chapter in enumerate(self.chapters):
            for s, text in enumerate(chapter.segments):
                path = self._segment(c, s)
                if path.exists():
                    continue
                chunks: list[AudioChunk] = []
                try:
                    stream = tts.stream(
                        text, voice, speed=self.settings.speed, lang=self.settings.lang, fast_start=False
                    )
                except InputError:  # nothing speakable here (only symbols, say): a silent segment
                    stream = iter(())
                for chunk in stream:
                    chunks.append(chunk)
                    yield Progress("synthesizing", done, total, c + 1, len(self.chapters), seconds)
                audio = (
                    np.concatenate([x.audio for x in chunks]).astype(np.float32) if chunks else np.zeros(0, np.float32)
                )
                _save_segment(path, audio, segment_cues(chunks))
                done += 1
                seconds += len(audio) / tts.sample_rate
                yield Progress("synthesizing", done, total, c + 1, len(self.chapters), seconds)
        yield from self._write_result(tts.sample_rate)

    def _write_result(self, sample_rate: int) -> Iterator[Progress]:
        """Encode the segments into ``book.<fmt>`` with chapter marks and ``book.srt`` (both atomically),
        one chapter per ``next()``."""
        total = self.segments_total
        layout: list[list[tuple[Path, int, int]]] = []  # per chapter: (segment, samples, pause samples)
        marks, cues, at = [], [], 0
        for c, chapter in enumerate(self.chapters):
            start, rows = at, []
            for s, text in enumerate(chapter.segments):
                samples, segment_cues_ = _segment_meta(self._segment(c, s))
                last = s == len(chapter.segments) - 1
                pause = CHAPTER_PAUSE if last else TITLE_PAUSE if s == 0 and text == chapter.title else SEGMENT_PAUSE
                cues += [
                    Cue(cue.start + at / sample_rate, cue.end + at / sample_rate, cue.text) for cue in segment_cues_
                ]
                rows.append((self._segment(c, s), samples, round(pause * sample_rate)))
                at += samples + rows[-1][2]
            layout.append(rows)
            marks.append(ChapterMark(chapter.title, start, at))
        partial = self.output.with_name(f".{self.output.name}.part")
        encoder = ChapteredFileEncoder(partial, self.settings.format, sample_rate, marks, self.title)
        try:
            for c, rows in enumerate(layout):
                for path, _samples, pause in rows:
                    encoder.write(_segment_audio(path))
                    encoder.write(np.zeros(pause, np.float32))
                yield Progress("encoding", total, total, c + 1, len(self.chapters), at / sample_rate)
            encoder.close()
            os.replace(partial, self.output)
        finally:
            encoder.close()
            partial.unlink(missing_ok=True)
        write_atomically(self.subtitles, srt(cues).encode())
        yield Progress("done", total, total, len(self.chapters), len(self.chapters), at / sample_rate)


def _save_segment(path: Path, audio: np.ndarray, cues: list[Cue]) -> None:
    meta = json.dumps({"samples": len(audio), "cues": [[c.start, c.end, c.text] for c in cues]}, ensure_ascii=False)
    buffer = io.BytesIO()
    np.savez(buffer, audio=audio, meta=np.array(meta))
    write_atomically(path, buffer.getvalue())


def _segment_meta(path: Path) -> tuple[int, list[Cue]]:
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
    return int(meta["samples"]), [Cue(float(a), float(b), str(t)) for a, b, t in meta["cues"]]


def _segment_audio(path: Path) -> np.ndarray:
    with np.load(path, allow_pickle=False) as data:
        return np.asarray(data["audio"], dtype=np.float32)
