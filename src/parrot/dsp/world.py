"""WORLD vocoder analysis and resynthesis (pyworld), shared by voice cloning and delivery effects."""

from __future__ import annotations

import warnings
from types import ModuleType

import numpy as np

FRAME_MS = 5.0


def pyworld() -> ModuleType:
    with warnings.catch_warnings():  # it imports the deprecated pkg_resources
        warnings.simplefilter("ignore")
        import pyworld as module
    return module


def analyze(
    audio: np.ndarray, sample_rate: int, aperiodicity: bool = True, allowed_range: float = 0.1
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """F0 (Hz, 0 = unvoiced), spectral envelope and (if asked) aperiodicity, one frame per ``FRAME_MS``.

    ``allowed_range`` is DIO's voicing tolerance (its default 0.1 suits cloning best, measured with
    ``bench/eval_clone.py``); delivery effects use 0.2, which drops fewer voiced frames at consonant
    clusters: with 0.1, resynthesised "please close" was heard as "peace coast".
    """
    world = pyworld()
    x = np.ascontiguousarray(audio, dtype=np.float64)
    f0, times = world.dio(
        x, sample_rate, frame_period=FRAME_MS, f0_floor=60.0, f0_ceil=700.0, allowed_range=allowed_range
    )
    f0 = world.stonemask(x, f0, times, sample_rate)
    sp = world.cheaptrick(x, f0, times, sample_rate)
    ap = world.d4c(x, f0, times, sample_rate) if aperiodicity else None
    return f0, sp, ap


def pitch(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """F0 only (Hz, 0 = unvoiced), one frame per ``FRAME_MS``: analysis for measuring a voice, no resynthesis."""
    world = pyworld()
    x = np.ascontiguousarray(audio, dtype=np.float64)
    f0, times = world.dio(x, sample_rate, frame_period=FRAME_MS, f0_floor=60.0, f0_ceil=700.0)
    return world.stonemask(x, f0, times, sample_rate)


def synthesize(f0: np.ndarray, sp: np.ndarray, ap: np.ndarray, sample_rate: int, length: int) -> np.ndarray:
    """Waveform of ``length`` samples from WORLD parameters (float32)."""
    out = (
        pyworld()
        .synthesize(
            np.ascontiguousarray(f0, dtype=np.float64),
            np.ascontiguousarray(sp, dtype=np.float64),
            np.ascontiguousarray(ap, dtype=np.float64),
            sample_rate,
            FRAME_MS,
        )
        .astype(np.float32)
    )
    if out.size < length:
        out = np.pad(out, (0, length - out.size))
    return out[:length]
