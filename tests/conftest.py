"""Shared fixtures: one real engine and one real recognizer per test session, and the two test tiers.

A test needs a real model (the Kokoro weights, Whisper base, the embedded chat model) when it uses one of
``MODEL_FIXTURES`` (directly or through another fixture: ``server``, ``question_wav``, ``reference_mp3``...)
or is marked ``@pytest.mark.model``; such tests get the ``model`` marker here. ``./test.sh --fast`` runs
``-m "not slow and not model"``. Every other test is checked: if it reaches for a real model anyway, it
fails with a message saying to mark it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

MODEL_FIXTURES = frozenset({"data_dir", "tts", "recognizer"})  # every real-model fixture depends on one of these


class RealModelInFastTest(AssertionError):
    """A test without the ``model`` marker tried to open a real model."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if MODEL_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.model)


@pytest.fixture(autouse=True)
def _real_models_only_when_marked(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Outside ``model`` tests, finding the models folder (the way to every real model) is an error."""
    if request.node.get_closest_marker("model") is not None:
        return
    import parrot.models

    def refuse(data_dir: Path) -> Path:
        raise RealModelInFastTest(
            f"{request.node.nodeid} opens a real model ({data_dir / 'models'}) but is not marked: use the "
            f"tts/recognizer/server fixtures or @pytest.mark.model, or a fake engine (tests/server/conftest.py)"
        )

    monkeypatch.setattr(parrot.models, "models_dir", refuse)


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

    from parrot_dev.background import serve_in_background

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
