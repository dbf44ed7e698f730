"""Speaking a parsed script on an engine that reads neither markup nor instructions itself.

The facade parses markup into pieces and an instruction into a ``Prosody``; this module walks
the pieces: words go to the engine (rate as its speed input, the rest of the delivery applied by
``effects``), pauses become silence, breaths and other airflow sounds come from ``sounds``, and
voiced sounds (laughter, "mm") are said by the engine in the same voice.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np

from ..engines.base import AudioChunk, Engine, SynthesisOptions
from ..prosody import RATE_LIMITS, Prosody
from ..text.chunk import pause_after
from ..text.markup import LAUGHING, Pause, Piece, Sound, Words
from ..text.segment import split_languages
from ..voices.voice import Voice
from .effects import apply_prosody
from .sounds import NOISE_KINDS, make_sound

# Sounds made with the voice: what the engine is given to say for them, per language.
_VOICED = {
    "laughter": {"zh": "哈哈哈！", "en": "Ha ha ha!", "ja": "ははは！"},
    "mn": {"zh": "嗯。", "en": "Hmm.", "ja": "うーん。"},
    "vocalized-noise": {"zh": "嗯。", "en": "Hmm.", "ja": "うーん。"},
}
RENDERED_SOUNDS = frozenset({*_VOICED, *NOISE_KINDS})
_START_LEVEL = 0.08  # typical speech RMS, until the first words give the real one


@dataclass(frozen=True)
class Script:
    """Pieces whose words are normalised, with each piece's offset in ``text`` (all words joined)."""

    pieces: tuple[Piece, ...]
    offsets: tuple[int, ...]
    text: str


def render(
    engine: Engine, script: Script, voice: Voice, options: SynthesisOptions, delivery: Prosody
) -> Iterator[AudioChunk]:
    """Yield the script's audio chunk by chunk, in order."""
    rate = engine.sample_rate
    level = _START_LEVEL
    lang = options.lang
    first = True
    pieces = script.pieces
    for index, (piece, offset) in enumerate(zip(pieces, script.offsets, strict=True)):
        if isinstance(piece, Pause):
            yield AudioChunk(np.zeros(int(piece.seconds * rate), dtype=np.float32), rate, "", offset, offset)
            continue
        if isinstance(piece, Sound):
            audio = make_sound(piece.kind, rate, level, seed=index)
            if audio is None:
                said = _VOICED.get(piece.kind, {}).get(lang or "en", _VOICED["mn"]["en"])
                sound_options = replace(options, lang=lang, fast_start=False)
                audio = _say(
                    engine,
                    said,
                    voice,
                    sound_options,
                    delivery.then(LAUGHING) if piece.kind == "laughter" else delivery,
                )
            first = False
            yield AudioChunk(audio, rate, "", offset, offset)
            continue
        prosody = delivery.then(piece.prosody)
        words_options = replace(
            options,
            speed=_clamp(options.speed * prosody.rate),
            lang=piece.lang or options.lang,
            fast_start=options.fast_start and first,
        )
        for chunk in engine.stream(piece.text, voice, words_options):
            audio = apply_prosody(chunk.audio, rate, replace(prosody, rate=1.0))
            if audio.size:
                level = 0.7 * level + 0.3 * float(np.sqrt(np.mean(audio**2)))
            first = False
            words = tuple(w.shifted(chars=offset) for w in chunk.words)
            yield AudioChunk(audio, rate, chunk.text, chunk.start + offset, chunk.end + offset, words)
        segments = split_languages(piece.text, piece.lang or options.lang)
        lang = segments[-1].lang if segments else lang
        follows = pieces[index + 1] if index + 1 < len(pieces) else None
        gap = pause_after(piece.text) if isinstance(follows, Words | Sound) else 0.0
        if gap:  # the engine puts pauses between its own chunks only
            end = offset + len(piece.text)
            yield AudioChunk(np.zeros(int(gap / words_options.speed * rate), dtype=np.float32), rate, "", end, end)


def _say(engine: Engine, text: str, voice: Voice, options: SynthesisOptions, prosody: Prosody) -> np.ndarray:
    spoken = replace(options, speed=_clamp(options.speed * prosody.rate))
    chunks = [
        apply_prosody(c.audio, engine.sample_rate, replace(prosody, rate=1.0))
        for c in engine.stream(text, voice, spoken)
    ]
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)


def _clamp(speed: float) -> float:
    return min(max(speed, RATE_LIMITS[0]), RATE_LIMITS[1])
