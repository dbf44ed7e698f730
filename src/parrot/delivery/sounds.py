"""Non-verbal sounds made by signal processing: breaths, sighs, coughs, hisses, clicks.

Each is shaped noise (the airflow sounds of a vocal tract), scaled to sit under the level of the
surrounding speech. Sounds a voice makes with its vocal folds (laughter, "mm") are not made here:
the caller has the engine say them, so they come out in the speaker's own voice.
"""

from __future__ import annotations

import numpy as np

# kind -> (seconds, low Hz, high Hz, attack share of the duration, level relative to speech RMS)
_NOISES: dict[str, tuple[float, float, float, float, float]] = {
    "breath": (0.45, 400.0, 2600.0, 0.6, 0.22),
    "quick_breath": (0.22, 500.0, 3000.0, 0.5, 0.22),
    "sigh": (0.8, 250.0, 1800.0, 0.15, 0.30),
    "hissing": (0.5, 3500.0, 9000.0, 0.1, 0.25),
    "noise": (0.3, 200.0, 6000.0, 0.3, 0.12),
}
NOISE_KINDS = frozenset({*_NOISES, "cough", "lipsmack", "clucking"})


def make_sound(kind: str, sample_rate: int, level: float, seed: int = 0) -> np.ndarray | None:
    """The sound ``kind`` at ``level`` (RMS of the speech around it); None for kinds made by voicing."""
    rng = np.random.default_rng(seed)
    if kind in _NOISES:
        seconds, low, high, attack, relative = _NOISES[kind]
        return _shaped_noise(rng, sample_rate, seconds, low, high, attack, level * relative)
    if kind == "cough":
        burst = _shaped_noise(rng, sample_rate, 0.16, 300.0, 4000.0, 0.05, level * 1.4)
        gap = np.zeros(int(0.12 * sample_rate), dtype=np.float32)
        return np.concatenate([burst, gap, 0.7 * burst])
    if kind in ("lipsmack", "clucking"):
        return _shaped_noise(rng, sample_rate, 0.03, 800.0, 5000.0, 0.1, level * 0.8)
    return None


def _shaped_noise(
    rng: np.random.Generator, sample_rate: int, seconds: float, low: float, high: float, attack: float, rms: float
) -> np.ndarray:
    n = max(16, int(seconds * sample_rate))
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1.0 / sample_rate)
    band = np.clip(np.minimum((freqs - low * 0.5) / (low * 0.5), (high * 1.5 - freqs) / (high * 0.5)), 0.0, 1.0)
    noise = np.fft.irfft(spectrum * band, n)
    rise = max(1, int(n * attack))
    envelope = np.concatenate(
        [np.sin(np.linspace(0, np.pi / 2, rise)) ** 2, np.cos(np.linspace(0, np.pi / 2, n - rise)) ** 2]
    )
    shaped = noise * envelope
    current = float(np.sqrt(np.mean(shaped**2)))
    return (shaped * (rms / max(current, 1e-12))).astype(np.float32)
