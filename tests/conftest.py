"""Shared fixtures: one real engine and one real recognizer per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ARTIFACTS = Path(os.environ.get("PARROT_ARTIFACTS", Path(__file__).resolve().parent.parent / "artifacts"))


@pytest.fixture(scope="session")
def tts():
    from parrot import Parrot

    engine = Parrot()
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
