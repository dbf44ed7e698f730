"""Voice colour on finished speech, without resynthesis: spectral tilt (brightness) and breath noise.

Both work on the waveform itself (a zero-phase gain curve in the frequency domain, and noise shaped like
aspiration and following the speech's loudness), so, unlike the WORLD vocoder, they leave the rest of the
sound untouched. Deterministic: the same audio and settings give the same samples.
"""

from __future__ import annotations

import numpy as np

TILT_PIVOT_HZ = 500.0  # the tilt leaves frequencies below this alone and turns by dB/octave above
_BREATH_BAND = (1800.0, 9000.0)  # where aspiration noise lives
_ENVELOPE_MS = 20.0


def tilt(audio: np.ndarray, sample_rate: int, db_per_octave: float) -> np.ndarray:
    """``audio`` brighter (positive) or darker (negative) by ``db_per_octave`` above 500 Hz, same loudness."""
    if abs(db_per_octave) < 1e-3 or audio.size < 2:
        return audio
    spectrum = np.fft.rfft(audio.astype(np.float64))
    freqs = np.fft.rfftfreq(audio.size, 1.0 / sample_rate)
    octaves = np.log2(np.maximum(freqs, TILT_PIVOT_HZ) / TILT_PIVOT_HZ)
    out = np.fft.irfft(spectrum * 10.0 ** (db_per_octave * octaves / 20.0), n=audio.size)
    return _same_loudness(out, audio)


def breathe(audio: np.ndarray, sample_rate: int, amount: float, seed: int = 0) -> np.ndarray:
    """``audio`` with aspiration noise (``amount`` 0..1) riding on its own loudness envelope."""
    if amount < 1e-3 or audio.size < 2:
        return audio
    rng = np.random.default_rng(seed)
    noise = np.fft.rfft(rng.standard_normal(audio.size))
    freqs = np.fft.rfftfreq(audio.size, 1.0 / sample_rate)
    low, high = _BREATH_BAND
    band = np.clip((freqs - low / 2) / (low / 2), 0, 1) * np.clip((high * 1.5 - freqs) / (high / 2), 0, 1)
    noise = np.fft.irfft(noise * band, n=audio.size)
    noise /= max(float(np.sqrt(np.mean(noise**2))), 1e-9)
    hop = max(1, int(sample_rate * _ENVELOPE_MS / 1000))
    frames = np.sqrt(np.convolve(audio.astype(np.float64) ** 2, np.ones(hop) / hop, mode="same"))
    out = audio + 0.35 * amount * frames * noise
    return _same_loudness(out, audio)


def _same_loudness(out: np.ndarray, reference: np.ndarray) -> np.ndarray:
    before = float(np.sqrt(np.mean(reference.astype(np.float64) ** 2)))
    after = float(np.sqrt(np.mean(out**2)))
    if after > 1e-12:
        out = out * (before / after)
    return np.clip(out, -1.0, 1.0).astype(np.float32)
