"""Zero-shot cloning for Kokoro: a style fitted to the speaker by d-vector, with their pitch and tempo.

Kokoro's only speaker input is a 256-d style (first 128 values: the decoder's timbre; last 128: the
prosody predictor's). A cloned voice is made from a few seconds of speech and its transcript, with no
resynthesis afterwards (the voice speaks straight out of the model, as fast and clean as a stock voice):

1. **Base**: the stock styles closest to the speaker by d-vector (``voices.embedding``; never CAM++,
   which is the bench's judge) are each measured: the model speaks the transcript, and the ratio of the
   speaker's median F0 to the rendering's gives the pitch factor (the graph's ``f0_scale`` input), the
   ratio of speech durations the tempo. The candidate whose rendering, with that pitch and tempo, has the
   d-vector closest to the speaker's wins.
2. **Timbre**: the winner's decoder half is moved part of the way towards each other stock style's
   decoder half in turn; a step is kept only if the d-vector of the rendering gets closer to the speaker's.
   The prosody half stays, so pitch and tempo stay measured.

Every rendering is one model call per transcript chunk: 2 x ``BASE_CANDIDATES`` + 4 x ``len(BLEND_WEIGHTS)`` in all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ...dsp.world import pitch
from ...errors import InputError

SAMPLE_RATE = 24_000
BASE_CANDIDATES = 2  # stock styles measured as the base (two renderings each)
BLEND_WEIGHTS = (0.35,)  # a step of the decoder half towards another stock style
MIN_SPEED, MAX_SPEED = 0.8, 1.25
MAX_F0_SHIFT = float(np.log(1.8))  # pitch factor limit either way
DECODER = slice(0, 128)

# (style table, speed, f0_scale) -> the transcript spoken at 24 kHz
Render = Callable[[np.ndarray, float, float], np.ndarray]
# 24 kHz audio -> unit d-vector
Embed = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Fit:
    """The fitted voice: style table, tempo, pitch factor, and its d-vector similarity to the speaker."""

    table: np.ndarray
    speed: float
    f0_scale: float
    score: float
    base: str
    blend: dict[str, float]  # other stock style -> weight of its decoder half in the blend

    def describe(self) -> str:
        mix = ", ".join(f"{name} {weight:+.2f}" for name, weight in self.blend.items())
        return f"base style {self.base}" + (f" (timbre {mix})" if mix else "")


def fit_voice(
    ranked: Sequence[tuple[str, np.ndarray]], reference: np.ndarray, render: Render, embed: Embed, blend: bool = True
) -> Fit:
    """Fit a voice to ``reference`` (24 kHz) from stock ``(name, table)`` pairs ranked nearest first."""
    target = embed(reference)
    ref_f0 = _median_log_f0(reference)
    if ref_f0 is None:
        raise InputError("no voiced speech found to learn the pitch from; give a clip of someone talking")
    ref_speech = speech_seconds(reference)

    def measured(name: str, table: np.ndarray) -> Fit:
        plain = render(table, 1.0, 1.0)
        own = _median_log_f0(plain)
        shift = 0.0 if own is None else float(np.clip(ref_f0 - own, -MAX_F0_SHIFT, MAX_F0_SHIFT))
        speed = float(np.clip(speech_seconds(plain) / max(ref_speech, 0.1), MIN_SPEED, MAX_SPEED))
        score = float(embed(render(table, speed, float(np.exp(shift)))) @ target)
        return Fit(table, speed, float(np.exp(shift)), score, name, {})

    best = max((measured(name, table) for name, table in ranked[:BASE_CANDIDATES]), key=lambda f: f.score)
    if not blend:
        return best
    for name, table in ranked:
        if name == best.base:
            continue
        for weight in BLEND_WEIGHTS:
            mixed = best.table.copy()
            mixed[:, DECODER] += weight * (table[:, DECODER] - best.table[:, DECODER])
            score = float(embed(render(mixed, best.speed, best.f0_scale)) @ target)
            if score > best.score:
                best = Fit(mixed, best.speed, best.f0_scale, score, best.base, {**best.blend, name: weight})
                break
    return best


def speech_seconds(audio: np.ndarray, rate: int = SAMPLE_RATE) -> float:
    """Seconds of 10 ms frames within 30 dB of the loud frames (pauses and silence left out)."""
    hop = rate // 100
    frames = np.asarray(audio[: len(audio) // hop * hop], dtype=np.float64).reshape(-1, hop)
    if not len(frames):
        return 0.0
    level = 10 * np.log10((frames**2).mean(1) + 1e-12)
    return float((level > np.percentile(level, 95) - 30.0).sum()) / 100


def _median_log_f0(audio: np.ndarray) -> float | None:
    f0 = pitch(audio, SAMPLE_RATE)
    voiced = f0[f0 > 0]
    return float(np.median(np.log(voiced))) if voiced.size >= 10 else None
