"""A training job: recordings in, a trained voice saved in the library out; start, progress, cancel, result.

    job = TrainingJob(tts, "grandma", ["a.wav", "b.m4a"], options=TrainOptions(minutes=10))
    job.start(on_progress=print)      # or job.run() to train in this thread
    job.cancel()                      # stops at the next step; the checkpoint keeps the work
    voice = job.wait()                # the saved voice (raises what went wrong, or TrainingCancelled)

State lives in ``<data_dir>/training/<name>/``: the prepared material (``prepared.npz``, so a resume neither
re-transcribes nor re-aligns) and the checkpoint. ``resume=True`` continues from them when they were made
from the same recordings. The library is written once, at the end, by the crash-safe ``VoiceStore``.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from ..errors import InputError, ParrotError
from ..voices.store import validate_name
from ..voices.voice import Voice
from .align import Example
from .clips import ClipSource, Piece, fingerprint, load_pieces
from .prepare import Prepared, Renderer, prepare
from .trainer import Progress, Trainer, TrainOptions

if TYPE_CHECKING:
    from ..asr import Recognizer
    from ..config import Settings
    from ..engines.base import Engine
    from ..voices.library import VoiceLibrary


class Host(Protocol):
    """What a training job needs of the facade (``parrot.api.Parrot`` is one; training sits below it)."""

    settings: Settings
    engine: Engine
    voices: VoiceLibrary

    @property
    def recognizer(self) -> Recognizer: ...

# A saved voice made from recordings, like a 3-second clone (the web UI and the library treat "cloned" voices as
# the user's own); ``meta["method"]`` says it was trained.
VOICE_KIND = "cloned"
_PREPARED = "prepared.npz"
_CHECKPOINT = "checkpoint.pt"


class TrainingCancelled(ParrotError):
    """The job was cancelled; its checkpoint is kept and ``resume=True`` continues it."""

    kind = "cancelled"


class TrainingJob:
    """One voice being trained. ``state``: pending, preparing, training, saving, done, failed or cancelled."""

    def __init__(
        self,
        tts: Host,
        name: str,
        clips: list[ClipSource],
        *,
        texts: list[str] | None = None,
        language: str | None = None,
        options: TrainOptions | None = None,
        resume: bool = False,
        overwrite: bool = False,
        base_style: str | None = None,
    ) -> None:
        if tts.engine.name != "kokoro":
            raise ParrotError(f"training voices needs the kokoro engine, not {tts.engine.name}")
        self.tts = tts
        self.name = validate_name(name)
        if not overwrite and self.name in tts.voices.names():
            raise InputError(f"a voice named {self.name!r} already exists; choose another name or overwrite it")
        self.clips, self.texts, self.language = clips, texts, language
        self.options = options or TrainOptions()
        self.resume, self.overwrite, self.base_style = resume, overwrite, base_style
        self.workdir = (
            tts.settings.data_dir / "training" / hashlib.sha256(self.name.casefold().encode()).hexdigest()[:16]
        )
        self.state = "pending"
        self.progress: Progress | None = None
        self.error: BaseException | None = None
        self.voice: Voice | None = None
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None

    # -- control ----------------------------------------------------------------------------------------

    def start(
        self,
        on_progress: Callable[[Progress], None] | None = None,
        on_done: Callable[[TrainingJob], None] | None = None,
    ) -> None:
        """Train in a background thread; ``on_done(job)`` is called when it ends, however it ends."""

        def work() -> None:
            try:
                self.run(on_progress)
            except BaseException:  # kept in self.error for wait()/on_done
                pass
            finally:
                if on_done is not None:
                    on_done(self)

        self._thread = threading.Thread(target=work, name=f"train-{self.name}", daemon=True)
        self._thread.start()

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def wait(self, timeout: float | None = None) -> Voice:
        if self._thread is not None:
            self._thread.join(timeout)
        if self.error is not None:
            raise self.error
        if self.voice is None:
            raise ParrotError("the training job has not finished")
        return self.voice

    # -- the work ---------------------------------------------------------------------------------------

    def run(self, on_progress: Callable[[Progress], None] | None = None) -> Voice:
        """Prepare (or reload) the material, train, save the voice; returns it."""
        try:
            self.state = "preparing"
            engine = self.tts.engine
            self.workdir.mkdir(parents=True, exist_ok=True)
            pieces = load_pieces(self.clips, self.tts.recognizer, self.texts, self.language)
            prepared = self._prepared(pieces)
            from .decoder import Decoder

            decoder = Decoder(engine.model_path)
            trainer = Trainer(
                decoder, prepared.examples, prepared.decoder_style, self.options, self.workdir / _CHECKPOINT
            )
            if self.resume:
                trainer.load()
            self.state = "training"

            def report(progress: Progress) -> None:
                self.progress = progress
                if on_progress is not None:
                    on_progress(progress)

            if not trainer.run(report, self._cancel.is_set):
                raise TrainingCancelled(f"training of {self.name!r} was cancelled; resume it to continue")
            self.state = "saving"
            voice = self._voice(prepared, trainer, pieces)
            self.voice = self.tts.voices.save(voice, overwrite=self.overwrite)
            self.state = "done"
            return self.voice
        except TrainingCancelled as exc:
            self.state, self.error = "cancelled", exc
            raise
        except BaseException as exc:
            self.state, self.error = "failed", exc
            raise

    def _prepared(self, pieces: list[Piece]) -> Prepared:
        """The prepared material: reloaded when resuming on the same recordings, else made (and stored)."""
        path = self.workdir / _PREPARED
        key = fingerprint(pieces) + f":{self.base_style}"
        if self.resume:
            loaded = load_prepared(path, key)
            if loaded is not None:
                return loaded
        for stale in (path, self.workdir / _CHECKPOINT):
            stale.unlink(missing_ok=True)
        renderer = Renderer(self.tts.engine.model_path, self.tts.engine.threads)
        prepared = prepare(self.tts.engine, renderer, pieces, self.base_style)
        save_prepared(path, key, prepared)
        return prepared

    def _voice(self, prepared: Prepared, trainer: Trainer, pieces: list[Piece]) -> Voice:
        languages = [p.language for p in pieces if p.language]
        language = max(set(languages), key=languages.count) if languages else None
        median_f0 = np.concatenate([e.f0[e.f0 > 0] for e in prepared.examples] or [np.zeros(1)])
        progress = trainer.progress()
        return Voice(
            name=self.name,
            engine=self.tts.engine.name,
            kind=VOICE_KIND,
            payload={
                "style": trainer.style_table(prepared.style_table),
                "adapter": trainer.adapter(),
                # already folded into "style"; kept so the untrained voice can be rebuilt (bench/eval_train.py)
                "style_offset": trainer.style_offset(),
                "f0_scale": np.array([prepared.f0_scale], dtype=np.float32),
                "speed": np.array([prepared.speed], dtype=np.float32),
            },
            gender="male" if float(np.median(median_f0)) < 165 else "female",
            language=language,
            description=f"trained voice ({prepared.speech_seconds:.0f} s of speech, base style {prepared.base_style})",
            meta={
                "method": "trained",
                "base_style": prepared.base_style,
                "speech_seconds": round(prepared.speech_seconds, 1),
                "steps": progress.step,
                "train_seconds": round(progress.elapsed, 1),
                "final_loss": round(progress.loss, 4),
                "f0_scale": round(prepared.f0_scale, 3),
                "speed": round(prepared.speed, 3),
                "transcripts": [p.text for p in pieces][:20],
            },
        )


# -- prepared material on disk ---------------------------------------------------------------------------


def save_prepared(path: Path, key: str, prepared: Prepared) -> None:
    arrays: dict[str, np.ndarray] = {"style_table": prepared.style_table}
    for i, e in enumerate(prepared.examples):
        arrays |= {f"asr{i}": e.asr, f"f0{i}": e.f0, f"n{i}": e.n, f"audio{i}": e.audio, f"tokens{i}": e.token_frames}
    info = {
        "key": key, "count": len(prepared.examples), "base_style": prepared.base_style,
        "f0_scale": prepared.f0_scale, "speed": prepared.speed, "speech_seconds": prepared.speech_seconds,
    }  # fmt: skip
    arrays["info"] = np.frombuffer(json.dumps(info).encode(), dtype=np.uint8)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.npz")
    try:
        np.savez(tmp, **arrays)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def load_prepared(path: Path, key: str) -> Prepared | None:
    try:
        with np.load(path) as data:
            info = json.loads(data["info"].tobytes().decode())
            if info["key"] != key:
                return None
            examples = [
                Example(data[f"asr{i}"], data[f"f0{i}"], data[f"n{i}"], data[f"audio{i}"], data[f"tokens{i}"])
                for i in range(int(info["count"]))
            ]
            table = data["style_table"]
    except (OSError, ValueError, KeyError):
        return None
    return Prepared(
        examples, info["base_style"], table, float(info["f0_scale"]), float(info["speed"]), info["speech_seconds"]
    )


__all__ = ["TrainOptions", "TrainingCancelled", "TrainingJob"]
