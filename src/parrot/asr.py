"""Speech recognition with the embedded Whisper base model (faster-whisper, CTranslate2 int8)."""

from __future__ import annotations

import math
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .config import Settings
from .models import whisper_base_dir
from .text.segment import LANGUAGES, char_class

if TYPE_CHECKING:
    from faster_whisper.transcribe import Segment as WhisperSegment

ASR_SAMPLE_RATE = 16_000
FITTED_MAX_SECONDS = 29.0  # longer: Whisper's own 30 s windows
FITTED_MIN_SECONDS = 10  # the shortest encoder window: 5 s repeated single words ("Yes Yes") and misread languages
MAX_DECODER_TOKENS = 448
NO_SPEECH_PROB = 0.6  # Whisper's own thresholds for "nothing was said" and for a looping decoder
MAX_COMPRESSION_RATIO = 2.4
SURE_LANGUAGE = 0.8  # share of the probability (among Parrot's languages) that settles the language at once


@dataclass(frozen=True)
class Transcript:
    text: str
    language: str
    duration: float


@dataclass(frozen=True)
class Word:
    """A word and when it was said (seconds from the start of the audio)."""

    word: str
    start: float
    end: float
    probability: float


@dataclass(frozen=True)
class Segment:
    """A stretch of speech as Whisper decoded it, with its decoding statistics (OpenAI's fields)."""

    id: int
    seek: int  # where its 30 s window starts, in feature frames (10 ms)
    start: float
    end: float
    text: str  # as decoded, usually with a leading space
    tokens: tuple[int, ...]
    temperature: float
    avg_logprob: float
    compression_ratio: float
    no_speech_prob: float
    words: tuple[Word, ...] = ()


