"""``parrot chat`` as a real subprocess, against the fake OpenAI-compatible server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from parrot.audio import decode

pytestmark = pytest.mark.slow


def run(*args: str, llm_url: str, data_dir: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PARROT_LLM_BASE_URL": llm_url, "PARROT_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "parrot.cli", "chat", *args],
        input=stdin, capture_output=True, text=True, timeout=300, check=False, env=env,
    )  # fmt: skip


def test_one_spoken_turn_to_a_file(tmp_path: Path, fake_llm, data_dir: Path, question_wav: Path, recognizer) -> None:
    url, _ = fake_llm
    out = tmp_path / "answer.mp3"
    result = run("--input", str(question_wav), "-o", str(out), "-v", "linda", llm_url=url, data_dir=data_dir)
    assert result.returncode == 0, result.stderr
    assert "capital of france" in result.stdout.lower() and "Paris" in result.stdout
    assert "first audio" in result.stderr and "words/s" in result.stderr
    audio, _ = decode(out, 16_000)
    assert "paris" in recognizer.transcribe(audio, language="en").text.lower()


def test_interactive_conversation(tmp_path: Path, fake_llm, data_dir: Path, question_wav: Path) -> None:
    url, fake = fake_llm
    lines = f"Hello there\n@{question_wav}\n/voice nobody\n/reset\n/quit\n"
    result = run("--save-dir", str(tmp_path), "-q", llm_url=url, data_dir=data_dir, stdin=lines)
    assert result.returncode == 0, result.stderr
    assert "I heard you." in result.stdout and "The capital of France is Paris." in result.stdout
    assert sorted(p.name for p in tmp_path.glob("answer-*.wav")) == ["answer-1.wav", "answer-2.wav"]
    assert "unknown voice" in result.stderr.lower() or "nobody" in result.stderr
    assert [m["role"] for m in fake.requests[-1]["messages"]] == ["system", "user", "assistant", "user"]


def test_errors_are_one_line(tmp_path: Path, fake_llm, data_dir: Path) -> None:
    url, _ = fake_llm
    silent = tmp_path / "silence.wav"
    import numpy as np

    from parrot.audio import encode

    silent.write_bytes(encode(np.zeros(16_000, np.float32), 16_000, "wav"))
    result = run("--input", str(silent), "-o", str(tmp_path / "a.wav"), llm_url=url, data_dir=data_dir)
    assert result.returncode == 2 and "no speech was heard" in result.stderr
    result = run("--text", "hi", llm_url=url, data_dir=data_dir)
    assert result.returncode == 2 and "-o FILE" in result.stderr
    result = run("--text", "hi", "-o", str(tmp_path / "a.wav"), "-v", "nobody", llm_url=url, data_dir=data_dir)
    assert result.returncode == 2 and "nobody" in result.stderr


def test_voice_mode_answers_and_can_be_interrupted(tmp_path: Path, tts, fake_llm, data_dir: Path) -> None:  # noqa: ANN001
    """``--mic`` with a fake microphone: a command that plays a recording as raw 16 kHz PCM, in real time."""
    import numpy as np

    from parrot.audio import resample, to_pcm16

    def said(text: str) -> np.ndarray:
        speech = tts.say(text, "linda")
        return resample(speech.audio, speech.sample_rate, 16_000)

    def silence(seconds: float) -> np.ndarray:
        return np.zeros(int(seconds * 16_000), np.float32)

    raw = tmp_path / "mic.raw"
    raw.write_bytes(to_pcm16(np.concatenate([
        silence(0.5), said("Please tell me a long story."), silence(3.0),
        said("What is the capital of France?"), silence(2.5),
    ])))  # fmt: skip
    player = (
        "import sys, time\n"
        f"data = open({str(raw)!r}, 'rb').read()\n"
        "for i in range(0, len(data), 3200):\n"
        "    sys.stdout.buffer.write(data[i:i + 3200]); sys.stdout.buffer.flush(); time.sleep(0.1)\n"
    )
    script = tmp_path / "mic.py"
    script.write_text(player)
    url, _ = fake_llm
    out = tmp_path / "answers"
    result = run("--mic", "--mic-command", f"{sys.executable} {script}", "--save-dir", str(out),
                 llm_url=url, data_dir=data_dir)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "long story" in result.stdout.lower() and "capital of france" in result.stdout.lower()
    assert "(interrupted)" in result.stderr
    assert "The capital of France is Paris." in result.stdout
    assert [p.name for p in out.glob("answer-*.wav")] == ["answer-1.wav"]  # the interrupted one is not kept
