"""Recordings aligned to phonemes, with their pitch and energy, as the decoder's training inputs.

For one recording and its transcript:

1. The packaged model speaks the transcript with the base style (``engines.kokoro.graph`` probe outputs): its text
   features per token (``t_en``), how many frames each token got, its F0 and energy curves, and the audio.
2. Both renderings are cut into 80-per-second frames of log-mel; dynamic time warping of the rendering
   against the recording gives, for each frame of the recording, the token being said (``token_frames``).
3. The decoder input of the recording is then the text features expanded by these real durations, the
   recording's own F0 (WORLD, 0 where unvoiced) and its energy, mapped onto the model's energy scale by a
   line fitted on the rendering (the model's predicted energy against the same measure of its own audio).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..dsp.melscale import slaney_mel_filters
from ..dsp.world import pyworld
from ..engines.kokoro.clone import dtw

SAMPLE_RATE = 24_000
HOP = 300  # one F0/energy frame (80 per second)
TEXT_HOP = 2 * HOP  # one text frame (40 per second)
_N_FFT = 1024
_MELS = 80


@dataclass(frozen=True)
class Rendering:
    """What the packaged model made of a transcript (``engines.kokoro.graph.PROBES`` plus the audio)."""

    t_en: np.ndarray  # (512, tokens)
    durations: np.ndarray  # (tokens,) text frames per token
    f0: np.ndarray  # (2 * frames,)
    n: np.ndarray  # (2 * frames,)
    audio: np.ndarray  # (frames * TEXT_HOP,)


@dataclass(frozen=True)
class Example:
    """One recording as decoder inputs and target; arrays cover the same ``frames`` text frames."""

    asr: np.ndarray  # (512, frames)
    f0: np.ndarray  # (2 * frames,)
    n: np.ndarray  # (2 * frames,)
    audio: np.ndarray  # (frames * TEXT_HOP,) the recording, level-matched to the rendering
    token_frames: np.ndarray  # (frames,) token index said in each text frame

    @property
    def frames(self) -> int:
        return self.asr.shape[1]


def log_mel(audio: np.ndarray) -> np.ndarray:
    """(frames, 80) log-mel at 80 frames per second (frame ``i`` centred on sample ``i * HOP + HOP / 2``)."""
    pad = (_N_FFT - HOP) // 2
    x = np.pad(np.asarray(audio, dtype=np.float32), (pad, pad + _N_FFT))
    count = len(audio) // HOP
    index = np.arange(_N_FFT)[None, :] + HOP * np.arange(count)[:, None]
    spectrum = np.abs(np.fft.rfft(x[index] * np.hanning(_N_FFT).astype(np.float32), axis=1))
    return np.log(spectrum @ slaney_mel_filters(SAMPLE_RATE, _N_FFT, _MELS).T + 1e-5).astype(np.float32)


def frame_energy(audio: np.ndarray) -> np.ndarray:
    """Log RMS per 80 Hz frame (window of four frames), the measure the model's energy is mapped from."""
    x = np.pad(np.asarray(audio, dtype=np.float64), (3 * HOP // 2, 3 * HOP // 2 + 4 * HOP))
    count = len(audio) // HOP
    index = np.arange(4 * HOP)[None, :] + HOP * np.arange(count)[:, None]
    return np.log(np.sqrt((x[index] ** 2).mean(1)) + 1e-4).astype(np.float32)


def pitch(audio: np.ndarray) -> np.ndarray:
    """F0 in Hz per 80 Hz frame, 0 where unvoiced (WORLD DIO + StoneMask)."""
    world = pyworld()
    x = np.ascontiguousarray(audio, dtype=np.float64)
    f0, times = world.dio(x, SAMPLE_RATE, frame_period=1000 * HOP / SAMPLE_RATE, f0_floor=60.0, f0_ceil=700.0)
    f0 = world.stonemask(x, f0, times, SAMPLE_RATE)
    count = len(audio) // HOP
    return np.pad(f0, (0, max(0, count - len(f0))))[:count].astype(np.float32)


def token_frames(rendering: Rendering, recording: np.ndarray) -> np.ndarray:
    """For each text frame of ``recording``, the index of the token being said (monotonic)."""
    synth_token = np.repeat(np.arange(len(rendering.durations)), rendering.durations.astype(int))
    a, b = log_mel(rendering.audio), log_mel(recording)
    a, b = a - a.mean(0), b - b.mean(0)
    path_a, path_b = dtw(a, b)
    first = np.full(len(b), -1)
    for i, j in zip(path_a[::-1], path_b[::-1], strict=True):
        first[j] = i  # the earliest rendering frame matched to each recording frame
    frames = len(recording) // TEXT_HOP
    matched = first[2 * np.arange(frames)] // 2
    return synth_token[np.clip(matched, 0, len(synth_token) - 1)]


def make_example(rendering: Rendering, recording: np.ndarray) -> Example:
    """The decoder inputs and target for ``recording`` (24 kHz) saying the rendering's transcript."""
    frames = len(recording) // TEXT_HOP
    recording = recording[: frames * TEXT_HOP].astype(np.float32)
    speech_rms = _speech_rms(recording)
    recording = recording * (_speech_rms(rendering.audio) / max(speech_rms, 1e-6))
    tokens = token_frames(rendering, recording)
    alignment = np.zeros((rendering.t_en.shape[1], frames), dtype=np.float32)
    alignment[tokens, np.arange(frames)] = 1.0
    asr = rendering.t_en @ alignment
    synth_energy = frame_energy(rendering.audio)[: len(rendering.n)]
    slope, intercept = np.polyfit(synth_energy, rendering.n[: len(synth_energy)], 1)
    n = (slope * frame_energy(recording) + intercept).astype(np.float32)
    return Example(asr.astype(np.float32), pitch(recording), n, recording, tokens)


def _speech_rms(audio: np.ndarray) -> float:
    """RMS over the louder half of 80 Hz frames (ignores pauses)."""
    energy = frame_energy(audio)
    loud = energy >= np.median(energy)
    frames = audio[: len(energy) * HOP].reshape(len(energy), HOP)[loud]
    return float(np.sqrt(np.mean(frames.astype(np.float64) ** 2))) if frames.size else 0.0


def prosody_stats(rendering: Rendering, example: Example) -> tuple[float, float, float]:
    """(log-F0 shift, voiced frames of the recording, frames per token ratio) of one recording vs its rendering."""
    real = example.f0[example.f0 > 0]
    synth = rendering.f0[rendering.f0 > 10]
    shift = float(np.median(np.log(real)) - np.median(np.log(synth))) if real.size and synth.size else 0.0
    inner = slice(1, len(rendering.durations) - 1)  # without the silent pad tokens at both ends
    said = np.isin(example.token_frames, np.arange(len(rendering.durations))[inner])
    ratio = float(said.sum() / max(rendering.durations[inner].sum(), 1))
    return shift, float(real.size), ratio
