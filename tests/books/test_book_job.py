"""Book jobs with the real model: resume after a kill gives the identical result, nothing is synthesized
twice, chapter marks are readable, and the command line refuses bad input clearly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from epubs import epub

from parrot.audio import decode, read_chapters
from parrot.books.document import read_book
from parrot.books.job import BookJob, BookSettings

TEXT = (
    "# A Short Book\n\n## Morning\n\nThe sun rose over the quiet town. Birds began to sing.\n\n"
    "A parrot woke up.\n\n## Evening\n\nThe lights went on, one by one.\n\n## 夜晚\n\n月亮升起来了。\n"
)
PARROT = [sys.executable, "-m", "parrot.cli"]


class CountingTTS:
    """The real Parrot, counting the texts it is asked to speak."""

    def __init__(self, tts) -> None:
        self._tts = tts
        self.spoken: list[str] = []

    def __getattr__(self, name: str):
        return getattr(self._tts, name)

    def stream(self, text: str, *args, **kwargs):
        self.spoken.append(text)
        return self._tts.stream(text, *args, **kwargs)


def run_job(folder: Path, tts, fmt: str = "m4b", stop_after: int | None = None) -> BookJob:
    job = (
        BookJob.create(folder, read_book(TEXT.encode(), "md"), BookSettings(format=fmt), "book.md")
        if not (folder / "plan.json").exists()
        else BookJob(folder)
    )
    for progress in job.steps(tts):
        if stop_after is not None and progress.segments_done >= stop_after:
            break  # as if killed here: segment files are atomic, so any point is like this one
    return job


def test_interrupted_job_resumes_without_resynthesizing(tts, tmp_path: Path):
    whole = run_job(tmp_path / "whole", tts)
    counting = CountingTTS(tts)
    run_job(tmp_path / "cut", counting, stop_after=3)
    assert len(counting.spoken) == 3
    resumed = CountingTTS(tts)
    job = run_job(tmp_path / "cut", resumed)
    assert len(resumed.spoken) == job.segments_total - 3  # nothing synthesized twice
    assert job.output.read_bytes() == whole.output.read_bytes()
    assert job.subtitles.read_bytes() == whole.subtitles.read_bytes()


@pytest.mark.parametrize("fmt", ["m4b", "mp3"])
def test_chapter_marks_are_readable(tts, tmp_path: Path, fmt: str):
    job = run_job(tmp_path, tts, fmt)
    chapters = read_chapters(job.output)  # libavformat, as ffprobe reads them
    assert [title for title, _, _ in chapters] == ["Morning", "Evening", "夜晚"]
    assert chapters[0][1] == 0.0
    assert all(a[2] == pytest.approx(b[1], abs=0.002) for a, b in zip(chapters, chapters[1:], strict=False))
    audio, rate = decode(job.output.read_bytes())
    assert chapters[-1][2] == pytest.approx(len(audio) / rate, abs=0.1)
    if fmt == "mp3":  # ID3v2 chapter frames, as podcast apps and mutagen read them
        head = job.output.read_bytes()[:4096]
        assert head.startswith(b"ID3") and head.count(b"CHAP") == 3 and b"CTOC" in head
    cues = job.subtitles.read_text(encoding="utf-8").split("\n\n")
    assert "The sun rose over the quiet town." in cues[1] and "Morning" in cues[0]


@pytest.mark.slow
@pytest.mark.model
def test_killed_command_resumes_to_identical_output(tmp_path: Path):
    book = tmp_path / "book.md"
    book.write_text(TEXT, encoding="utf-8")
    subprocess.run([*PARROT, "book", str(book), "-o", str(tmp_path / "whole.m4b"), "-q"], check=True, timeout=300)
    out = tmp_path / "cut.m4b"
    work = tmp_path / ".cut.m4b.parrot-book" / "segments"
    child = subprocess.Popen([*PARROT, "book", str(book), "-o", str(out), "-q"], start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while len(list(work.glob("*.npz"))) < 2 and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        os.killpg(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL and not out.exists()
    done = sorted(work.glob("*.npz"))
    stamps = {p.name: p.stat().st_mtime_ns for p in done}
    assert 2 <= len(done) < 6
    resumed = subprocess.Popen(
        [*PARROT, "book", str(book), "-o", str(out)], stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    seen: dict[str, int] = {}
    while resumed.poll() is None:  # the kept segments are never written again
        seen.update({p.name: p.stat().st_mtime_ns for p in work.glob("*.npz") if p.name in stamps})
        time.sleep(0.05)
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    assert f"resuming ({len(done)} segments already done)" in err
    assert all(seen.get(name, stamp) == stamp for name, stamp in stamps.items())
    assert out.read_bytes() == (tmp_path / "whole.m4b").read_bytes()
    assert out.with_suffix(".srt").read_bytes() == (tmp_path / "whole.srt").read_bytes()
    assert not work.parent.exists()  # the work folder is removed once the book is written


@pytest.mark.slow
@pytest.mark.model
@pytest.mark.parametrize(
    ("name", "data", "output", "message"),
    [
        ("book.pdf", b"%PDF-1.4", "out.m4b", "give an .epub, .md or .txt"),
        ("book.epub", epub({"META-INF/rights.xml": "<rights/>"}), "out.m4b", "DRM-protected"),
        ("book.epub", b"PK\x03\x04garbage", "out.m4b", "damaged"),
        ("book.md", b"# Hi\n\nThere.", "out.wav", "ending in .m4b or .mp3"),
    ],
)
def test_command_refuses_bad_input(tmp_path: Path, name: str, data: bytes, output: str, message: str):
    (tmp_path / name).write_bytes(data)
    result = subprocess.run(
        [*PARROT, "book", name, "-o", output], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 2 and message in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # nothing written
