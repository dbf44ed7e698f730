"""Fixtures shared by the browser tests."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from parrot.server.app import create_app
from parrot.server.settings import ServerSettings
from parrot_dev.background import serve_in_background


@pytest.fixture(scope="module")
def shots(artifacts: Path) -> Path:
    folder = artifacts / "webui"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def url(tts) -> Iterator[str]:
    """A real server (the shared model) for one test module; its base URL."""
    app = create_app(tts, ServerSettings(workers=2, max_jobs=8, max_upload_mb=2.0, max_text_chars=2_000))
    with serve_in_background(app, startup_timeout=120) as base:
        yield base
