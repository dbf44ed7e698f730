"""Scoring shared by tests and benchmarks: intelligibility (canonical text, CER, WER: ``parrot.evaluation``,
which training uses too) and delivery."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from parrot.evaluation import canonical, edit_distance, error_rate, tokens

__all__ = ["Delivery", "canonical", "edit_distance", "error_rate", "measure_delivery", "tokens"]


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
