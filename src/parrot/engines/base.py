"""The protocol every acoustic engine implements: text in, a stream of audio chunks out."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from ..voices.voice import Voice


@dataclass(frozen=True)
class AudioChunk:
    """Mono float32 audio in [-1, 1] and the span of (normalised) text it speaks."""

    audio: np.ndarray
    sample_rate: int
    text: str
    start: int
    end: int

    @property
    def duration(self) -> float:
        return len(self.audio) / self.sample_rate


@dataclass(frozen=True)
class SynthesisOptions:
    """Per-request controls; engines ignore what they cannot do and say so in their docs."""

    speed: float = 1.0
    lang: str | None = None  # None = detect per run of text
    fast_start: bool = True  # make the first chunk short so streaming starts sooner
    # The user's natural-language instruction ("speak cheerfully"), unchanged. Only engines that set
    # ``native_instructions = True`` receive it; for the others the facade realises it itself.
    instruction: str | None = None


@runtime_checkable
class Engine(Protocol):
    """An acoustic model. Implementations must be safe to call from several threads at once."""

    name: str
    sample_rate: int
    languages: tuple[str, ...]
    # Engines that understand CosyVoice markup ([breath], <strong>, <|en|> ...) inside ``text`` set
    # ``native_markup = True`` and receive it verbatim; the others get plain text and the facade
    # realises the markup (pauses, emphasis, sounds). Likewise ``native_instructions`` for
    # ``SynthesisOptions.instruction``. Both default to False when absent.

    def stock_voices(self) -> list[Voice]:
        """Voices that need no reference audio."""
        ...

    def stream(self, text: str, voice: Voice, options: SynthesisOptions) -> Iterator[AudioChunk]:
        """Speak already-normalised ``text``; yield chunks as soon as each is ready."""
        ...
