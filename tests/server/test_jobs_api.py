"""Book jobs over HTTP, on the FakeEngine (no model): validation before any work, progress events, the
chaptered download, cancel/resume/delete, a restart that continues the job, and interactive speech
served first while a book runs."""

from __future__ import annotations

import io
import json
import time
import zipfile
from pathlib import Path

import httpx
import pytest

from parrot.audio import read_chapters
from parrot.server.app import create_app
from parrot.server.settings import ServerSettings

PATH = "/v1/audio/jobs"
SETTINGS = ServerSettings(workers=2, max_jobs=16, max_upload_mb=1.0, max_text_chars=2_000)
BOOK = "# Title\n\n## One\n\nThe first chapter has words.\n\nA second paragraph.\n\n## Two\n\nThe end of it.\n"


def start(http: httpx.Client, **form: str) -> httpx.Response:
    return http.post(PATH, data={"text": BOOK, "text_format": "md", **form})


def wait(http: httpx.Client, job_id: str, *states: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = http.get(f"{PATH}/{job_id}").json()
        if info["state"] in states:
            return info
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never reached {states}: {info}")


def drm_epub() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mimetype", "application/epub+zip")
        archive.writestr("META-INF/rights.xml", "<rights/>")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("form", "files", "message"),
    [
        ({}, None, "as `file` or as `text`"),
        ({"text": "  "}, None, "as `file` or as `text`"),
        ({"text": "Hi.", "format": "wav"}, None, "format must be one of"),
        ({"text": "Hi.", "speed": "9"}, None, "speed"),
        ({"text": "Hi.", "voice": "nobody"}, None, "nobody"),
        ({}, {"file": ("book.epub", drm_epub())}, "DRM-protected"),
        ({}, {"file": ("book.epub", b"not a zip")}, "damaged"),
        ({}, {"file": ("book.pdf", b"%PDF")}, ".epub, .md or .txt"),
    ],
)
def test_bad_requests_create_nothing(fake_http: httpx.Client, form: dict, files: dict | None, message: str):
    before = fake_http.get(PATH).json()["jobs"]
    response = fake_http.post(PATH, data=form, files=files)
    assert response.status_code in (400, 404), response.text
    assert message in response.json()["error"]["message"]
    assert fake_http.get(PATH).json()["jobs"] == before


def test_job_runs_with_events_and_downloads(fake_http: httpx.Client, tmp_path: Path):
    response = start(fake_http, format="mp3", voice="fake_m")
    assert response.status_code == 202, response.text
    job = response.json()
    assert response.headers["location"] == f"{PATH}/{job['id']}"
    assert (job["title"], job["chapters"], job["format"], job["voice"]) == ("Title", 2, "mp3", "fake_m")
    events = []
    with fake_http.stream("GET", f"{PATH}/{job['id']}/events") as stream:
        for line in stream.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[6:]))
    assert events[-1]["state"] == "done" and events[-1]["fraction"] == 1.0
    fractions = [e["fraction"] for e in events]
    assert fractions == sorted(fractions) and len(events) > 3
    audio = fake_http.get(f"{PATH}/{job['id']}/audio")
    assert audio.status_code == 200 and audio.headers["content-type"] == "audio/mpeg"
    (tmp_path / "book.mp3").write_bytes(audio.content)
    assert [c[0] for c in read_chapters(tmp_path / "book.mp3")] == ["One", "Two"]
    srt = fake_http.get(f"{PATH}/{job['id']}/subtitles").text
    assert srt.startswith("1\n00:00:00,000 --> ") and "chapter" in srt
    assert fake_http.get(PATH).json()["jobs"][0]["id"] == job["id"]
    assert fake_http.delete(f"{PATH}/{job['id']}").status_code == 204
    assert fake_http.get(f"{PATH}/{job['id']}").status_code == 404


def test_upload_cancel_resume(serve, fake_parrot):
    tts = fake_parrot(delay=0.05)
    with serve(create_app(tts, SETTINGS)) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        job = http.post(PATH, files={"file": ("b.txt", BOOK.replace("#", "").encode() * 3)}).json()
        wait(http, job["id"], "running")
        assert http.get(f"{PATH}/{job['id']}/audio").status_code == 409
        cancelled = http.post(f"{PATH}/{job['id']}/cancel").json()
        assert cancelled["state"] == "cancelled"
        time.sleep(0.3)
        calls = tts.engine.calls
        time.sleep(0.3)
        assert tts.engine.calls == calls  # nothing more is computed
        assert http.post(f"{PATH}/{job['id']}/resume").json()["state"] == "queued"
        assert wait(http, job["id"], "done")["segments_done"] == job["segments_total"]
        assert http.post(f"{PATH}/{job['id']}/resume").status_code == 409


def test_restart_continues_where_it_stopped(serve, fake_parrot):
    tts = fake_parrot(delay=0.05)
    long_book = "\n\n".join(f"Paragraph {i} has a few words to say." for i in range(30))
    with serve(create_app(tts, SETTINGS)) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        job = http.post(PATH, data={"text": long_book}).json()
        deadline = time.monotonic() + 30
        while http.get(f"{PATH}/{job['id']}").json()["segments_done"] < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    folder = tts.settings.data_dir / "jobs" / job["id"] / "segments"
    kept = {p.name: p.stat().st_mtime_ns for p in folder.glob("*.npz")}
    assert 3 <= len(kept) < 30
    calls = tts.engine.calls
    with serve(create_app(tts, SETTINGS)) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        info = wait(http, job["id"], "done")
    assert info["segments_done"] == 30
    assert {p.name: p.stat().st_mtime_ns for p in folder.glob("*.npz") if p.name in kept} == kept
    words_left = sum(len(f"Paragraph {i} has a few words to say.".split()) for i in range(len(kept), 30))
    assert tts.engine.calls - calls == words_left  # nothing synthesized twice


def test_speech_is_served_first_while_a_book_runs(serve, fake_parrot):
    tts = fake_parrot(delay=0.02)
    spoken: list[str] = []  # every chunk's word, in the order the one worker made them
    stream = tts.engine.stream

    def recording(text, voice, options):  # noqa: ANN001, ANN202
        for chunk in stream(text, voice, options):
            spoken.append(chunk.text)
            yield chunk

    tts.engine.stream = recording
    settings = ServerSettings(workers=1, max_jobs=16, max_upload_mb=1.0, max_text_chars=2_000)
    long_book = "\n\n".join(f"Paragraph {i} has a few words to say." for i in range(40))
    with serve(create_app(tts, settings)) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        job = http.post(PATH, data={"text": long_book}).json()
        wait(http, job["id"], "running")
        speech = http.post("/v1/audio/speech", json={"model": "tts-1", "voice": "fake_f", "input": "probe " * 10,
                                                     "response_format": "pcm"})  # fmt: skip
        assert speech.status_code == 200
        assert http.get(f"{PATH}/{job['id']}").json()["state"] == "running"
        http.post(f"{PATH}/{job['id']}/cancel")
    first, last = spoken.index("probe"), len(spoken) - 1 - spoken[::-1].index("probe")
    assert spoken[first : last + 1].count("probe") == 10
    # Round-robin would interleave ~9 book chunks with the 10 of the request; served first, the book only
    # gets the worker when the request's stream pauses for its client (at most a few times).
    assert last - first + 1 - 10 <= 3, spoken[first : last + 1]
