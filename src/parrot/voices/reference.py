"""Turning a user's reference clip into clean speech to clone from, or a clear refusal.

Steps: decode any format to mono 16 kHz, refuse clips that are too short, too long to bother
with, silent, clipped or not speech; find the speech with Silero VAD (shipped inside
faster-whisper); trim leading and trailing silence; for long clips keep the best window of
continuous speech (at most ``MAX_USED_SECONDS``); normalise loudness.
"""

from __future__ import annotations

from dataclasses import dataclass
from os import PathLike

import numpy as np

from ..audio import AudioError, decode, resample

RATE = 16_000
MIN_SPEECH_SECONDS = 2.5  # of detected speech; clips are asked to be 3-30 s
MAX_INPUT_SECONDS = 120.0  # refuse to even decode more than this
MAX_USED_SECONDS = 15.0  # the best window of a longer clip is used
TARGET_RMS_DBFS = -20.0
_CLIP_LEVEL = 0.999


@dataclass(frozen=True)
class Reference:
    """Clean reference speech (mono float32 at 16 kHz) plus what was done to it."""

    audio: np.ndarray
    sample_rate: int
    original_seconds: float
    speech_seconds: float
    notes: tuple[str, ...] = ()

    @property
    def duration(self) -> float:
        return len(self.audio) / self.sample_rate

    def at(self, rate: int) -> np.ndarray:
        return resample(self.audio, self.sample_rate, rate)


def load_reference(source: bytes | str | PathLike[str] | np.ndarray, sample_rate: int | None = None) -> Reference:
    """Decode (if needed), check and clean a reference clip. Raises ``AudioError`` saying what is wrong."""
    if isinstance(source, np.ndarray):
        if sample_rate is None:
            raise AudioError("give the sample rate of the reference audio array")
        audio = np.asarray(source, dtype=np.float32)
        if audio.ndim == 2:
            audio = audio.mean(axis=0 if audio.shape[0] < audio.shape[1] else 1)
        audio = resample(audio, int(sample_rate), RATE)
    else:
        audio, _ = decode(source, sample_rate=RATE, max_seconds=MAX_INPUT_SECONDS)
    return clean_reference(audio)


def clean_reference(audio: np.ndarray) -> Reference:
    """Checks and cleaning on mono 16 kHz float32 audio."""
    seconds = len(audio) / RATE
    spans = check_speech(audio)
    speech = sum(end - start for start, end in spans) / RATE
    notes: list[str] = []
    start, end = _best_window(spans, int(MAX_USED_SECONDS * RATE))
    if (end - start) / RATE < seconds - 0.5:
        notes.append(f"used {(end - start) / RATE:.1f} s of speech from a {seconds:.1f} s clip")
    pad = int(0.1 * RATE)
    kept = audio[max(0, start - pad) : min(len(audio), end + pad)].astype(np.float32)
    gain = 10 ** ((TARGET_RMS_DBFS - _dbfs(kept)) / 20)
    kept = np.clip(kept * min(gain, 1.0 / max(float(np.abs(kept).max()), 1e-6)), -1.0, 1.0)
    return Reference(kept.astype(np.float32), RATE, seconds, speech, tuple(notes))


def check_speech(
    audio: np.ndarray, what: str = "the reference clip", hint: str = "give 3-30 s of one person speaking"
) -> list[tuple[int, int]]:
    """The speech spans (samples) of mono 16 kHz audio; ``AudioError`` if it is too short, silent, clipped
    or holds less than ``MIN_SPEECH_SECONDS`` of speech. ``what``/``hint`` word the messages."""
    if audio.ndim != 1 or not np.all(np.isfinite(audio)):
        raise AudioError(f"{what} must be finite mono samples")
    seconds = len(audio) / RATE
    if seconds < 1.0:
        raise AudioError(f"{what} is {seconds:.1f} s long; {hint}")
    peak = float(np.abs(audio).max()) if audio.size else 0.0
    if peak < 1e-3 or _dbfs(audio) < -60:
        raise AudioError(f"{what} is silent; {hint}")
    clipped = float(np.mean(np.abs(audio) >= _CLIP_LEVEL))
    if clipped > 0.005:
        raise AudioError(
            f"{what} is clipped ({clipped:.1%} of samples at full scale); record it again at a lower level"
        )
    spans = _speech_spans(audio / peak)
    speech = sum(end - start for start, end in spans) / RATE
    if speech < MIN_SPEECH_SECONDS:
        raise AudioError(
            f"only {speech:.1f} s of speech found in {what} (at least {MIN_SPEECH_SECONDS:g} s needed); "
            f"{hint}, without music"
        )
    return spans


def _dbfs(audio: np.ndarray) -> float:
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if audio.size else 0.0
    return 20 * np.log10(max(rms, 1e-10))


def _speech_spans(audio: np.ndarray) -> list[tuple[int, int]]:
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    options = VadOptions(threshold=0.5, min_speech_duration_ms=200, min_silence_duration_ms=300, speech_pad_ms=60)
    return [(int(s["start"]), int(s["end"])) for s in get_speech_timestamps(audio, options, sampling_rate=RATE)]


def _best_window(spans: list[tuple[int, int]], max_len: int) -> tuple[int, int]:
    """The window of at most ``max_len`` samples, on span boundaries, holding the most speech."""
    best = (spans[0][0], min(spans[0][1], spans[0][0] + max_len))
    best_speech = best[1] - best[0]
    for i, (start, _) in enumerate(spans):
        speech = 0
        end = start
        for s, e in spans[i:]:
            if e - start > max_len:
                if s - start < max_len and speech == 0:
                    end, speech = start + max_len, max_len
                break
            speech += e - s
            end = e
        if speech > best_speech:
            best, best_speech = (start, end), speech
    return best
