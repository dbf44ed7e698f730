"""The fast tier's promise: a test not marked ``model`` cannot open a real model (tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from parrot.models import embedded_llm_path, kokoro_model_path, whisper_base_dir


@pytest.mark.parametrize("path_of", [kokoro_model_path, whisper_base_dir, embedded_llm_path])
def test_an_unmarked_test_cannot_open_a_real_model(tmp_path: Path, path_of) -> None:  # noqa: ANN001
    with pytest.raises(AssertionError, match="test_an_unmarked_test_cannot_open_a_real_model.* is not marked"):
        path_of(tmp_path)
