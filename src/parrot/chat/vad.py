"""Voice activity detection: Silero VAD (the ONNX file faster-whisper ships) run frame by frame.

``SileroVad`` gives the probability that each 32 ms frame (512 samples at 16 kHz) is speech, keeping the
model's recurrent state between calls so audio can be fed as it arrives. ``TurnDetector`` turns those
probabilities into the start and the end of the user's turn (speech, then ``silence_ms`` of silence);
``find_speech`` finds the speech in a whole recording.
"""

from __future__ import annotations

import importlib.resources as resources
import threading
from dataclasses import dataclass, field

import numpy as np

from ..audio import AudioError
from ..errors import ModelError

VAD_SAMPLE_RATE = 16_000
FRAME_SAMPLES = 512  # 32 ms: the window Silero VAD is trained on at 16 kHz
_CONTEXT_SAMPLES = 64  # the model sees the tail of the previous frame too
_STATE_SHAPE = (1, 1, 128)
EDGE_SECONDS = 0.3  # audio kept around the speech found in a recording


def _model_path() -> str:
    try:
        asset = resources.files("faster_whisper").joinpath("assets/silero_vad_v6.onnx")
    except ModuleNotFoundError as exc:  # pragma: no cover - faster-whisper is a dependency
        raise ModelError("faster-whisper is not installed; run: pip install faster-whisper") from exc
    if not asset.is_file():
        raise ModelError("faster-whisper has no assets/silero_vad_v6.onnx; install faster-whisper>=1.2")
    return str(asset)


class _SharedSession:
    """One onnxruntime session for every detector in the process (the model is stateless; state is ours)."""

    _session = None
    _lock = threading.Lock()

    @classmethod
    def get(cls):  # noqa: ANN206 - onnxruntime.InferenceSession
        with cls._lock:
            if cls._session is None:
                import onnxruntime

                opts = onnxruntime.SessionOptions()
                opts.inter_op_num_threads = 1
                opts.intra_op_num_threads = 1  # a frame takes well under a millisecond
                opts.log_severity_level = 4
                cls._session = onnxruntime.InferenceSession(
                    _model_path(), sess_options=opts, providers=["CPUExecutionProvider"]
                )
            return cls._session


class SileroVad:
    """Speech probability of consecutive 32 ms frames of one audio stream (16 kHz mono float32)."""

    def __init__(self) -> None:
        self._session = _SharedSession.get()
        self.reset()

    def reset(self) -> None:
        """Forget the stream so far (a new, unrelated stream follows)."""
        self._h = np.zeros(_STATE_SHAPE, dtype=np.float32)
        self._c = np.zeros(_STATE_SHAPE, dtype=np.float32)
        self._context = np.zeros(_CONTEXT_SAMPLES, dtype=np.float32)

    def __call__(self, frame: np.ndarray) -> float:
        """The probability (0-1) that ``frame`` (exactly ``FRAME_SAMPLES`` samples) is speech."""
        frame = np.asarray(frame, dtype=np.float32)
        if frame.shape != (FRAME_SAMPLES,):
            raise ValueError(f"a VAD frame is {FRAME_SAMPLES} samples, got shape {frame.shape}")
        window = np.concatenate([self._context, frame])[None, :]
        out, self._h, self._c = self._session.run(None, {"input": window, "h": self._h, "c": self._c})
        self._context = frame[-_CONTEXT_SAMPLES:]
        return float(np.asarray(out).reshape(-1)[-1])

    def probabilities(self, audio: np.ndarray) -> np.ndarray:
        """Per-frame probabilities of a whole recording (the stream state is reset first and after)."""
        self.reset()
        audio = np.asarray(audio, dtype=np.float32)
        padded = np.pad(audio, (0, -len(audio) % FRAME_SAMPLES))
        probs = np.array([self(f) for f in padded.reshape(-1, FRAME_SAMPLES)], dtype=np.float32)
        self.reset()
        return probs


