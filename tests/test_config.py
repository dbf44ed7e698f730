import pytest

from parrot.config import Settings, env_number
from parrot.errors import InputError


def test_settings_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("PARROT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PARROT_THREADS", "1")
    monkeypatch.setenv("PARROT_MAX_TEXT_CHARS", "500")
    settings = Settings.from_env()
    assert (settings.data_dir, settings.threads, settings.max_text_chars) == (tmp_path, 1, 500)
    assert settings.resolved_threads() == 1


@pytest.mark.parametrize(("raw", "expected"), [("", 7), ("3", 3), (" 12 ", 12)])
def test_env_number(monkeypatch, raw, expected):
    monkeypatch.setenv("PARROT_X", raw)
    assert env_number("PARROT_X", 7, int, 1) == expected


@pytest.mark.parametrize("raw", ["x", "0", "-2", "1.5"])
def test_env_number_rejects(monkeypatch, raw):
    monkeypatch.setenv("PARROT_X", raw)
    with pytest.raises(InputError, match="PARROT_X must be an integer of at least 1"):
        env_number("PARROT_X", 7, int, 1)
