"""Delivery effects and synthesized sounds, on signals whose answer is known."""

import numpy as np
import pytest

from parrot.delivery.effects import apply_prosody, gain, soft_limit
from parrot.delivery.sounds import NOISE_KINDS, make_sound
from parrot.prosody import Prosody
from parrot_dev.evaluation import measure_delivery

RATE = 24_000


def _vowel(f0: float = 150.0, seconds: float = 1.5, vibrato: float = 0.0) -> np.ndarray:
    """A voiced, vowel-like harmonic signal with a gentle pitch glide (and optional vibrato)."""
    t = np.arange(int(seconds * RATE)) / RATE
    freq = f0 * (1.0 + 0.15 * np.sin(2 * np.pi * 0.7 * t) + vibrato * np.sin(2 * np.pi * 5 * t))
    phase = 2 * np.pi * np.cumsum(freq) / RATE
    out = sum(np.sin(k * phase) / k * np.exp(-((k * f0 - 700) ** 2) / 2e6) for k in range(1, 30))
    return (0.2 * out / np.abs(out).max()).astype(np.float32)


def test_neutral_changes_nothing():
    audio = _vowel()
    assert apply_prosody(audio, RATE, Prosody()) is audio


@pytest.mark.parametrize("semitones", [-4.0, 3.0, 7.0])
def test_pitch_shift_moves_the_median_by_that_many_semitones(semitones):
    audio = _vowel()
    before = measure_delivery(audio, RATE).f0_median
    after = measure_delivery(apply_prosody(audio, RATE, Prosody(pitch=semitones)), RATE).f0_median
    assert 12 * np.log2(after / before) == pytest.approx(semitones, abs=0.5)


def test_pitch_range_stretches_and_flattens_intonation():
    audio = _vowel()
    base = measure_delivery(audio, RATE).f0_range
    wide = measure_delivery(apply_prosody(audio, RATE, Prosody(pitch_range=1.6)), RATE).f0_range
    flat = measure_delivery(apply_prosody(audio, RATE, Prosody(pitch_range=0.5)), RATE).f0_range
    assert flat < 0.7 * base < base < wide / 1.3


def test_whisper_removes_voicing_and_keeps_loudness():
    audio = _vowel()
    out = apply_prosody(audio, RATE, Prosody(quality="whisper"))
    measured = measure_delivery(out, RATE)
    assert measured.voiced < 0.3 < measure_delivery(audio, RATE).voiced
    assert measured.rms_db == pytest.approx(measure_delivery(audio, RATE).rms_db, abs=1.5)


def test_volume_changes_loudness_and_never_clips():
    audio = _vowel()
    base = measure_delivery(audio, RATE).rms_db
    assert measure_delivery(gain(audio, -8.0), RATE).rms_db == pytest.approx(base - 8.0, abs=0.2)
    loud = gain(audio * 3.0, 12.0)  # far beyond full scale
    assert np.abs(loud).max() < 1.0
    assert measure_delivery(loud, RATE).rms_db > base + 6.0


def test_soft_limit_leaves_quiet_audio_alone():
    quiet = np.linspace(-0.5, 0.5, 100, dtype=np.float32)
    assert np.array_equal(soft_limit(quiet), quiet)


def test_tremolo_adds_a_wobble():
    audio = _vowel()
    out = apply_prosody(audio, RATE, Prosody(tremolo=1.0))
    envelope = np.abs(out[: len(out) // 480 * 480]).reshape(-1, 480).mean(1)  # 20 ms frames
    spectrum = np.abs(np.fft.rfft(envelope - envelope.mean()))
    freqs = np.fft.rfftfreq(len(envelope), 0.02)
    assert 4.5 < freqs[spectrum.argmax()] < 6.5


@pytest.mark.parametrize("kind", sorted(NOISE_KINDS))
def test_noise_sounds_are_short_quiet_and_finite(kind):
    sound = make_sound(kind, RATE, level=0.1)
    assert sound is not None and sound.dtype == np.float32 and np.isfinite(sound).all()
    assert 0.02 < len(sound) / RATE < 1.0
    assert 0.0 < float(np.sqrt(np.mean(sound**2))) < 0.15
    assert measure_delivery(sound, RATE).voiced < 0.5  # airflow, not voice


def test_voiced_sounds_are_left_to_the_engine():
    assert make_sound("laughter", RATE, 0.1) is None
