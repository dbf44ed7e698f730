"""Shared fixtures: one real engine and one real recognizer per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ARTIFACTS = Path(os.environ.get("PARROT_ARTIFACTS", Path(__file__).resolve().parent.parent / "artifacts"))


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private data directory (no saved voices of the user's) sharing the assembled models."""
    from parrot.config import Settings
    from parrot.models import prepare_all

    real = Settings.from_env().data_dir
    prepare_all(real)
    private = tmp_path_factory.mktemp("parrot-data")
    (private / "models").symlink_to(real / "models", target_is_directory=True)
    return private


@pytest.fixture(scope="session")
def tts(data_dir: Path):
    from dataclasses import replace

    from parrot import Parrot
    from parrot.config import Settings

    engine = Parrot(settings=replace(Settings.from_env(), data_dir=data_dir))
    engine.engine.warm_up()
    return engine


@pytest.fixture(scope="session")
def recognizer():
    from parrot.asr import Recognizer

    return Recognizer()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def fake_llm():
    """A running fake OpenAI-compatible chat server: ``(url, FakeLLM)``; the url ends in ``/v1``."""
    from fake_llm import FakeLLM

    from parrot.server.background import serve_in_background

    fake = FakeLLM()
    with serve_in_background(fake.app, startup_timeout=30) as url:
        yield url + "/v1", fake


@pytest.fixture(scope="session")
def question_wav(tts, tmp_path_factory) -> Path:
    """"What is the capital of France?" spoken by Parrot (16 kHz WAV with silence around it)."""
    import numpy as np

    from parrot.audio import encode, resample

    speech = tts.say("What is the capital of France?", "linda")
    audio = resample(speech.audio, speech.sample_rate, 16_000)
    audio = np.concatenate([np.zeros(8_000, np.float32), audio, np.zeros(12_000, np.float32)])
    path = tmp_path_factory.mktemp("chat") / "question.wav"
    path.write_bytes(encode(audio, 16_000, "wav"))
    return path
