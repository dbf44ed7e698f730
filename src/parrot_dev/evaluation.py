"""Scoring shared by tests and benchmarks: intelligibility (canonical text, CER, WER) and delivery.

Transcripts and references are put in one canonical form before comparing: numbers spelled out
by Parrot's own normaliser, traditional Chinese mapped to simplified (``zhconv``, a test/bench
dependency), punctuation dropped, case folded.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import numpy as np

from parrot.text.normalize import normalize

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]")


def canonical(text: str) -> str:
    """Lower-case words (or CJK characters) without punctuation, numbers spelled out."""
    from zhconv import convert

    text = convert(normalize(text), "zh-cn").lower()
    kept = [
        ch if unicodedata.category(ch)[0] in "LN" or ch == "'" else " "
        for ch in unicodedata.normalize("NFKC", text)
    ]
    return " ".join("".join(kept).replace("-", " ").split())


def tokens(text: str) -> list[str]:
    """Words for alphabetic text, single characters for CJK (so CER and WER mix naturally)."""
    out: list[str] = []
    for word in canonical(text).split():
        if _CJK.search(word):
            out.extend(ch for ch in word)
        else:
            out.append(word)
    return out


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i]
        for j, h in enumerate(hyp, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = current
    return previous[-1]


def error_rate(reference: str, hypothesis: str) -> float:
    """Token error rate: CER for Chinese/Japanese, WER for English, mixed for mixed text."""
    ref = tokens(reference)
    if not ref:
        raise ValueError("reference has no words")
    return edit_distance(ref, tokens(hypothesis)) / len(ref)


@dataclass(frozen=True)
class Delivery:
    """How a recording is spoken, measured from the signal alone (for instruction checks)."""

    seconds: float  # from the first to the last speech frame
    f0_median: float  # Hz, over voiced frames (0 when there are none)
    f0_range: float  # semitones between the 10th and 90th percentile of voiced F0
    rms_db: float  # loudness of the speech frames, dB relative to full scale
    voiced: float  # share of speech frames that are voiced (a whisper has almost none)


def measure_delivery(audio: np.ndarray, sample_rate: int) -> Delivery:
    """Duration, pitch, loudness and voicing of one utterance.

    Pitch uses WORLD's Harvest tracker, a different algorithm from the DIO tracker that Parrot's
    effects use, so the measurement does not simply read back what was written.
    """
    from parrot.dsp.world import pyworld

    x = np.asarray(audio, dtype=np.float64)
    hop = int(sample_rate * 0.01)
    frames = x[: len(x) // hop * hop].reshape(-1, hop)
    energy = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    speech = energy > energy.max() - 40.0
    if not speech.any():
        return Delivery(0.0, 0.0, 0.0, -120.0, 0.0)
    first, last = np.flatnonzero(speech)[[0, -1]]
    f0, _ = pyworld().harvest(x, sample_rate, f0_floor=60.0, f0_ceil=800.0, frame_period=10.0)
    f0 = f0[: len(speech)]
    in_speech = f0[: len(speech)][speech[: len(f0)]]
    voiced = in_speech[in_speech > 0]
    seconds = (last - first + 1) * 0.01
    rms_db = float(20 * np.log10(np.sqrt(np.mean(frames[speech] ** 2)) + 1e-12))
    share = float(voiced.size / max(1, in_speech.size))
    if voiced.size < 5:
        return Delivery(seconds, 0.0, 0.0, rms_db, share)
    low, high = np.percentile(voiced, [10, 90])
    return Delivery(seconds, float(np.median(voiced)), float(12 * np.log2(high / low)), rms_db, share)
