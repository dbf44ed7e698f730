"""The Python facade everything else calls (CLI, server, web UI, chat).

    from parrot import Parrot
    tts = Parrot()
    for chunk in tts.stream("你好，world!", voice="jf_alpha"):
        play(chunk.audio)            # float32 mono at tts.sample_rate
    speech = tts.say("Hello there.")  # the whole waveform
    tts.say("Good news [laughter] everyone!", instruction="speak cheerfully and a bit faster")
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from .captions import Timeline
from .config import Settings
from .delivery.effects import soft_limit
from .delivery.instruct import Instruction, parse_instruction
from .delivery.render import RENDERED_SOUNDS, Script, render
from .engines.base import AudioChunk, Engine, SynthesisOptions, TimedText
from .errors import (
    AudioBudgetError,
    InputError,
    ModelError,
    TextTooLongError,
    UnknownVoiceError,
    UnsupportedLanguageError,
)
from .files import make_private
from .prosody import NEUTRAL
from .text.markup import Pause, Piece, Sound, Words, parse_markup, rewrite_outside_markup
from .text.normalize import normalize
from .text.segment import check_language, split_languages
from .voices.consent import Consent
from .voices.design import Design, blend, is_blend
from .voices.design import design as design_voice
from .voices.library import VoiceLibrary, packaged_voices
from .voices.reference import Reference, load_reference
from .voices.voice import Voice

if TYPE_CHECKING:
    from os import PathLike

    from .asr import Recognizer
    from .training.job import TrainingJob

log = logging.getLogger(__name__)

MIN_SPEED, MAX_SPEED = 0.5, 2.0
FASTEST_CHARS_PER_SECOND = 30.0  # no voice speaks faster at speed 1: a lower bound of a text's duration


@dataclass(frozen=True)
class Speech:
    """A whole synthesized utterance; ``words`` and ``sentences``: when each is said (seconds from the start)
    in ``text``, the words as spoken (normalised, markup removed)."""

    audio: np.ndarray
    sample_rate: int
    warnings: tuple[str, ...] = ()
    text: str = ""
    words: tuple[TimedText, ...] = ()
    sentences: tuple[TimedText, ...] = ()

    @property
    def duration(self) -> float:
        return len(self.audio) / self.sample_rate


@dataclass(frozen=True)
class PreparedText:
    """User text after validation, markup parsing and normalisation, ready for an engine."""

    original: str
    normalized: str  # the words to speak, normalised, markup removed
    languages: tuple[str, ...]
    script: Script  # words, pauses and sounds in order, for engines that do not read markup
    engine_text: str  # normalised words with the markup kept, for engines that read it
    warnings: tuple[str, ...] = ()

    def min_seconds(self, speed: float = 1.0) -> float:
        """The least audio this text can make at ``speed``: its pauses and its words at the fastest rate."""
        pauses = sum(p.seconds for p in self.script.pieces if isinstance(p, Pause))
        return (pauses + len(self.normalized) / FASTEST_CHARS_PER_SECOND) / speed


class SpeechStream(Iterator[AudioChunk]):
    """The audio chunks of one request, and what the user should know about how it was spoken.

    Each chunk's ``offset`` is where it starts in the speech; its ``words`` point into ``text``, the words as
    spoken (normalised, markup removed); ``captions.Timeline(stream.text)`` turns them into speech time."""

    def __init__(
        self,
        chunks: Iterator[AudioChunk],
        warnings: tuple[str, ...] = (),
        instruction: Instruction | None = None,
        *,
        max_seconds: float = float("inf"),
        text: str = "",
    ) -> None:
        self._chunks = chunks
        self.text = text
        self.warnings = warnings  # e.g. parts of an instruction this engine cannot follow
        self.instruction = instruction  # the instruction as understood, if one was given
        self.max_seconds = max_seconds  # the audio budget of the request (``Settings.max_audio_seconds``)
        self.seconds = 0.0  # audio yielded so far

    def __next__(self) -> AudioChunk:
        chunk = next(self._chunks)
        # Some voices peak above full scale (jm_kumo up to about 1.08): such a chunk is limited softly rather
        # than clipped when encoded. Chunks within full scale are left exactly as the engine made them.
        if chunk.audio.size and float(np.abs(chunk.audio).max()) > 1.0:
            chunk = replace(chunk, audio=soft_limit(chunk.audio))
        chunk = replace(chunk, offset=self.seconds)
        self.seconds += len(chunk.audio) / chunk.sample_rate
        if self.seconds > self.max_seconds:
            self.close()
            raise AudioBudgetError(
                f"the speech is longer than {self.max_seconds:g} s, the most one request may make "
                "(PARROT_MAX_AUDIO_SECONDS); split the text"
            )
        return chunk

    def close(self) -> None:
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()


class Parrot:
    """Text in, speech out. Safe to share between threads; holds no per-request state."""

    def __init__(self, engine: Engine | str | None = None, settings: Settings | None = None) -> None:
        self.settings = settings or Settings.from_env()
        self.engine = engine if isinstance(engine, Engine) else load_engine(engine, self.settings)
        builtin = [*self.engine.stock_voices(), *packaged_voices(self.engine.name)]
        if make_private(self.settings.data_dir, 0o700):  # it holds the saved voices (biometric data)
            log.warning("made the data directory %s private (0700); it was readable by others", self.settings.data_dir)
        self.voices = VoiceLibrary(builtin, self.settings.data_dir / "voices")
        # The first built-in voice, fixed for this instance; None when the engine has none (a CosyVoice2
        # release without pretrained speakers), so every request must name a voice. A language the engine
        # has a better voice for (``Engine.default_voices``) is spoken with that one: ``default_voice_for``.
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
        if name is not None and not isinstance(name, str):
            raise InputError(f"voice must be a voice name (a string), got {type(name).__name__}")
        name = name or self.default_voice
        if name is None:
            raise UnknownVoiceError(
                f"the {self.engine.name} engine has no built-in voices; clone one (`parrot voices add NAME CLIP`) "
                "and name it"
            )
        if is_blend(name):  # "jf_alpha*0.3+jm_kumo*0.7"
            return blend(name, self.voices.get)
        return self.voices.get(name)

    def design(
        self, source: str | Voice, adjust: Design | None = None, *, name: str | None = None, description: str = ""
    ) -> Voice:
        """A new voice from ``source`` (a voice, a name, or a blend such as ``"jf_alpha*0.3+jm_kumo*0.7"``)
        with ``adjust`` applied (pitch, pace, brightness, breathiness); not saved (see ``voices.save``)."""
        return design_voice(self.voice(source), adjust or Design(), name=name, description=description)

    def default_voice_for(self, languages: tuple[str, ...]) -> Voice:
        """The voice a text in ``languages`` (first = first spoken) gets when the caller names none."""
        for lang in languages:
            name = self.engine.default_voices.get(lang)
            if name is not None and self.voices.is_builtin(name):
                return self.voices.get(name)
        return self.voice(None)

    def clone(
        self,
        audio: bytes | str | PathLike[str] | np.ndarray | Reference,
        transcript: str | None = None,
        *,
        name: str = "clone",
        sample_rate: int | None = None,
        language: str | None = None,
        consent: Consent | None = None,
    ) -> Voice:
        """Make a voice from 3-30 s of someone speaking (not saved: see ``voices.save``).

        ``audio`` is a file path, encoded bytes (any format), or an array with ``sample_rate``. A
        missing ``transcript`` is made with the embedded recognizer. ``consent`` (``Consent.given(who,
        statement)``) is recorded with the voice.
        """
        started = time.perf_counter()
        reference = audio if isinstance(audio, Reference) else load_reference(audio, sample_rate)
        language = check_language(language)
        if not transcript or not transcript.strip():
            heard = self.recognizer.transcribe(reference.audio, language=language)
            transcript, language = heard.text, language or heard.language
        voice = self.engine.make_voice(reference, transcript.strip(), name)
        meta = {
            **voice.meta,
            "transcript": transcript.strip(),
            "reference_language": language,
            "reference_seconds": round(reference.duration, 2),
            "clone_seconds": round(time.perf_counter() - started, 2),
            "notes": list(reference.notes),
        }
        voice = replace(voice, meta=meta, language=voice.language or language)
        return consent.attach(voice) if consent is not None else voice

    def train(
        self,
        name: str,
        clips: list[bytes | str | PathLike[str]],
        *,
        texts: list[str] | None = None,
        language: str | None = None,
        minutes: float = 10.0,
        resume: bool = False,
        overwrite: bool = False,
    ) -> TrainingJob:
        """A job that trains a voice on 10 s to a few minutes of one person's recordings and saves it in the
        library: ``job.start(on_progress)`` / ``job.run()``, ``job.cancel()``, ``job.wait()`` (needs torch)."""
        from .training.job import TrainingJob
        from .training.trainer import TrainOptions

        return TrainingJob(
            self, name, list(clips), texts=texts, language=check_language(language),
            options=TrainOptions(minutes=minutes), resume=resume, overwrite=overwrite,
        )  # fmt: skip

    def prepare(self, text: str, lang: str | None = None) -> PreparedText:
        """Validate, parse markup and normalise ``text``; raises ``InputError`` saying why it cannot be spoken."""
        if not isinstance(text, str):
            raise InputError("text must be a string")
        check_text_length(text, self.settings.max_text_chars)
        lang = self._language(lang)
        markup = parse_markup(text, self.engine.languages)  # markup is never spoken
        native = self.engine.native_markup
        warnings = list(markup.warnings)
        pieces: list[Piece] = []
        for piece in markup.pieces:
            if isinstance(piece, Words):
                # The normaliser is the one place that drops control and invisible characters.
                words = normalize(piece.text, "zh" if piece.lang == "yue" else piece.lang or lang)
                if words.strip():
                    pieces.append(replace(piece, text=words))
                elif "\n" in piece.text and pieces:
                    pieces.append(Pause(0.45))
            elif isinstance(piece, Sound) and not native and piece.kind not in RENDERED_SOUNDS:
                warnings.append(f"[{piece.kind}] is not rendered by the {self.engine.name} engine; it was left out")
            else:
                pieces.append(piece)
        words = [p for p in pieces if isinstance(p, Words)]
        if not words and not any(isinstance(p, Sound) for p in pieces):
            raise InputError("text is empty; give some words to speak")
        languages: list[str] = []
        for piece in words:  # (Cantonese, for engines that speak it, is segmented as Chinese script)
            forced = "zh" if piece.lang == "yue" else piece.lang
            languages += [piece.lang or s.lang for s in split_languages(piece.text, forced or lang)]
        if words and not languages:
            raise InputError("text has nothing speakable (only symbols, emoji or punctuation)")
        offsets, position = [], 0
        for piece in pieces:
            offsets.append(position)
            if isinstance(piece, Words):
                position += len(piece.text) + 1
        normalized = " ".join(p.text for p in words)
        engine_text = rewrite_outside_markup(text, _normalize_run) if native else ""
        return PreparedText(
            text,
            normalized,
            tuple(dict.fromkeys(languages)),
            Script(tuple(pieces), tuple(offsets), normalized),
            engine_text,
            tuple(dict.fromkeys(warnings)),
        )

    def stream(
        self,
        text: str,
        voice: str | Voice | None = None,
        *,
        speed: float = 1.0,
        lang: str | None = None,
        fast_start: bool = True,
        instruction: str | None = None,
    ) -> SpeechStream:
        """Validate now (errors raise before any audio), then yield audio chunks as they are made.

        A text that would make more audio than ``Settings.max_audio_seconds`` raises ``AudioBudgetError`` now
        (estimated from its pauses and length) or, past the budget, while streaming.

        ``instruction`` says how to speak ("用悲伤的语气慢慢说", "speak cheerfully and a bit faster"); what
        cannot be followed is listed in the result's ``warnings``.
        """
        options = self._options(speed, lang, fast_start)
        chosen = self.voice(voice) if voice else None
        prepared = self.prepare(text, options.lang)
        if chosen is None:
            chosen = self.default_voice_for(prepared.languages)
        budget = self.settings.max_audio_seconds
        if prepared.min_seconds(options.speed) > budget:
            raise AudioBudgetError(
                f"this text would make at least {prepared.min_seconds(options.speed):,.0f} s of audio; one request "
                f"may make at most {budget:g} s (PARROT_MAX_AUDIO_SECONDS); split the text"
            )
        warnings = list(prepared.warnings)
        understood = parse_instruction(instruction) if instruction and instruction.strip() else None
        delivery = NEUTRAL
        if understood is not None:
            if self.engine.native_instructions:
                options = replace(options, instruction=understood.text)
            else:
                delivery = understood.prosody
                warnings += understood.warnings
        if self.engine.native_markup:
            chunks = self.engine.stream(prepared.engine_text, chosen, options)
        else:
            chunks = render(self.engine, prepared.script, chosen, options, delivery)
        return SpeechStream(
            iter(chunks), tuple(dict.fromkeys(warnings)), understood, max_seconds=budget, text=prepared.normalized
        )

    def say(
        self,
        text: str,
        voice: str | Voice | None = None,
        *,
        speed: float = 1.0,
        lang: str | None = None,
        instruction: str | None = None,
    ) -> Speech:
        """The whole waveform at once, with its word and sentence timings (a thin wrapper over ``stream``)."""
        stream = self.stream(text, voice, speed=speed, lang=lang, fast_start=False, instruction=instruction)
        timeline = Timeline(stream.text)
        chunks = []
        for chunk in stream:
            chunks.append(chunk.audio)
            timeline.add(chunk)
        timeline.finish()
        audio = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
        return Speech(
            audio, self.sample_rate, stream.warnings, stream.text, tuple(timeline.words), tuple(timeline.sentences)
        )

    def _options(self, speed: float, lang: str | None, fast_start: bool) -> SynthesisOptions:
        return SynthesisOptions(speed=check_speed(speed), lang=self._language(lang), fast_start=fast_start)

    def _language(self, lang: object) -> str | None:
        """A requested language code, checked against Parrot's languages and then this engine's."""
        code = check_language(lang)
        if code is not None and code not in self.engine.languages:
            raise UnsupportedLanguageError(
                f"language {lang!r} is not spoken by the {self.engine.name} engine; use one of: "
                f"{', '.join(self.engine.languages)} or auto"
            )
        return code


def check_speed(speed: object) -> float:
    """``speed`` as a float if it is a number from ``MIN_SPEED`` to ``MAX_SPEED``; else ``InputError``."""
    if isinstance(speed, bool) or not isinstance(speed, int | float | str):
        raise InputError(f"speed must be a number between {MIN_SPEED} and {MAX_SPEED}")
    try:
        value = float(speed)
    except ValueError as exc:
        raise InputError(f"speed must be a number between {MIN_SPEED} and {MAX_SPEED}") from exc
    if not MIN_SPEED <= value <= MAX_SPEED:
        raise InputError(f"speed {speed} is out of range; use {MIN_SPEED} to {MAX_SPEED}")
    return value


def check_text_length(text: str, limit: int, queued: int = 0) -> None:
    """``TextTooLongError`` if ``text`` (plus ``queued`` characters already waiting) is over ``limit``."""
    if len(text) + queued > limit:
        raise TextTooLongError(
            f"text is {len(text) + queued:,} characters; the limit is {limit:,} (split it, or raise "
            "PARROT_MAX_TEXT_CHARS)"
        )


def _normalize_run(run: str) -> str:
    """Normalise the words between two tags, keeping the spaces that separate them from the tags."""
    core = run.strip()
    if not core:
        return run
    return run[: len(run) - len(run.lstrip())] + normalize(core) + run[len(run.rstrip()) :]


ENGINES = ("kokoro", "cosyvoice2")


def load_engine(name: str | None, settings: Settings) -> Engine:
    """Construct an engine by name: ``kokoro`` (embedded, the default) or ``cosyvoice2`` (downloaded weights)."""
    name = name or settings.engine
    if name == "kokoro":
        from .engines.kokoro.engine import KokoroEngine

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
