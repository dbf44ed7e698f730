"""Speech recognition with the embedded Whisper base model (faster-whisper, CTranslate2 int8)."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np

from .config import Settings
from .models import whisper_base_dir

ASR_SAMPLE_RATE = 16_000


@dataclass(frozen=True)
class Transcript:
    text: str
    language: str
    duration: float


class Recognizer:
    """Whisper base on the CPU. ``transcribe`` is safe to call from several threads."""

    def __init__(self, settings: Settings | None = None) -> None:
        from faster_whisper import WhisperModel

        settings = settings or Settings.from_env()
        self._model = WhisperModel(
            str(whisper_base_dir(settings.data_dir)),
            device="cpu",
            compute_type="int8",
            cpu_threads=settings.resolved_threads(),
        )
        self._lock = threading.Lock()

    def transcribe(
        self, audio: np.ndarray, *, language: str | None = None, prompt: str | None = None, short: bool = False
    ) -> Transcript:
        """``audio``: mono float32 at 16 kHz. ``language``: ISO code, or None to detect.

        ``short``: for a short utterance where latency matters (a voice chat turn): greedy decoding, and the
        encoder window fitted to the audio instead of Whisper's fixed 30 s (2-3x faster on a few seconds of
        speech; same words on our tests)."""
        seconds = len(audio) / ASR_SAMPLE_RATE
        options: dict[str, int] = {"beam_size": 5}
        if short and seconds < 29:
            options = {"beam_size": 1, "chunk_length": max(5, math.ceil(seconds + 1))}
        with self._lock:  # CTranslate2 serialises anyway; the lock keeps memory flat
            segments, info = self._model.transcribe(
                np.ascontiguousarray(audio, dtype=np.float32),
                language=language,
                **options,
                vad_filter=False,
                condition_on_previous_text=False,
                initial_prompt=prompt,
            )
            text = "".join(s.text for s in segments).strip()
        return Transcript(text=text, language=info.language, duration=seconds)