@dataclass(frozen=True)
class TurnConfig:
    """When a turn starts and ends.

    ``threshold``: probability above which a frame is speech; ``release``: below which it is silence
    (hysteresis in between); ``min_speech_ms``: speech needed before a turn counts as started (coughs and
    clicks do not); ``silence_ms``: silence that ends the turn; ``prefix_ms``: audio kept from before the
    detected start (the first syllable begins quietly); ``max_turn_seconds``: a turn longer than this is
    ended anyway. ``pause_ms``: silence after which ``SpeechPaused`` is reported (the turn may be ending:
    work can start early); 0 disables it.
    """

    threshold: float = 0.5
    release: float = 0.35
    min_speech_ms: int = 200
    silence_ms: int = 500
    prefix_ms: int = 300
    max_turn_seconds: float = 30.0
    pause_ms: int = 160

    def __post_init__(self) -> None:
        if not 0 < self.release <= self.threshold < 1:
            raise ValueError("VAD thresholds must satisfy 0 < release <= threshold < 1")
        if self.silence_ms < 32 or self.min_speech_ms < 0 or self.prefix_ms < 0 or self.max_turn_seconds <= 0:
            raise ValueError("silence_ms must be at least 32; min_speech_ms and prefix_ms not negative")
        if self.pause_ms < 0:
            raise ValueError("pause_ms must not be negative")

    @staticmethod
    def frames(ms: float) -> int:
        return max(1, round(ms * VAD_SAMPLE_RATE / 1000 / FRAME_SAMPLES))


@dataclass(frozen=True)
class SpeechStarted:
    """The user started speaking ``at`` seconds into the stream."""

    at: float


@dataclass(frozen=True)
class SpeechPaused:
    """The user has been silent for ``pause_ms``: the turn may be ending. ``audio`` is the turn so far;
    ``segment`` identifies the speech it holds (see ``SpeechStopped.segment``)."""

    segment: int
    audio: np.ndarray = field(repr=False)


@dataclass(frozen=True)
class SpeechStopped:
    """The user's turn ended: speech from ``start`` to ``end`` seconds, ``audio`` (16 kHz) of the turn.
    ``segment`` equals that of the last ``SpeechPaused`` when nothing but silence came after that pause (so
    work started on the paused audio, e.g. its transcript, is still valid)."""

    start: float
    end: float
    audio: np.ndarray = field(repr=False)
    segment: int = -1


VadEvent = SpeechStarted | SpeechPaused | SpeechStopped


