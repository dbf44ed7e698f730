"""Fixtures shared by the browser tests."""

from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def shots(artifacts: Path) -> Path:
    folder = artifacts / "webui"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
