"""The protocol every acoustic engine implements: text in, a stream of audio chunks out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from ..errors import UnsupportedError
from ..voices.voice import Voice

if TYPE_CHECKING:
    from ..voices.reference import Reference


@dataclass(frozen=True)
class TimedText:
    """A word (or a sentence) and when it is said: ``start``/``end`` in seconds (in an ``AudioChunk``, from the
    chunk's first sample), ``first``/``last`` its characters in the (normalised) text, like ``AudioChunk.start``."""

    text: str
    start: float
    end: float
    first: int
    last: int

    def shifted(self, seconds: float = 0.0, chars: int = 0) -> TimedText:
        return TimedText(self.text, self.start + seconds, self.end + seconds, self.first + chars, self.last + chars)


@dataclass(frozen=True)
class AudioChunk:
    """Mono float32 audio in [-1, 1] and the span of (normalised) text it speaks.

    ``words``: when each word of the chunk is said, relative to the chunk's first sample (empty for engines
    that cannot tell). ``offset``: where the chunk starts in the whole speech, in seconds (set by
    ``Parrot.stream``; 0 from an engine), so a word is said at ``offset + word.start``."""

    audio: np.ndarray
    sample_rate: int
    text: str
    start: int
    end: int
    words: tuple[TimedText, ...] = ()
    offset: float = 0.0

    @property
    def duration(self) -> float:
        return len(self.audio) / self.sample_rate


@dataclass(frozen=True)
class SynthesisOptions:
    """Per-request controls; engines ignore what they cannot do and say so in their docs."""

    speed: float = 1.0
    lang: str | None = None  # None = detect per run of text
    fast_start: bool = True  # make the first chunk short so streaming starts sooner
    # The user's natural-language instruction ("speak cheerfully"), unchanged. Only engines with
    # ``Engine.native_instructions`` receive it; for the others the facade realises it itself.
    instruction: str | None = None


class Engine(ABC):
    """An acoustic model. Implementations must be safe to call from several threads at once.

    Every capability is declared here with its default, so callers never probe for attributes:

    * ``native_markup``: the engine understands CosyVoice markup ([breath], <strong>, <|en|> ...) inside
      ``text`` and receives it verbatim; otherwise the facade realises markup itself (pauses, emphasis,
      sounds) and the engine gets plain words.
    * ``native_instructions``: the engine follows ``SynthesisOptions.instruction`` itself; otherwise the
      facade turns the instruction into prosody and effects.
    * ``make_voice``: cloning from reference audio (engines that cannot clone keep the default, which says so).
    * ``warm_up``: a first call made at start-up so the first request is not slower (default: nothing).
    * ``default_voices``: the built-in voice to speak each language with when the caller names none
      (default: none, so the first built-in voice speaks everything).
    """

    name: str
    sample_rate: int
    languages: tuple[str, ...]
    native_markup: bool = False
    native_instructions: bool = False
    default_voices: ClassVar[Mapping[str, str]] = MappingProxyType({})

    @abstractmethod
    def stock_voices(self) -> list[Voice]:
        """Voices that need no reference audio."""

    @abstractmethod
    def stream(self, text: str, voice: Voice, options: SynthesisOptions) -> Iterator[AudioChunk]:
        """Speak already-normalised ``text``; yield chunks as soon as each is ready."""

    def warm_up(self) -> None:  # noqa: B027 (an optional hook: most engines need nothing)
        """Run the model once so the first request does not pay for lazy initialisation."""

    def make_voice(self, reference: Reference, transcript: str, name: str) -> Voice:
        """A voice cloned from ``reference`` (whose words are ``transcript``), not saved."""
        raise UnsupportedError(f"the {self.name} engine cannot clone voices")