class TurnDetector:
    """Feed 16 kHz audio of any length with ``push``; get ``SpeechStarted``/``SpeechStopped`` events."""

    def __init__(self, config: TurnConfig | None = None, vad: SileroVad | None = None) -> None:
        self.config = config or TurnConfig()
        self.vad = vad or SileroVad()
        self.reset()

    def reset(self) -> None:
        """Start over (e.g. after ``input_audio_buffer.clear``); the stream clock keeps running."""
        self.vad.reset()
        self._pending = np.zeros(0, dtype=np.float32)
        self._recent: list[np.ndarray] = []  # frames before a turn starts (prefix)
        self._turn: list[np.ndarray] = []
        self._speech_run = 0
        self._silence_run = 0
        self.speaking = False
        self._frames_seen = getattr(self, "_frames_seen", 0)
        self._turn_start_frame = 0
        self._last_speech_frame = 0
        self._segment = getattr(self, "_segment", 0) + 1  # never reused, so a stale pause never matches

    @property
    def position(self) -> float:
        """Seconds of audio processed so far."""
        return self._frames_seen * FRAME_SAMPLES / VAD_SAMPLE_RATE

    def push(self, audio: np.ndarray) -> list[VadEvent]:
        """Process ``audio`` (mono float32, 16 kHz); return the events it completes, in order."""
        audio = np.concatenate([self._pending, np.asarray(audio, dtype=np.float32).reshape(-1)])
        whole = len(audio) - len(audio) % FRAME_SAMPLES
        self._pending = audio[whole:]
        events: list[VadEvent] = []
        for frame in audio[:whole].reshape(-1, FRAME_SAMPLES):
            event = self._frame(frame.copy())
            if event is not None:
                events.append(event)
        return events

    def commit(self) -> SpeechStopped | None:
        """End the turn now (the client says the user is done); None if no speech was heard."""
        if not self.speaking:
            self.reset()
            return None
        return self._stop()

    def _frame(self, frame: np.ndarray) -> VadEvent | None:
        cfg = self.config
        prob = self.vad(frame)
        index = self._frames_seen
        self._frames_seen += 1
        if not self.speaking:
            self._recent.append(frame)
            self._speech_run = self._speech_run + 1 if prob >= cfg.threshold else 0
            prefix = TurnConfig.frames(cfg.prefix_ms) + self._speech_run
            del self._recent[:-prefix]
            if self._speech_run >= TurnConfig.frames(cfg.min_speech_ms):
                self.speaking = True
                self._turn = list(self._recent)
                self._recent = []
                self._turn_start_frame = index + 1 - self._speech_run
                self._last_speech_frame = index
                self._silence_run = 0
                return SpeechStarted(self._turn_start_frame * FRAME_SAMPLES / VAD_SAMPLE_RATE)
            return None
        self._turn.append(frame)
        if prob < cfg.release:
            self._silence_run += 1
        else:
            if self._silence_run:
                self._segment += 1  # speech again after some silence: earlier pauses are void
            self._silence_run = 0
            if prob >= cfg.threshold:
                self._last_speech_frame = index
        too_long = len(self._turn) * FRAME_SAMPLES >= cfg.max_turn_seconds * VAD_SAMPLE_RATE
        if self._silence_run >= TurnConfig.frames(cfg.silence_ms) or too_long:
            return self._stop()
        if cfg.pause_ms and self._silence_run == TurnConfig.frames(cfg.pause_ms):
            return SpeechPaused(self._segment, np.concatenate(self._turn))
        return None

    def _stop(self) -> SpeechStopped:
        rate = VAD_SAMPLE_RATE
        event = SpeechStopped(
            start=self._turn_start_frame * FRAME_SAMPLES / rate,
            end=(self._last_speech_frame + 1) * FRAME_SAMPLES / rate,
            audio=np.concatenate(self._turn) if self._turn else np.zeros(0, np.float32),
            segment=self._segment,
        )
        self.reset()
        return event


def find_speech(
    audio: np.ndarray, config: TurnConfig | None = None, vad: SileroVad | None = None
) -> tuple[float, float]:
    """Start and end (seconds) of the speech in a whole 16 kHz recording, from the first speech to the last
    (pauses inside are kept). Raises ``AudioError`` when it holds no speech at all."""
    config = config or TurnConfig()
    if len(audio) < FRAME_SAMPLES:
        raise AudioError("the recording is too short to hold any speech; send at least half a second")
    probs = (vad or SileroVad()).probabilities(audio)
    speech = np.flatnonzero(probs >= config.threshold)
    if len(speech) < TurnConfig.frames(config.min_speech_ms):
        raise AudioError("no speech was heard in the recording (it is silent or only noise)")
    frame = FRAME_SAMPLES / VAD_SAMPLE_RATE
    return float(speech[0] * frame), float((speech[-1] + 1) * frame)


def trim_to_speech(audio: np.ndarray, config: TurnConfig | None = None) -> np.ndarray:
    """The speech of a whole 16 kHz recording with ``EDGE_SECONDS`` of margin (``AudioError`` if none)."""
    start, end = find_speech(audio, config)
    first = max(0, int((start - EDGE_SECONDS) * VAD_SAMPLE_RATE))
    return audio[first : int((end + EDGE_SECONDS) * VAD_SAMPLE_RATE)]
