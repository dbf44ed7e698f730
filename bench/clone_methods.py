"""Cloning methods to plug into ``eval_clone.py --module bench/clone_methods.py:NAME``.

- ``parrot``: what Parrot ships (``Parrot.clone``: a stock-based style fitted by d-vector, with the speaker's
  pitch and tempo; ``engines/kokoro/fitting.py``).
- ``style_only``: the same style at the stock pitch and tempo (the ablation).
- ``transcribed``: Parrot's method with the transcript made by the embedded recognizer.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from parrot import Parrot
from parrot.voices.voice import Voice


def parrot(tts: Parrot, audio: np.ndarray, sr: int, transcript: str) -> Voice:
    return tts.clone(audio, transcript, sample_rate=sr)


def style_only(tts: Parrot, audio: np.ndarray, sr: int, transcript: str) -> Voice:
    voice = tts.clone(audio, transcript, sample_rate=sr)
    return replace(voice, payload={"style": voice.payload["style"]})  # no f0_scale, no speed


def transcribed(tts: Parrot, audio: np.ndarray, sr: int, transcript: str) -> Voice:
    return tts.clone(audio, None, sample_rate=sr)
