"""The Python facade everything else calls (CLI, server, web UI, chat).

    from parrot import Parrot
    tts = Parrot()
    for chunk in tts.stream("你好，world!", voice="jf_alpha"):
        play(chunk.audio)            # float32 mono at tts.sample_rate
    speech = tts.say("Hello there.")  # the whole waveform
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from .config import Settings
from .engines.base import AudioChunk, Engine, SynthesisOptions
from .errors import InputError, ModelError, ParrotError, UnknownVoiceError
from .text.normalize import normalize
from .text.segment import check_language, split_languages
from .text.tags import strip_tags
from .voices.library import VoiceLibrary, packaged_voices
from .voices.reference import Reference, load_reference
from .voices.voice import Voice

if TYPE_CHECKING:
    from os import PathLike

    from .asr import Recognizer

MIN_SPEED, MAX_SPEED = 0.5, 2.0


@dataclass(frozen=True)
class Speech:
    """A whole synthesized utterance."""

    audio: np.ndarray
    sample_rate: int

    @property
    def duration(self) -> float:
        return len(self.audio) / self.sample_rate


@dataclass(frozen=True)
class PreparedText:
    """User text after validation and normalisation, ready for an engine."""

    original: str
    normalized: str
    languages: tuple[str, ...]


class Parrot:
    """Text in, speech out. Safe to share between threads; holds no per-request state."""

    def __init__(self, engine: Engine | str | None = None, settings: Settings | None = None) -> None:
        self.settings = settings or Settings.from_env()
        self.engine = engine if isinstance(engine, Engine) else load_engine(engine, self.settings)
        builtin = [*self.engine.stock_voices(), *packaged_voices(self.engine.name)]
        self.voices = VoiceLibrary(builtin, self.settings.data_dir / "voices")
        # The first built-in voice, fixed for this instance; None when the engine has none (a CosyVoice2
        # release without pretrained speakers), so every request must name a voice.
        self.default_voice: str | None = builtin[0].name if builtin else None
        self._recognizer: Recognizer | None = None
        self._recognizer_lock = threading.Lock()

    @property
    def sample_rate(self) -> int:
        return self.engine.sample_rate

    @property
    def recognizer(self) -> Recognizer:
        """The embedded speech recognizer (Whisper base), loaded on first use."""
        with self._recognizer_lock:
            if self._recognizer is None:
                from .asr import Recognizer

                self._recognizer = Recognizer(self.settings)
            return self._recognizer

    def voice(self, name: str | Voice | None) -> Voice:
        """A voice by name (built-in or saved), or the default one."""
        if isinstance(name, Voice):
            return name
        name = name or self.default_voice
        if name is None:
            raise UnknownVoiceError(
                f"the {self.engine.name} engine has no built-in voices; clone one (`parrot voices add NAME CLIP`) "
                "and name it"
            )
        return self.voices.get(name)

    def clone(
        self,
        audio: bytes | str | PathLike[str] | np.ndarray | Reference,
        transcript: str | None = None,
        *,
        name: str = "clone",
        sample_rate: int | None = None,
        language: str | None = None,
    ) -> Voice:
        """Make a voice from 3-30 s of someone speaking (not saved: see ``voices.save``).

        ``audio`` is a file path, encoded bytes (any format), or an array with ``sample_rate``. A
        missing ``transcript`` is made with the embedded recognizer.
        """
        make_voice = getattr(self.engine, "make_voice", None)
        if make_voice is None:
            raise ParrotError(f"the {self.engine.name} engine cannot clone voices")
        started = time.perf_counter()
        reference = audio if isinstance(audio, Reference) else load_reference(audio, sample_rate)
        language = check_language(language)
        if not transcript or not transcript.strip():
            heard = self.recognizer.transcribe(reference.audio, language=language)
            transcript, language = heard.text, language or heard.language
        voice: Voice = make_voice(reference, transcript.strip(), name)
        meta = {
            **voice.meta,
            "transcript": transcript.strip(),
            "reference_language": language,
            "reference_seconds": round(reference.duration, 2),
            "clone_seconds": round(time.perf_counter() - started, 2),
            "notes": list(reference.notes),
        }
        return replace(voice, meta=meta, language=voice.language or language)

    def prepare(self, text: str, lang: str | None = None) -> PreparedText:
        """Validate and normalise ``text``; raises ``InputError`` with the reason if it cannot be spoken."""
        if not isinstance(text, str):
            raise InputError("text must be a string")
        if len(text) > self.settings.max_text_chars:
            raise InputError(
                f"text is {len(text):,} characters; the limit is {self.settings.max_text_chars:,} "
                "(split it, or raise PARROT_MAX_TEXT_CHARS)"
            )
        # The normaliser is the one place that drops control and invisible characters.
        normalized = normalize(strip_tags(text)[0])  # never speak markup the engine cannot act on
        if not normalized.strip():
            raise InputError("text is empty; give some words to speak")
        segments = split_languages(normalized, check_language(lang))
        if not segments:
            raise InputError("text has nothing speakable (only symbols, emoji or punctuation)")
        return PreparedText(text, normalized, tuple(dict.fromkeys(s.lang for s in segments)))

    def stream(
        self,
        text: str,
        voice: str | Voice | None = None,
        *,
        speed: float = 1.0,
        lang: str | None = None,
        fast_start: bool = True,
    ) -> Iterator[AudioChunk]:
        """Validate now (errors raise before any audio), then yield audio chunks as they are made."""
        options = self._options(speed, lang, fast_start)
        chosen = self.voice(voice)
        prepared = self.prepare(text, options.lang)
        return self.engine.stream(prepared.normalized, chosen, options)

    def say(
        self, text: str, voice: str | Voice | None = None, *, speed: float = 1.0, lang: str | None = None
    ) -> Speech:
        """The whole waveform at once (a thin wrapper over ``stream``)."""
        chunks = [c.audio for c in self.stream(text, voice, speed=speed, lang=lang, fast_start=False)]
        audio = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
        return Speech(audio, self.sample_rate)

    @staticmethod
    def _options(speed: float, lang: str | None, fast_start: bool) -> SynthesisOptions:
        try:
            speed = float(speed)
        except (TypeError, ValueError) as exc:
            raise InputError(f"speed must be a number between {MIN_SPEED} and {MAX_SPEED}") from exc
        if not MIN_SPEED <= speed <= MAX_SPEED:
            raise InputError(f"speed {speed} is out of range; use {MIN_SPEED} to {MAX_SPEED}")
        return SynthesisOptions(speed=speed, lang=check_language(lang), fast_start=fast_start)


ENGINES = ("kokoro", "cosyvoice2")


def load_engine(name: str | None, settings: Settings) -> Engine:
    """Construct an engine by name: ``kokoro`` (embedded, the default) or ``cosyvoice2`` (downloaded weights)."""
    name = name or settings.engine
    if name == "kokoro":
        from .engines.kokoro import KokoroEngine

        return KokoroEngine(settings)
    if name == "cosyvoice2":
        try:
            from .engines.cosyvoice2.engine import CosyVoice2Engine
        except ImportError as exc:
            raise ModelError(
                f"the cosyvoice2 engine needs {exc.name or 'PyTorch'}: pip install 'parrot-tts[cosyvoice2]'"
            ) from exc
        return CosyVoice2Engine(settings)
    raise InputError(f"unknown engine {name!r}; available engines: {', '.join(ENGINES)}")
