"""How to say something, as numbers: the controls that instructions and inline markup map onto.

One ``Prosody`` value describes a delivery relative to the voice's neutral one. Instructions
("speak cheerfully and a bit faster") and markup (``<prosody rate="slow">``, ``<strong>``) both
produce one, and they combine: rates and ranges multiply, pitch shifts and gains add.
"""

from __future__ import annotations

from dataclasses import dataclass

QUALITIES = ("modal", "breathy", "whisper")

# Bounds that keep speech natural and intelligible; anything asked beyond them is clamped.
RATE_LIMITS = (0.5, 2.0)
PITCH_LIMITS = (-8.0, 8.0)  # semitones
RANGE_LIMITS = (0.3, 2.2)
VOLUME_LIMITS = (-20.0, 10.0)  # dB
BRIGHTNESS_LIMITS = (-4.0, 4.0)  # dB per octave above 500 Hz


def _clamp(value: float, limits: tuple[float, float]) -> float:
    return min(max(value, limits[0]), limits[1])


@dataclass(frozen=True)
class Prosody:
    """A delivery relative to neutral (the defaults change nothing)."""

    rate: float = 1.0  # speaking-rate multiplier
    pitch: float = 0.0  # pitch level shift in semitones
    pitch_range: float = 1.0  # multiplier of the pitch movement around the median (intonation)
    volume: float = 0.0  # gain in dB
    brightness: float = 0.0  # spectral tilt in dB/octave (vocal effort: + tense/loud, - soft/lax)
    quality: str = "modal"  # "modal", "breathy" (air in the voice) or "whisper" (no voicing)
    tremolo: float = 0.0  # 0..1 depth of a ~5 Hz wobble of pitch and loudness (laughing, trembling)

    def __post_init__(self) -> None:
        if self.quality not in QUALITIES:
            raise ValueError(f"quality must be one of {QUALITIES}, not {self.quality!r}")

    def then(self, other: Prosody) -> Prosody:
        """``self`` with ``other`` applied on top (e.g. an instruction, then a ``<prosody>`` span)."""
        quality = other.quality if other.quality != "modal" else self.quality
        return Prosody(
            rate=_clamp(self.rate * other.rate, RATE_LIMITS),
            pitch=_clamp(self.pitch + other.pitch, PITCH_LIMITS),
            pitch_range=_clamp(self.pitch_range * other.pitch_range, RANGE_LIMITS),
            volume=_clamp(self.volume + other.volume, VOLUME_LIMITS),
            brightness=_clamp(self.brightness + other.brightness, BRIGHTNESS_LIMITS),
            quality=quality,
            tremolo=min(1.0, self.tremolo + other.tremolo),
        )

    def scaled(self, degree: float) -> Prosody:
        """This change made ``degree`` times as strong (0.5 = "a bit", 1.6 = "very")."""
        return Prosody(
            rate=_clamp(self.rate**degree, RATE_LIMITS),
            pitch=_clamp(self.pitch * degree, PITCH_LIMITS),
            pitch_range=_clamp(self.pitch_range**degree, RANGE_LIMITS),
            volume=_clamp(self.volume * degree, VOLUME_LIMITS),
            brightness=_clamp(self.brightness * degree, BRIGHTNESS_LIMITS),
            quality=self.quality,
            tremolo=min(1.0, self.tremolo * degree),
        )

    @property
    def is_neutral(self) -> bool:
        return self == NEUTRAL

    @property
    def changes_voice(self) -> bool:
        """True when the signal itself must be reworked (anything beyond rate and gain)."""
        return (
            abs(self.pitch) > 1e-3
            or abs(self.pitch_range - 1.0) > 1e-3
            or abs(self.brightness) > 1e-3
            or self.quality != "modal"
            or self.tremolo > 0
        )


NEUTRAL = Prosody()
