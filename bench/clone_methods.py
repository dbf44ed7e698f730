"""Cloning methods to plug into ``eval_clone.py --module bench/clone_methods.py:NAME``.

- ``parrot``: what Parrot ships (``Parrot.clone``: base style + learned spectral mapping).
- ``style_only``: the same base style, without the spectral mapping (the ablation).
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
    return replace(voice, payload={"style": voice.payload["style"]})


def transcribed(tts: Parrot, audio: np.ndarray, sr: int, transcript: str) -> Voice:
    return tts.clone(audio, None, sample_rate=sr)
