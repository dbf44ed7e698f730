"""The CosyVoice2 engine behind the facade, settings and command line (no model weights needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_engine import EOP, clip, engine
from test_modeldir import closed_port

from parrot.api import Parrot, load_engine
from parrot.cli import main
from parrot.config import Settings
from parrot.engines.cosyvoice2 import modeldir
from parrot.errors import InputError, ModelError, UnknownVoiceError


def test_model_dir_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("PARROT_MODEL_DIR", raising=False)
    monkeypatch.setenv("PARROT_DATA_DIR", str(tmp_path))
    assert Settings.from_env().resolved_model_dir() == tmp_path / "models" / "CosyVoice2-0.5B"
    monkeypatch.setenv("PARROT_MODEL_DIR", str(tmp_path / "cv2"))
    assert Settings.from_env().resolved_model_dir() == tmp_path / "cv2"


def test_load_engine_knows_cosyvoice2(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no CosyVoice2 model at"):
        load_engine("cosyvoice2", Settings(data_dir=tmp_path))
    with pytest.raises(InputError, match="kokoro, cosyvoice2"):
        load_engine("espnet", Settings(data_dir=tmp_path))


def test_facade_without_builtin_voices_asks_for_one(tmp_path: Path) -> None:
    tts = Parrot(engine=engine(), settings=Settings(data_dir=tmp_path))
    assert tts.default_voice is None and tts.sample_rate == 24000
    with pytest.raises(UnknownVoiceError, match="no built-in voices"):
        tts.voice(None)


def test_facade_passes_markup_and_instructions_through(tmp_path: Path) -> None:
    e = engine()
    tts = Parrot(engine=e, settings=Settings(data_dir=tmp_path))
    voice = e.make_voice(clip(), "ab", "me")
    stream = tts.stream("I have 2 cats [laughter] <strong>now</strong>.", voice, instruction="用粤语说")
    list(stream)
    call = e.model.llm.calls[-1]
    spoken = "I have two cats [laughter] <strong>now</strong>."  # numbers read out, markup kept verbatim
    assert call["text"] == [ord(c) % 900 for c in spoken if not c.isspace()]  # (the fake tokenizer skips spaces)
    assert call["prompt_text"] == [*(ord(c) % 900 for c in "用粤语说"), EOP]  # instruct2, instruction unchanged
    assert stream.warnings == ()  # this engine does dialects itself


def test_cli_global_engine_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "x.wav"
    assert main(["--engine", "cosyvoice2", "--model-dir", str(tmp_path / "none"), "say", "hi", "-o", str(out)]) == 2
    assert f"no CosyVoice2 model at {tmp_path / 'none'}" in capsys.readouterr().err


def test_cli_download_offline(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    monkeypatch.setattr(modeldir, "ENDPOINTS", {"huggingface": closed_port(), "modelscope": closed_port()})
    for source in ("huggingface", "modelscope"):
        assert main(["models", "download", "cosyvoice2", "--source", source, "--dir", str(tmp_path)]) == 2
        assert "parrot: error: could not download" in capsys.readouterr().err


def test_cli_download_defaults_to_the_model_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = {}

    def fake_download(target: Path, source: str, progress=None) -> Path:
        seen.update(target=target, source=source)
        return target

    monkeypatch.setattr(modeldir, "download", fake_download)
    assert main(["--model-dir", str(tmp_path / "cv2"), "models", "download", "cosyvoice2"]) == 0
    assert seen == {"target": tmp_path / "cv2", "source": "huggingface"}