@dataclass(frozen=True)
class Recognition:
    """Timed segments of a recording. ``language``: the language spoken (translations are in English)."""

    language: str
    duration: float
    segments: tuple[Segment, ...]

    @property
    def text(self) -> str:
        return "".join(s.text for s in self.segments).strip()


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

        ``short``: for an utterance where latency matters (a voice chat turn): see ``_fitted``. Otherwise
        faster-whisper's own decoding, beam search over Whisper's fixed 30 s windows."""
        seconds = len(audio) / ASR_SAMPLE_RATE
        if short and seconds <= FITTED_MAX_SECONDS:
            audio = np.ascontiguousarray(audio, dtype=np.float32)
            with self._lock:  # CTranslate2 serialises anyway; the lock keeps memory flat
                text, language = self._fitted(audio, language, prompt)
            return Transcript(text=text, language=language, duration=seconds)
        recognition = self.recognize(audio, language=language, prompt=prompt)
        return Transcript(text=recognition.text, language=recognition.language, duration=seconds)

    @property
    def languages(self) -> tuple[str, ...]:
        """The ISO codes ``language`` accepts."""
        return tuple(self._model.supported_languages)

    def recognize(
        self,
        audio: np.ndarray,
        *,
        language: str | None = None,
        prompt: str | None = None,
        translate: bool = False,
        words: bool = False,
        on_segment: Callable[[Segment], None] | None = None,
    ) -> Recognition:
        """Timed segments of ``audio`` (mono float32 at 16 kHz) by faster-whisper's own decoding (beam
        search over Whisper's 30 s windows). ``translate``: Whisper's translation into English; ``words``:
        word timestamps too (slower). ``on_segment`` is called with each segment as soon as it is decoded
        (from this thread); an exception it raises stops the decoding. Times never exceed the duration."""
        seconds = len(audio) / ASR_SAMPLE_RATE
        audio = np.ascontiguousarray(audio, dtype=np.float32)
        decoded: list[Segment] = []
        with self._lock:
            segments, info = self._model.transcribe(
                audio, language=language, task="translate" if translate else "transcribe", beam_size=5,
                vad_filter=False, condition_on_previous_text=False, initial_prompt=prompt,
                word_timestamps=words,
            )  # fmt: skip
            for raw in segments:
                segment = _segment(raw, len(decoded), seconds)
                decoded.append(segment)
                if on_segment is not None:
                    on_segment(segment)
        return Recognition(language=info.language, duration=seconds, segments=tuple(decoded))

    def _fitted(self, audio: np.ndarray, language: str | None, prompt: str | None) -> tuple[str, str]:
        """Greedy decoding with the encoder window fitted to the audio (at least ``FITTED_MIN_SECONDS``)
        instead of 30 s, for a voice chat turn.

        faster-whisper always pads to 30 s, for the transcript and again for language detection, which costs
        about 0.75 s each on 2 cores however short the speech (``bench/bench_asr.py`` compares the two).
        Language detection is weak on a few words of speech, so it chooses among the languages Parrot speaks,
        and when the likeliest has under ``SURE_LANGUAGE`` of the probability, the best two are both
        decoded and the more probable transcript wins."""
        from faster_whisper.audio import pad_or_trim

        model = self._model
        window = max(FITTED_MIN_SECONDS, math.ceil(len(audio) / ASR_SAMPLE_RATE + 1))
        extractor = model.feature_extractor
        features = extractor(audio, chunk_length=window)
        encoded = model.encode(pad_or_trim(features, window * extractor.sampling_rate // extractor.hop_length))
        if language is not None:
            return self._decode(encoded, language, prompt)[0], language
        detected = {token[2:-2]: p for token, p in model.model.detect_language(encoded)[0]}
        likely = sorted(LANGUAGES, key=lambda code: detected.get(code, 0.0), reverse=True)
        total = sum(detected.get(code, 0.0) for code in LANGUAGES) or 1.0
        if detected.get(likely[0], 0.0) / total >= SURE_LANGUAGE:
            text, chosen = self._decode(encoded, likely[0], prompt)[0], likely[0]
        else:
            (text, _), chosen = max(((self._decode(encoded, code, prompt), code) for code in likely[:2]),
                                    key=lambda decoded: decoded[0][1])  # fmt: skip
        return text, _written_in(text, chosen)

    def _decode(self, encoded: object, language: str, prompt: str | None) -> tuple[str, float]:
        """The transcript in ``language`` and its mean token log-probability."""
        from faster_whisper.tokenizer import Tokenizer

        model = self._model
        tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language=language)
        prefix: list[int] = []
        if prompt and prompt.strip():
            prefix = [tokenizer.sot_prev, *tokenizer.encode(" " + prompt.strip())[-(MAX_DECODER_TOKENS // 2 - 1) :]]
        start = [*prefix, *tokenizer.sot_sequence, tokenizer.no_timestamps]
        text, score = "", -math.inf
        for beam_size in (1, 5):  # greedy; beam search again if greedy got stuck repeating itself
            result = model.model.generate(
                encoded, [start], beam_size=beam_size, max_length=MAX_DECODER_TOKENS - len(start),
                suppress_blank=True, suppress_tokens=[-1], return_scores=True, return_no_speech_prob=True,
            )[0]  # fmt: skip
            score = result.scores[0]
            if result.no_speech_prob > NO_SPEECH_PROB and score < -1.0:
                return "", score  # Whisper is sure it heard no speech, and unsure of the words
            text = tokenizer.decode(result.sequences_ids[0]).strip()
            if _compression_ratio(text) <= MAX_COMPRESSION_RATIO:
                break
        return text, score


def _segment(raw: WhisperSegment, number: int, seconds: float) -> Segment:
    """Our ``Segment`` from faster-whisper's, numbered from 0 as OpenAI's are, times inside ``[0, seconds]``."""

    def clip(t: float) -> float:
        return round(float(min(max(t, 0.0), seconds)), 3)

    words = tuple(Word(w.word, clip(w.start), clip(w.end), float(w.probability)) for w in raw.words or ())
    return Segment(
        id=number, seek=raw.seek, start=clip(raw.start), end=clip(raw.end), text=raw.text,
        tokens=tuple(raw.tokens), temperature=raw.temperature or 0.0, avg_logprob=float(raw.avg_logprob),
        compression_ratio=float(raw.compression_ratio), no_speech_prob=float(raw.no_speech_prob), words=words,
    )  # fmt: skip


def _written_in(text: str, detected: str) -> str:
    """The language of ``text`` when its script settles it: Whisper sometimes labels English words "ja"."""
    scripts = {char_class(c) for c in text}
    if "hangul" in scripts:
        return "ko"
    if "deva" in scripts:
        return "hi"
    if "kana" in scripts:
        return "ja"
    if "han" in scripts:
        return detected if detected in ("zh", "ja") else "zh"
    if "latin" in scripts:  # Spanish, French... are told apart by Whisper, not by the script
        return detected if detected in ("es", "fr", "it", "pt") else "en"
    return detected


def _compression_ratio(text: str) -> float:
    """How well ``text`` compresses: above about 2.4, Whisper is looping on a phrase."""
    data = text.encode()
    return len(data) / len(zlib.compress(data)) if data else 0.0
