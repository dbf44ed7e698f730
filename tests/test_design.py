"""Voice design (blends and adjustments), consent statements, and the waveform colour effects they use."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from parrot.dsp.colour import breathe, tilt
from parrot.errors import InputError, UnsupportedError
from parrot.voices.consent import Consent, consent_of
from parrot.voices.design import Design, blend, design, is_blend, parse_blend
from parrot.voices.voice import Voice
from parrot.voices.voicefile import decode_voice_file, encode_voice_file

RATE = 24_000


def voice(name: str, value: float, engine: str = "kokoro", **extra: np.ndarray) -> Voice:
    style = np.full((510, 256), value, np.float32)
    return Voice(name, engine, "stock", {"style": style, **extra}, gender="female", language="ja")


LIBRARY = {
    "a": voice("a", 1.0),
    "b": voice("b", 3.0, f0_scale=np.array([2.0], np.float32)),
    "t": voice("t", 0.0, adapter=np.ones(10, np.float32), speed=np.array([1.2], np.float32)),
    "old_clone": voice("old_clone", 0.5, vc_centroids=np.zeros((4, 48), np.float32)),
    "cosy": Voice("cosy", "cosyvoice2", "cloned", {"embedding": np.ones(192, np.float32)}),
}


def resolve(name: str) -> Voice:
    return LIBRARY[name]


def test_blend_expressions_parse_and_normalise() -> None:
    assert parse_blend("a*0.3+b*0.7") == [("a", 0.3), ("b", 0.7)]
    assert parse_blend("a + b") == [("a", 0.5), ("b", 0.5)]
    assert parse_blend("a*1+b*3") == [("a", 0.25), ("b", 0.75)]
    assert parse_blend("a*0.3+a*0.7") == [("a", 1.0)]  # the same voice twice is one part
    assert parse_blend("中文女*2+b*2") == [("中文女", 0.5), ("b", 0.5)]
    assert is_blend("a*0.5") and is_blend("a+b") and not is_blend("jf_alpha")
    for bad, message in [
        ("a*0.3+", "cannot read ''"), ("a*-1+b", "cannot read"), ("a*0+b", "must be positive"),
        ("a*x+b", "cannot read"), ("+".join("abcdefghij"), "at most 8 parts"), ("a**2+b", "cannot read"),
    ]:  # fmt: skip
        with pytest.raises(InputError, match=message):
            parse_blend(bad)


def test_a_blend_of_a_voice_with_itself_is_the_voice() -> None:
    assert blend("a*0.3+a*0.7", resolve) is LIBRARY["a"]


def test_blends_mix_each_payload_array_by_its_meaning() -> None:
    mixed = blend("a*0.25+b*0.75", resolve)
    assert mixed.name == "a*0.25+b*0.75" and mixed.kind == "cloned" and mixed.engine == "kokoro"
    np.testing.assert_allclose(mixed.payload["style"], 2.5)  # linear
    np.testing.assert_allclose(mixed.payload["f0_scale"], 2.0**0.75, rtol=1e-6)  # geometric; "a" counts as 1
    assert mixed.meta == {"method": "designed", "design": {"blend": [["a", 0.25], ["b", 0.75]]}}
    assert mixed.gender == "female" and "a 25%" in mixed.description
    trained = blend("a+t", resolve)
    np.testing.assert_allclose(trained.payload["adapter"], 0.5)  # a stock voice has a zero adapter
    np.testing.assert_allclose(trained.payload["speed"], 1.2**0.5, rtol=1e-6)


def test_what_cannot_be_blended_is_refused_by_name() -> None:
    with pytest.raises(UnsupportedError, match="old_clone carries a spectral map"):
        blend("a+old_clone", resolve)
    with pytest.raises(UnsupportedError, match="different engines"):
        blend("a+cosy", resolve)
    one_row = dict(LIBRARY, row=voice("row", 2.0))
    one_row["row"] = Voice("row", "kokoro", "cloned", {"style": np.full((1, 1, 256), 2.0, np.float32)})
    mixed = blend("a+row", one_row.__getitem__)  # a one-row style serves every length: repeated
    assert mixed.payload["style"].shape == (510, 256)
    np.testing.assert_allclose(mixed.payload["style"], 1.5)


def test_design_sets_the_engine_inputs_and_accumulates() -> None:
    designed = design(LIBRARY["b"], Design(pitch=12, pace=1.5, brightness=-3, breathiness=0.4), name="deep")
    p = designed.payload
    assert designed.name == "deep" and designed.kind == "cloned"
    np.testing.assert_allclose([p["f0_scale"][0], p["speed"][0], p["tilt"][0], p["breath"][0]], [4.0, 1.5, -3, 0.4])
    assert designed.meta["design"] == {
        "base": "b", "adjust": {"pitch": 12.0, "pace": 1.5, "brightness": -3.0, "breathiness": 0.4}
    }  # fmt: skip
    again = design(designed, Design(pitch=-12, pace=0.5, breathiness=0.8))
    np.testing.assert_allclose([again.payload["f0_scale"][0], again.payload["speed"][0]], [2.0, 0.75])
    assert again.payload["breath"][0] == 1.0  # clipped to the range
    assert again.meta["design"]["adjust"] == {"pitch": 0.0, "pace": 0.75, "brightness": -3.0, "breathiness": 1.2}
    np.testing.assert_array_equal(again.payload["style"], LIBRARY["b"].payload["style"])
    with pytest.raises(UnsupportedError, match="needs the kokoro engine"):
        design(LIBRARY["cosy"], Design(pitch=1))


@pytest.mark.parametrize(
    ("field", "value"),
    [("pitch", 13), ("pace", 0.4), ("brightness", -7), ("breathiness", 1.5), ("pitch", float("nan"))],
)
def test_design_settings_outside_their_range_are_refused(field: str, value: float) -> None:
    with pytest.raises(InputError, match=field):
        Design(**{field: value})


def test_consent_is_recorded_validated_and_travels_in_the_voice_file() -> None:
    said = "I agree to have my voice cloned."
    consent = Consent.given(" Ada Lovelace ", said, at=datetime(2026, 12, 8, 3, tzinfo=UTC))
    assert consent.as_meta() == {"by": "Ada Lovelace", "text": said, "at": "2026-12-08T03:00:00Z"}
    cloned = consent.attach(voice("mine", 1.0))
    assert consent_of(cloned) == consent and consent_of(voice("x", 1.0)) is None
    back = decode_voice_file(encode_voice_file(cloned))
    assert consent_of(back) == consent
    for by, text, message in [
        (None, "ok", "consent_by is required"), ("Ada", " ", "consent_text is required"),
        ("Ada\x00", "ok", "plain text"), ("A" * 201, "ok", "longer than 200"),
    ]:  # fmt: skip
        with pytest.raises(InputError, match=message):
            Consent.given(by, text)


def speechlike(seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    harmonics = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 40))
    return (0.2 * harmonics * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)


def centroid(audio: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(audio))
    return float((np.fft.rfftfreq(audio.size, 1 / RATE) * spectrum).sum() / spectrum.sum())


def rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(audio.astype(np.float64) ** 2)))


def test_tilt_moves_brightness_and_keeps_loudness() -> None:
    audio = speechlike()
    assert tilt(audio, RATE, 0.0) is audio
    bright, dark = tilt(audio, RATE, 4.0), tilt(audio, RATE, -4.0)
    assert centroid(bright) > centroid(audio) * 1.3 > centroid(audio) > centroid(dark) * 1.3
    for out in (bright, dark):
        assert out.dtype == np.float32 and out.shape == audio.shape
        assert abs(rms(out) - rms(audio)) < 0.01 * rms(audio)


def test_breath_adds_high_noise_that_follows_the_speech() -> None:
    audio = np.concatenate([speechlike(0.5), np.zeros(RATE // 2, np.float32)])
    assert breathe(audio, RATE, 0.0) is audio
    breathy = breathe(audio, RATE, 0.8, seed=3)
    np.testing.assert_array_equal(breathy, breathe(audio, RATE, 0.8, seed=3))  # deterministic
    assert not np.array_equal(breathy, breathe(audio, RATE, 0.8, seed=4))
    assert abs(rms(breathy) - rms(audio)) < 0.01 * rms(audio)
    high = np.fft.rfftfreq(audio.size, 1 / RATE) > 3000
    assert np.abs(np.fft.rfft(breathy))[high].sum() > 1.5 * np.abs(np.fft.rfft(audio))[high].sum()
    assert rms(breathy[-RATE // 4 :]) < 1e-3  # no noise where there is no speech
