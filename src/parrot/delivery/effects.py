"""Realising a ``Prosody`` on finished speech: pitch level and range, tilt, voice quality, loudness.

Rate is not done here: engines take it as their speed input, which keeps timing natural. The rest
is signal processing on the WORLD vocoder's parameters, which moves pitch without moving formants
(the speaker stays recognisable): F0 is shifted and its movement around the median stretched or
flattened; the spectral envelope gets a tilt for vocal effort; the aperiodicity is raised for a
breathy voice, or voicing removed altogether for a whisper; a slow wobble of pitch and loudness
gives laughing or trembling speech. Loudness changes last, through a soft limiter so that loud
speech never clips.
"""

from __future__ import annotations

import numpy as np

from ..dsp.world import FRAME_MS, analyze, synthesize
from ..prosody import Prosody

TREMOLO_HZ = 5.5
_LIMIT_KNEE = 0.8  # the soft limiter leaves samples below this untouched


def apply_prosody(audio: np.ndarray, sample_rate: int, prosody: Prosody) -> np.ndarray:
    """``audio`` (mono float32) delivered as ``prosody`` asks, rate excepted; neutral returns it as is."""
    out = audio
    if prosody.changes_voice and audio.size >= sample_rate // 20:
        out = _rework(audio, sample_rate, prosody)
    if abs(prosody.volume) > 1e-3:
        out = gain(out, prosody.volume)
    return out


def gain(audio: np.ndarray, decibels: float) -> np.ndarray:
    """Scale by ``decibels``, softly limiting peaks so nothing clips."""
    out = audio * np.float32(10.0 ** (decibels / 20.0))
    return soft_limit(out)


def soft_limit(audio: np.ndarray) -> np.ndarray:
    """Compress samples above the knee smoothly towards 1.0 (float32 in, float32 out)."""
    level = np.abs(audio)
    if level.size == 0 or float(level.max()) <= _LIMIT_KNEE:
        return audio.astype(np.float32, copy=False)
    room = 0.99 - _LIMIT_KNEE
    over = np.maximum(level - _LIMIT_KNEE, 0.0)
    limited = np.where(level > _LIMIT_KNEE, _LIMIT_KNEE + room * np.tanh(over / room), level)
    return (np.sign(audio) * limited).astype(np.float32)


def _rework(audio: np.ndarray, sample_rate: int, prosody: Prosody) -> np.ndarray:
    f0, sp, ap = analyze(audio, sample_rate, allowed_range=0.2)
    assert ap is not None
    frames = np.arange(len(f0)) * (FRAME_MS / 1000.0)
    wobble = np.sin(2.0 * np.pi * TREMOLO_HZ * frames) * prosody.tremolo

    voiced = f0 > 0
    if voiced.any():
        log_f0 = np.log(f0[voiced])
        center = float(np.median(log_f0))
        shifted = center + prosody.pitch * np.log(2.0) / 12.0 + (log_f0 - center) * prosody.pitch_range
        f0 = f0.copy()
        f0[voiced] = np.clip(np.exp(shifted) * (1.0 + 0.04 * wobble[voiced]), 50.0, 1000.0)

    if prosody.quality == "whisper":
        f0 = np.zeros_like(f0)
        ap = np.ones_like(ap)
    elif prosody.quality == "breathy":
        ap = 1.0 - (1.0 - ap) * 0.7

    bins = sp.shape[1]
    if abs(prosody.brightness) > 1e-3:
        freqs = np.linspace(0.0, sample_rate / 2, bins)
        octaves = np.log2(np.maximum(freqs, 500.0) / 500.0)
        sp = sp * (10.0 ** (prosody.brightness * octaves / 10.0))[None, :]
    if prosody.tremolo > 0:
        sp = sp * ((1.0 + 0.35 * wobble) ** 2)[:, None]

    out = synthesize(f0, sp, ap, sample_rate, audio.size)
    before = float(np.sqrt(np.mean(audio.astype(np.float64) ** 2)))
    after = float(np.sqrt(np.mean(out.astype(np.float64) ** 2)))
    if after > 1e-9:  # keep the loudness; the volume control alone changes it
        out = out * np.float32(before / after)
    return soft_limit(out)
