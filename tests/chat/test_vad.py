"""Silero VAD (the ONNX file faster-whisper ships): speech probabilities, end of turn, speech in a recording."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from parrot.audio import AudioError, decode
from parrot.chat.vad import (
    FRAME_SAMPLES,
    SileroVad,
    SpeechPaused,
    SpeechStarted,
    SpeechStopped,
    TurnConfig,
    TurnDetector,
    find_speech,
)

pytestmark = pytest.mark.slow  # the question is spoken by the real engine


@pytest.fixture(scope="module")
def question(question_wav: Path) -> np.ndarray:
    audio, _ = decode(question_wav, 16_000)
    return audio  # 0.5 s silence, about 1.6 s of speech, 0.75 s silence


def test_probabilities_separate_speech_from_silence(question: np.ndarray) -> None:
    vad = SileroVad()
    assert vad.probabilities(np.zeros(16_000, np.float32)).max() < 0.2
    probs = vad.probabilities(question)
    assert len(probs) == -(-len(question) // FRAME_SAMPLES)
    assert probs.max() > 0.9
    with pytest.raises(ValueError, match="512 samples"):
        vad(np.zeros(100, np.float32))


def test_turn_detector_finds_start_and_end_in_a_stream(question: np.ndarray) -> None:
    detector = TurnDetector(TurnConfig(silence_ms=500))
    events: list[tuple[float, object]] = []
    for i in range(0, len(question), 1_600):  # 100 ms pieces, as a microphone would send them
        events += [(detector.position, e) for e in detector.push(question[i : i + 1_600])]
    kinds = [type(e) for _, e in events]
    assert kinds == [SpeechStarted, SpeechPaused, SpeechStopped]
    started, paused, stopped = (e for _, e in events)
    assert isinstance(paused, SpeechPaused) and paused.segment == stopped.segment  # silence only after the pause
    assert 0.1 <= events[2][0] - events[1][0] <= 0.5  # reported well before the turn ends
    assert isinstance(started, SpeechStarted) and isinstance(stopped, SpeechStopped)
    assert 0.35 <= started.at <= 0.75
    assert 1.9 <= stopped.end <= 2.4
    assert 0.45 <= events[2][0] - stopped.end <= 0.7  # decided after silence_ms of silence
    assert len(stopped.audio) / 16_000 >= stopped.end - stopped.start  # the whole turn, with its prefix
    assert not detector.speaking


def test_commit_ends_a_turn_early_and_ignores_silence(question: np.ndarray) -> None:
    detector = TurnDetector()
    assert detector.commit() is None  # nothing heard yet
    detector.push(question[:24_000])  # speech has started but not ended
    assert detector.speaking
    event = detector.commit()
    assert isinstance(event, SpeechStopped) and len(event.audio) > 8_000
    assert not detector.speaking


def test_find_speech_in_a_recording(question: np.ndarray) -> None:
    start, end = find_speech(question)
    assert 0.35 <= start <= 0.75 and 1.9 <= end <= 2.4
    with pytest.raises(AudioError, match="no speech"):
        find_speech(np.zeros(32_000, np.float32))
    with pytest.raises(AudioError, match="no speech"):
        find_speech(np.random.default_rng(1).normal(0, 0.02, 32_000).astype(np.float32))
    with pytest.raises(AudioError, match="too short"):
        find_speech(np.zeros(100, np.float32))


def test_a_pause_followed_by_more_speech_is_not_the_end(question: np.ndarray) -> None:
    speech = question[8_000:-12_000]
    gap = np.zeros(4_800, np.float32)  # 300 ms: a pause, shorter than silence_ms
    detector = TurnDetector(TurnConfig(silence_ms=500, pause_ms=160))
    events = detector.push(np.concatenate([question[:8_000], speech, gap, speech, np.zeros(12_000, np.float32)]))
    pauses = [e for e in events if isinstance(e, SpeechPaused)]
    stopped = [e for e in events if isinstance(e, SpeechStopped)]
    assert len(stopped) == 1 and len(pauses) >= 2
    assert pauses[0].segment != stopped[0].segment  # the first pause's audio misses the second half
    assert pauses[-1].segment == stopped[0].segment
    assert len(stopped[0].audio) > 2 * len(speech)
