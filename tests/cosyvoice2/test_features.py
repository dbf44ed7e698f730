"""The spectral front ends against kaldi-native-fbank and against per-frame loop restatements."""

from __future__ import annotations

import math

import numpy as np
import pytest

from parrot.dsp.melscale import hz_to_slaney_mel, slaney_mel_filters, slaney_mel_to_hz
from parrot.engines.cosyvoice2.features import kaldi_fbank, prompt_mel, whisper_log_mel


def chirp(rate: int, seconds: float = 1.0, seed: int = 0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    noise = np.random.default_rng(seed).standard_normal(len(t))
    return (0.3 * np.sin(2 * np.pi * 220 * t * (1 + t)) + 0.05 * noise).astype(np.float32)


def loop_slaney_filters(rate: int, n_fft: int, n_mels: int, fmax: float) -> np.ndarray:
    """Filter by filter, bin by bin: triangles between mel-spaced edges, scaled by 2 / width."""

    def mel(f: float) -> float:
        return f * 3 / 200 if f < 1000 else 15 + math.log(f / 1000) * 27 / math.log(6.4)

    def hz(m: float) -> float:
        return m * 200 / 3 if m < 15 else 1000 * math.exp((m - 15) * math.log(6.4) / 27)

    edges = [hz(mel(0) + (mel(fmax) - mel(0)) * i / (n_mels + 1)) for i in range(n_mels + 2)]
    out = np.zeros((n_mels, n_fft // 2 + 1))
    for i in range(n_mels):
        lo, mid, hi = edges[i : i + 3]
        for k in range(n_fft // 2 + 1):
            f = k * rate / n_fft
            out[i, k] = max(0.0, min((f - lo) / (mid - lo), (hi - f) / (hi - mid))) * 2 / (hi - lo)
    return out


def test_slaney_mel_scale_by_hand() -> None:
    assert hz_to_slaney_mel(500.0) == pytest.approx(7.5)
    assert hz_to_slaney_mel(1000.0) == pytest.approx(15.0)
    assert hz_to_slaney_mel(6400.0) == pytest.approx(42.0)
    assert slaney_mel_to_hz(np.array([7.5, 42.0])) == pytest.approx([500.0, 6400.0])


@pytest.mark.parametrize(("rate", "n_fft", "n_mels", "fmax"), [(16000, 400, 128, 8000.0), (24000, 1920, 80, 8000.0)])
def test_mel_filters_match_a_loop_restatement(rate: int, n_fft: int, n_mels: int, fmax: float) -> None:
    ours = slaney_mel_filters(rate, n_fft, n_mels, 0.0, fmax)
    assert np.allclose(ours, loop_slaney_filters(rate, n_fft, n_mels, fmax), atol=1e-9)


def test_whisper_log_mel_matches_a_frame_loop() -> None:
    audio = chirp(16000).astype(np.float64)
    padded = np.concatenate([audio[1:201][::-1], audio, audio[-201:-1][::-1]])
    window = np.array([0.5 - 0.5 * math.cos(2 * math.pi * n / 400) for n in range(400)])
    filters = loop_slaney_filters(16000, 400, 128, 8000.0)
    columns = []
    for start in range(0, len(audio), 160):  # one frame per hop; the final centred frame is dropped
        frame = padded[start : start + 400] * window
        columns.append(filters @ (np.abs(np.fft.rfft(frame)) ** 2))
    log_spec = np.log10(np.maximum(np.stack(columns, axis=1), 1e-10))
    expected = (np.maximum(log_spec, log_spec.max() - 8) + 4) / 4
    ours = whisper_log_mel(audio)
    assert ours.shape == (128, 100) == expected.shape
    assert np.abs(ours - expected).max() < 1e-5


def test_kaldi_fbank_matches_kaldi_native_fbank() -> None:
    knf = pytest.importorskip("kaldi_native_fbank")
    audio = chirp(16000, 1.3)
    options = knf.FbankOptions()
    options.frame_opts.dither = 0
    options.mel_opts.num_bins = 80
    fbank = knf.OnlineFbank(options)
    fbank.accept_waveform(16000, audio.tolist())
    fbank.input_finished()
    expected = np.stack([fbank.get_frame(i) for i in range(fbank.num_frames_ready)])
    ours = kaldi_fbank(audio)
    assert ours.shape == expected.shape == (128, 80)
    assert np.abs(ours - expected).max() < 1e-3


def test_prompt_mel_matches_a_frame_loop() -> None:
    audio = chirp(24000, 0.5).astype(np.float64)
    padded = np.concatenate([audio[1:721][::-1], audio, audio[-721:-1][::-1]])
    window = np.array([0.5 - 0.5 * math.cos(2 * math.pi * n / 1920) for n in range(1920)])
    filters = loop_slaney_filters(24000, 1920, 80, 8000.0)
    rows = []
    for start in range(0, len(padded) - 1920 + 1, 480):
        spectrum = np.fft.rfft(padded[start : start + 1920] * window)
        rows.append(np.log(np.maximum(filters @ np.sqrt(np.abs(spectrum) ** 2 + 1e-9), 1e-5)))
    ours = prompt_mel(audio)
    assert ours.shape == (25, 80) == np.stack(rows).shape  # 50 frames per second
    assert np.abs(ours - np.stack(rows)).max() < 1e-5


def test_too_short_or_broken_audio_is_refused() -> None:
    with pytest.raises(ValueError, match="shorter than one"):
        kaldi_fbank(np.zeros(100, np.float32))
    with pytest.raises(ValueError, match="NaN"):
        prompt_mel(np.full(4800, np.nan, np.float32))
