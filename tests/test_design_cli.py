"""`parrot voices design` and `parrot voices add --consent-*`, run as real subprocesses on a private library."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from parrot.audio import decode, encode

pytestmark = [pytest.mark.slow, pytest.mark.model]


@pytest.fixture
def parrot(tmp_path: Path, data_dir: Path):  # noqa: ANN201 - the runner
    data = tmp_path / "data"
    data.mkdir()
    (data / "models").symlink_to((data_dir / "models").resolve())
    env = {**os.environ, "PARROT_DATA_DIR": str(data)}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "parrot.cli", *args], capture_output=True, text=True,
                              env=env, cwd=tmp_path, timeout=300, check=False)  # fmt: skip

    return run


def test_design_previews_saves_and_shows(parrot, tmp_path: Path) -> None:  # noqa: ANN001
    preview = parrot("voices", "design", "nobody_saved", "--from", "jf_alpha*0.5+jm_kumo*0.5", "--pitch", "3",
                     "--say", "Hello from a new voice.", "-o", "p.mp3", "--no-save")  # fmt: skip
    assert preview.returncode == 0, preview.stderr
    assert decode(tmp_path / "p.mp3")[0].size > 10_000 and "saved" not in preview.stdout
    assert "nobody_saved" not in parrot("voices", "list").stdout
    made = parrot("voices", "design", "Warm Narrator", "--from", "jm_kumo", "--brightness", "-2",
                  "--breathiness", "0.2", "--pace", "0.9", "--description", "calm and warm")  # fmt: skip
    assert made.returncode == 0 and "saved voice 'Warm Narrator'" in made.stdout, made.stderr
    shown = json.loads(parrot("voices", "show", "Warm Narrator").stdout)
    assert shown["design"] == {
        "base": "jm_kumo", "adjust": {"pitch": 0.0, "pace": 0.9, "brightness": -2.0, "breathiness": 0.2}
    }  # fmt: skip
    said = parrot("say", "It speaks like any voice.", "-v", "Warm Narrator", "-o", "w.wav", "-q")
    assert said.returncode == 0, said.stderr
    bad = parrot("voices", "design", "x", "--from", "jf_alpha", "--pitch", "40")
    assert bad.returncode == 2 and "pitch must be between -12 and 12" in bad.stderr
    assert parrot("voices", "design", "y", "--from", "jf_alpha", "--no-save").returncode == 2


def test_clone_records_consent(parrot, tts, tmp_path: Path) -> None:  # noqa: ANN001
    speech = tts.say("The old lighthouse keeper walked down to the harbour every morning.", "jm_kumo")
    (tmp_path / "ref.wav").write_bytes(encode(speech.audio, speech.sample_rate, "wav"))
    half = parrot("voices", "add", "keeper", "ref.wav", "--consent-by", "Joe")
    assert half.returncode == 2 and "consent_text is required" in half.stderr
    added = parrot("voices", "add", "keeper", "ref.wav", "--consent-by", "Joe",
                   "--consent-text", "I agree to have my voice cloned.")  # fmt: skip
    assert added.returncode == 0, added.stderr
    consent = json.loads(parrot("voices", "show", "keeper").stdout)["consent"]
    assert consent["by"] == "Joe" and consent["text"] == "I agree to have my voice cloned."
