"""The three spectral front ends CosyVoice2 uses, in NumPy (no torch, torchaudio or librosa needed).

- ``whisper_log_mel``: Whisper's 128-bin log-mel at 16 kHz, the input of ``speech_tokenizer_v2.onnx``.
- ``kaldi_fbank``: Kaldi's 80-bin log filterbank at 16 kHz (dither 0), the input of ``campplus.onnx``.
- ``prompt_mel``: the 80-bin log-mel at 24 kHz (Matcha-TTS's ``mel_spectrogram``) that the flow decoder
  models: the prompt's frames condition it, 50 frames per second, 2 per speech token.
"""

from __future__ import annotations

import functools

import numpy as np

from ...dsp.melscale import slaney_mel_filters

WHISPER_RATE, WHISPER_N_FFT, WHISPER_HOP = 16_000, 400, 160
PROMPT_RATE, PROMPT_N_FFT, PROMPT_HOP, PROMPT_MELS, PROMPT_FMAX = 24_000, 1920, 480, 80, 8000.0


def _frames(audio: np.ndarray, size: int, hop: int) -> np.ndarray:
    """Overlapping frames ``[n, size]`` (only whole frames)."""
    count = 1 + (len(audio) - size) // hop if len(audio) >= size else 0
    index = np.arange(size)[None, :] + hop * np.arange(count)[:, None]
    return audio[index]


def _periodic_hann(size: int) -> np.ndarray:
    return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(size) / size)


def _as_float(audio: np.ndarray) -> np.ndarray:
    audio = np.asarray(audio, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(audio)):
        raise ValueError("audio contains NaN or infinite samples")
    return audio


def whisper_log_mel(audio: np.ndarray, n_mels: int = 128) -> np.ndarray:
    """Whisper's log-mel ``[n_mels, len // 160]`` of 16 kHz audio (as ``whisper.log_mel_spectrogram``).

    Centred frames (reflect padding of 200), periodic Hann window of 400, power spectrum, the last frame
    dropped, ``log10`` floored at 1e-10, clipped to 8 below the maximum, then ``(x + 4) / 4``.
    """
    audio = _as_float(audio)
    if len(audio) <= WHISPER_N_FFT // 2:
        raise ValueError("audio is too short for a speech-token analysis")
    padded = np.pad(audio, WHISPER_N_FFT // 2, mode="reflect")
    spectrum = np.fft.rfft(_frames(padded, WHISPER_N_FFT, WHISPER_HOP) * _periodic_hann(WHISPER_N_FFT), axis=-1)
    power = np.abs(spectrum[:-1]) ** 2
    mel = slaney_mel_filters(WHISPER_RATE, WHISPER_N_FFT, n_mels) @ power.T
    log_spec = np.log10(np.maximum(mel, 1e-10))
    log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
    return ((log_spec + 4.0) / 4.0).astype(np.float32)


def hz_to_kaldi_mel(hz: np.ndarray | float) -> np.ndarray:
    """Kaldi's (HTK) mel scale ``1127 ln(1 + f / 700)``."""
    return 1127.0 * np.log1p(np.asarray(hz, dtype=np.float64) / 700.0)


@functools.cache
def kaldi_mel_banks(num_bins: int, padded_size: int, sample_rate: int, low_hz: float, high_hz: float) -> np.ndarray:
    """Kaldi's triangular mel banks ``[num_bins, padded_size // 2 + 1]`` (triangles in mel, peak 1, the
    Nyquist bin always 0)."""
    fft_mel = hz_to_kaldi_mel(np.arange(padded_size // 2) * sample_rate / padded_size)
    low, high = hz_to_kaldi_mel(low_hz), hz_to_kaldi_mel(high_hz)
    delta = (high - low) / (num_bins + 1)
    left = low + delta * np.arange(num_bins)[:, None]
    rising = (fft_mel[None, :] - left) / delta
    falling = (left + 2 * delta - fft_mel[None, :]) / delta
    banks = np.maximum(0.0, np.minimum(rising, falling))
    banks = np.pad(banks, ((0, 0), (0, 1)))
    banks.setflags(write=False)
    return banks


def kaldi_fbank(audio: np.ndarray, sample_rate: int = 16_000, num_bins: int = 80) -> np.ndarray:
    """Kaldi ``compute-fbank-feats`` ``[frames, num_bins]`` with its defaults and dither 0.

    25 ms frames every 10 ms (only whole frames), DC offset removed per frame, pre-emphasis 0.97, Povey
    window, FFT padded to a power of two, power spectrum, mel banks from 20 Hz to Nyquist, natural log
    floored at float32 epsilon.
    """
    audio = _as_float(audio)
    size, hop = round(0.025 * sample_rate), round(0.010 * sample_rate)
    frames = _frames(audio, size, hop)
    if not len(frames):
        raise ValueError("audio is shorter than one 25 ms frame")
    frames = frames - frames.mean(axis=1, keepdims=True)
    frames = frames - 0.97 * np.concatenate([frames[:, :1], frames[:, :-1]], axis=1)
    frames = frames * (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(size) / (size - 1))) ** 0.85
    padded = 1 << (size - 1).bit_length()
    power = np.abs(np.fft.rfft(frames, n=padded, axis=1)) ** 2
    energies = power @ kaldi_mel_banks(num_bins, padded, sample_rate, 20.0, sample_rate / 2).T
    return np.log(np.maximum(energies, np.finfo(np.float32).eps)).astype(np.float32)


def prompt_mel(audio: np.ndarray) -> np.ndarray:
    """The flow's log-mel ``[frames, 80]`` of 24 kHz audio, 50 frames per second.

    Reflect padding of 720 on both sides, uncentred 1920-sample frames every 480 with a periodic Hann
    window, magnitude ``sqrt(power + 1e-9)``, Slaney mel filters 0-8 kHz, ``log`` floored at 1e-5.
    """
    audio = _as_float(audio)
    pad = (PROMPT_N_FFT - PROMPT_HOP) // 2
    if len(audio) <= pad:
        raise ValueError("audio is too short for a mel analysis")
    padded = np.pad(audio, pad, mode="reflect")
    spectrum = np.fft.rfft(_frames(padded, PROMPT_N_FFT, PROMPT_HOP) * _periodic_hann(PROMPT_N_FFT), axis=-1)
    magnitude = np.sqrt(spectrum.real**2 + spectrum.imag**2 + 1e-9)
    mel = magnitude @ slaney_mel_filters(PROMPT_RATE, PROMPT_N_FFT, PROMPT_MELS, 0.0, PROMPT_FMAX).T
    return np.log(np.maximum(mel, 1e-5)).astype(np.float32)
