"""Training voices over HTTP: validation before any work, then real (tiny) training jobs in a child process.

The slow tests train for a few seconds on speech made by the real TTS: a job's events arrive, the voice is
then listed and speaks; only one job runs at a time; speech requests are still answered while it trains;
cancelling keeps the library intact and a resume continues the checkpoint.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from parrot.audio import encode

PATH = "/v1/audio/voices/train"
SENTENCES = (
    "The quick brown fox jumps over the lazy dog, and then it runs far away into the quiet green forest.",
    "Every morning the old keeper walked down to the harbour to count the boats and talk with the fishermen.",
)
PROBE = {"model": "tts-1", "voice": "jf_alpha", "input": "Speech keeps flowing while a voice trains.",
         "response_format": "wav"}  # fmt: skip


@pytest.fixture(scope="module")
def clips(tts) -> list[bytes]:
    """About 12 s of one speaker (jm_kumo), as two mp3 files."""
    out = []
    for sentence in SENTENCES:
        speech = tts.say(sentence, "jm_kumo")
        out.append(encode(speech.audio, speech.sample_rate, "mp3"))
    return out


def start(http: httpx.Client, name: str, clips: list[bytes], **form: str) -> httpx.Response:
    files = [("files", (f"clip{i}.mp3", data, "audio/mpeg")) for i, data in enumerate(clips)]
    return http.post(PATH, data={"name": name, **form}, files=files)


def error_code(response: httpx.Response) -> str:
    return response.json()["error"]["code"]


def wait_for(http: httpx.Client, job_id: str, states: set[str], timeout: float = 240.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = http.get(f"{PATH}/{job_id}").json()
        if job["state"] in states:
            return job
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} never reached {states}; last: {job}")


def events(http: httpx.Client, job_id: str) -> Iterator[dict]:
    with http.stream("GET", f"{PATH}/{job_id}/events", timeout=300) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data: "):
                yield json.loads(line[6:])


def speech_latency(http: httpx.Client, runs: int = 3) -> float:
    took = []
    for _ in range(runs):
        started = time.perf_counter()
        response = http.post("/v1/audio/speech", json=PROBE)
        assert response.status_code == 200
        took.append(time.perf_counter() - started)
    return statistics.median(took)


# -- validation, before any work ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("form", "status", "code", "param"),
    [
        ({"name": "jm_kumo"}, 409, "voice_exists", "name"),
        ({"name": "bad/name"}, 400, "invalid_voice_name", "name"),
        ({"name": "ok", "minutes": "0"}, 400, "invalid_value", "minutes"),
        ({"name": "ok", "minutes": "61"}, 400, "invalid_value", "minutes"),
        ({"name": "ok", "language": "xx"}, 400, None, "language"),
        ({"name": "ok", "text": ["one", "two", "three"]}, 400, "invalid_value", "text"),
    ],
)
def test_bad_requests_are_refused_before_any_work(http, clips, server, form, status, code, param):
    response = start(http, form.pop("name"), clips, **form)
    assert response.status_code == status, response.text
    assert response.json()["error"]["param"] == param
    if code:
        assert error_code(response) == code
    assert server.state.training.active() is None


def test_no_files_too_little_audio_or_not_audio_is_400(http, clips, tts):
    assert http.post(PATH, data={"name": "nofiles"}).status_code == 400
    short = tts.say("Hi there.", "jm_kumo")
    response = start(http, "short", [encode(short.audio, short.sample_rate, "mp3")])
    assert response.status_code == 400 and error_code(response) == "audio_too_short"
    assert "s of recordings is too little" in response.json()["error"]["message"]
    response = start(http, "noise", [b"this is not audio at all" * 100])
    assert response.status_code == 400 and response.json()["error"]["param"] == "files"


def test_an_unknown_job_is_404(http):
    for method in ("GET", "DELETE"):
        response = http.request(method, f"{PATH}/nope")
        assert response.status_code == 404 and error_code(response) == "training_job_not_found"
    assert http.get(f"{PATH}/nope/events").status_code == 404


# -- real training -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_voice_is_trained_while_speech_keeps_being_served(http, clips, server, capsys):
    idle = speech_latency(http)
    response = start(http, "Trained One", clips, minutes="0.1", language="en")
    assert response.status_code == 202, response.text
    job = response.json()
    assert response.headers["location"] == f"{PATH}/{job['id']}"
    assert job["name"] == "Trained One" and job["state"] in ("pending", "preparing")
    folder = server.state.training.get(job["id"]).folder
    assert folder.is_dir() and folder.stat().st_mode & 0o777 == 0o700

    busy = start(http, "Trained Two", clips, minutes="0.1")
    assert busy.status_code == 409 and error_code(busy) == "training_busy"
    assert job["id"] in busy.json()["error"]["message"]

    # Speech while the child works (preparing: Whisper and alignment; then training).
    wait_for(http, job["id"], {"preparing", "training", "done", "failed"})
    busy_latency = speech_latency(http)
    seen = list(events(http, job["id"]))
    states = [e["state"] for e in seen]
    assert states[-1] == "done", seen[-1]
    assert "training" in states or any(e["step"] for e in seen)
    progress = [e for e in seen if e["step"]]
    assert progress and all(0 <= e["fraction"] <= 1 for e in progress) and progress[-1]["loss"] > 0
    assert seen[-1]["voice"] == "Trained One" and seen[-1]["fraction"] == 1.0
    with capsys.disabled():
        print(f"\nspeech latency: idle {idle:.2f} s, while training {busy_latency:.2f} s")
    assert busy_latency < 4 * idle + 1.5, (idle, busy_latency)

    assert "Trained One" in {v["name"] for v in http.get("/v1/audio/voices").json()["voices"]}
    spoken = http.post("/v1/audio/speech", json={**PROBE, "voice": "Trained One"})
    assert spoken.status_code == 200 and len(spoken.content) > 20_000
    assert not folder.exists()  # the uploaded clips are removed when the job ends
    assert [j["id"] for j in http.get(PATH).json()["jobs"]][0] == job["id"]
    again = start(http, "trained one", clips, minutes="0.1")  # the name is now taken (ignoring case)
    assert again.status_code == 409 and error_code(again) == "voice_exists"


@pytest.mark.slow
def test_cancel_keeps_the_library_and_a_resume_continues(http, clips, server, tts):
    before = http.get("/v1/audio/voices").json()["voices"]
    job = start(http, "Cancelled", clips, minutes="5", language="en").json()
    first = wait_for(http, job["id"], {"training", "failed"})
    assert first["state"] == "training", first
    while http.get(f"{PATH}/{job['id']}").json()["step"] < 1:
        time.sleep(0.3)
    cancelled = http.delete(f"{PATH}/{job['id']}")
    assert cancelled.status_code == 200
    final = wait_for(http, job["id"], {"cancelled", "done", "failed"}, timeout=60)
    assert final["state"] == "cancelled" and final["voice"] is None
    assert http.get("/v1/audio/voices").json()["voices"] == before
    assert tts.voices.store.health().ok
    assert not server.state.training.get(job["id"]).folder.exists()
    assert http.delete(f"{PATH}/{job['id']}").json()["state"] == "cancelled"  # cancelling again changes nothing

    # The checkpoint holds the steps done; resuming with a budget they already spend saves the voice at once.
    resumed = start(http, "Cancelled", clips, minutes="0.1", language="en", resume="true").json()
    done = wait_for(http, resumed["id"], {"done", "failed", "cancelled"})
    assert done["state"] == "done", done
    assert done["step"] >= final["step"] >= 1
    assert "Cancelled" in {v["name"] for v in http.get("/v1/audio/voices").json()["voices"]}


def test_the_child_is_niced_single_threaded_and_on_the_servers_data_dir(tts):
    from parrot.server.training import _child_env, _command

    command = _command("x", [Path("/tmp/a")], ["-starts with a dash"], "en", 0.5, True)
    assert command[:3] == [command[0], "-n", "10"] and command[0].endswith("nice")
    assert "--text=-starts with a dash" in command and command[-2:] == ["x", "/tmp/a"]
    assert command[command.index("--") - 1] == "--resume"
    env = _child_env(tts.settings.data_dir)
    assert env["PARROT_DATA_DIR"] == str(tts.settings.data_dir)
    assert env["PARROT_THREADS"] == env["OMP_NUM_THREADS"] == "1"


@pytest.mark.slow
def test_server_shutdown_stops_the_training_child(tts, clips, serve, wait_until):
    from parrot.server.app import create_app
    from parrot.server.settings import ServerSettings

    app = create_app(tts, ServerSettings(workers=1, max_jobs=4, shutdown_timeout=10.0))
    with serve(app) as running, httpx.Client(base_url=running.url, timeout=60) as client:
        job_id = start(client, "Never Finished", clips, minutes="5").json()["id"]
        job = running.state.training.get(job_id)
        assert wait_until(lambda: job.process is not None, timeout=30)
        process = job.process
    assert process.returncode is not None  # the child is gone (and reaped) once the server has stopped
    assert job.info.state == "cancelled" and not job.folder.exists()
    assert "Never Finished" not in tts.voices.names()
