"""The `parrot` command, run as a real subprocess."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from parrot.audio import decode

pytestmark = [pytest.mark.slow, pytest.mark.model]  # `parrot` in a subprocess loads the real model
PARROT = [sys.executable, "-m", "parrot.cli"]
TEXT = "今天天气真不错啊，要不要一起去公园散步？Let's go at 3:30 pm."


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*PARROT, *args], input=stdin, capture_output=True, timeout=300, check=False)


@pytest.mark.parametrize("suffix", [".wav", ".mp3", ".flac", ".ogg", ".opus"])
def test_say_writes_each_format(tmp_path: Path, suffix: str):
    out = tmp_path / f"out{suffix}"
    result = run("say", TEXT, "-o", str(out))
    assert result.returncode == 0, result.stderr.decode()
    audio, rate = decode(out.read_bytes())
    assert 4.0 < len(audio) / rate < 15.0
    assert b"RTF" in result.stderr
    assert not list(tmp_path.glob(".*part"))  # written atomically


def test_subtitles_are_written_beside_the_audio(tmp_path: Path):
    srt, vtt, timings = tmp_path / "talk.srt", tmp_path / "talk.vtt", tmp_path / "talk.json"
    for path in (srt, vtt, timings):
        result = run("say", TEXT, "-o", str(tmp_path / "talk.mp3"), "--subtitles", str(path), "-q")
        assert result.returncode == 0, result.stderr.decode()
    audio, rate = decode((tmp_path / "talk.mp3").read_bytes())
    blocks = srt.read_text().strip().split("\n\n")
    assert [b.split("\n")[0] for b in blocks] == [str(n) for n in range(1, len(blocks) + 1)]
    assert all(" --> " in b.split("\n")[1] and b.split("\n")[2] for b in blocks)
    assert vtt.read_text().startswith("WEBVTT\n\n") and vtt.read_text().count(" --> ") == len(blocks)
    data = json.loads(timings.read_text())
    words = data["words"]
    assert [w["text"] for w in words[:4]] == ["今", "天", "天", "气"] and words[-1]["text"] == "m"
    assert all(a["end"] <= b["start"] + 1e-3 for a, b in zip(words, words[1:], strict=False))
    assert words[-1]["end"] <= len(audio) / rate + 0.05  # mp3 may pad a frame
    assert len(data["sentences"]) == 2


def test_stream_writes_raw_pcm_to_stdout():
    result = run("say", "Hello from the command line.", "--stream", "-q")
    assert result.returncode == 0, result.stderr.decode()
    pcm = np.frombuffer(result.stdout, dtype="<i2")
    assert 1.0 < len(pcm) / 24_000 < 5.0
    assert np.abs(pcm).max() > 1000
    assert result.stderr == b""


def test_text_from_stdin_and_dash_output():
    result = run("say", "-o", "-", "--voice", "jm_kumo", "--speed", "1.2", "-q", stdin=b"Good evening.")
    assert result.returncode == 0 and len(result.stdout) > 24_000


def test_instruction_is_followed_and_reported(tmp_path: Path):
    plain = run("say", "Good evening, everyone.", "-o", "-", "-q")
    slow = run("say", "Good evening, everyone.", "-o", "-", "-i", "用四川话，慢慢说")
    assert slow.returncode == 0, slow.stderr.decode()
    assert len(slow.stdout) > 1.15 * len(plain.stdout)
    stderr = slow.stderr.decode()
    assert "warning: not followed: dialects" in stderr and "understood as: slower" in stderr


def test_voices_list():
    result = run("voices", "list", "--json")
    voices = json.loads(result.stdout)
    assert {"jf_alpha", "jm_kumo"} <= {v["name"] for v in voices}
    plain = run("voices", "list").stdout.decode()
    assert "jm_kumo" in plain and "male" in plain


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["say", "hi", "-v", "nobody", "-o", "x.wav"], "no voice named 'nobody'"),
        (["say", "", "-o", "x.wav"], "empty"),
        (["say", "hi", "-o", "x.xyz"], "xyz"),
        (["say", "hi", "--lang", "de", "-o", "x.wav"], "not supported"),
        (["say", "hi", "--speed", "9", "-o", "x.wav"], "speed"),
        (["say", "hi"], "-o FILE"),
        (["say", "hi [pause:99s]", "-o", "x.wav"], "at most 10 s"),
        (["say", "hi", "-i", "x" * 600, "-o", "x.wav"], "instruction is 600 characters"),
        (["say", "hi", "-o", "x.wav", "--subtitles", "x.txt"], "subtitles must be .srt, .vtt or .json"),
    ],
)
def test_errors_are_clear(tmp_path: Path, args: list[str], message: str):
    result = subprocess.run([*PARROT, *args], capture_output=True, cwd=tmp_path, timeout=120, check=False)
    assert result.returncode == 2
    assert message in result.stderr.decode()
    assert "Traceback" not in result.stderr.decode()
    assert not (tmp_path / "x.wav").exists()
