"""One request cannot make unbounded audio: total pauses in the markup, and the facade's audio budget
(``Settings.max_audio_seconds``) checked before synthesis and while streaming. A fake engine: no model needed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from parrot.api import Parrot
from parrot.config import Settings
from parrot.engines.base import AudioChunk, Engine, SynthesisOptions
from parrot.errors import AudioBudgetError, InputError
from parrot.text.markup import MAX_TOTAL_PAUSE_SECONDS, Pause, parse_markup
from parrot.voices.voice import Voice

RATE = 24_000


class SecondPerCall(Engine):
    """Speaks every text as ``seconds`` of a quiet tone."""

    name = "fake"
    sample_rate = RATE
    languages = ("zh", "en", "ja")

    def __init__(self, seconds: float = 1.0) -> None:
        self.seconds = seconds

    def stock_voices(self) -> list[Voice]:
        return [Voice("plain", "fake", "stock", {"style": np.zeros((1, 4), np.float32)})]

    def stream(self, text: str, voice: Voice, options: SynthesisOptions) -> Iterator[AudioChunk]:
        audio = np.full(int(self.seconds * RATE), 0.01, np.float32)
        yield AudioChunk(audio, RATE, text, 0, len(text))


def parrot(tmp_path: Path, seconds: float = 1.0, budget: float = 3600.0) -> Parrot:
    return Parrot(SecondPerCall(seconds), Settings(data_dir=tmp_path, max_audio_seconds=budget))


def test_pauses_of_one_text_are_capped() -> None:
    allowed = int(MAX_TOTAL_PAUSE_SECONDS // 10)
    markup = parse_markup("[pause:10s]" * allowed)
    assert sum(p.seconds for p in markup.pieces if isinstance(p, Pause)) == allowed * 10
    with pytest.raises(AudioBudgetError, match="pauses in the text add up") as info:
        parse_markup("[pause:10s]" * 60 + "hello")  # 664 characters asked for 601 s of audio
    assert isinstance(info.value, InputError)
    with pytest.raises(AudioBudgetError):
        parse_markup('<break time="10s"/>' * (allowed + 1))


def test_text_too_long_for_the_budget_is_refused_before_any_audio(tmp_path: Path) -> None:
    tts = parrot(tmp_path, budget=20.0)
    with pytest.raises(AudioBudgetError, match="at least 2[0-9] s of audio"):
        tts.stream("word " * 140)  # 700 characters: at least 23 s at the fastest speaking rate
    with pytest.raises(AudioBudgetError):
        tts.stream("word " * 70, speed=0.5)  # slower speech, same budget
    assert len(tts.say("word " * 70).audio) > 0


def test_stream_stops_at_the_budget(tmp_path: Path) -> None:
    tts = parrot(tmp_path, seconds=5.0, budget=12.0)  # every piece of words speaks for 5 s
    stream = tts.stream("One. [breath] Two. [breath] Three. [breath] Four.")
    made = 0.0
    with pytest.raises(AudioBudgetError, match="longer than 12 s"):
        for chunk in stream:
            made += len(chunk.audio) / chunk.sample_rate
    assert made <= 12.0 and stream.seconds > 12.0


def test_budget_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARROT_MAX_AUDIO_SECONDS", "90")
    assert Settings.from_env().max_audio_seconds == 90.0
    monkeypatch.setenv("PARROT_MAX_AUDIO_SECONDS", "0")
    with pytest.raises(InputError, match="PARROT_MAX_AUDIO_SECONDS"):
        Settings.from_env()
