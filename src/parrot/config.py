"""Settings read from the environment (one place, no globals mutated at run time)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from .errors import InputError

N = TypeVar("N", int, float)
COSYVOICE2_DIR_NAME = "CosyVoice2-0.5B"


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "parrot"


def env_number(name: str, default: N, kind: type[N], minimum: N) -> N:
    """The number in environment variable ``name`` (``default`` if unset); clear error if invalid."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        value = None
    if value is None or not value >= minimum:
        what = "an integer" if kind is int else "a number"
        raise InputError(f"{name} must be {what} of at least {minimum}, got {raw!r}")
    return value


@dataclass(frozen=True)
class Settings:
    """Runtime settings; every field can be set with a ``PARROT_*`` environment variable."""

    data_dir: Path = field(default_factory=_default_data_dir)
    threads: int = 0  # onnxruntime intra-op threads; 0 = all cores
    max_text_chars: int = 100_000
    max_audio_seconds: float = 3600.0  # the most audio one request may make (speech and pauses)
    engine: str = "kokoro"
    model_dir: Path | None = None  # CosyVoice2-0.5B weights; None = <data_dir>/models/CosyVoice2-0.5B

    @classmethod
    def from_env(cls) -> Settings:
        data_dir = os.environ.get("PARROT_DATA_DIR")
        return cls(
            data_dir=Path(data_dir).expanduser() if data_dir else _default_data_dir(),
            threads=env_number("PARROT_THREADS", 0, int, 0),
            max_text_chars=env_number("PARROT_MAX_TEXT_CHARS", 100_000, int, 1),
            max_audio_seconds=env_number("PARROT_MAX_AUDIO_SECONDS", 3600.0, float, 1.0),
            engine=os.environ.get("PARROT_ENGINE", "kokoro"),
            model_dir=Path(model_dir).expanduser() if (model_dir := os.environ.get("PARROT_MODEL_DIR")) else None,
        )

    def resolved_model_dir(self) -> Path:
        """Where the CosyVoice2 engine looks for its weights (``PARROT_MODEL_DIR`` or the data directory)."""
        return self.model_dir or self.data_dir / "models" / COSYVOICE2_DIR_NAME

    def resolved_threads(self) -> int:
        return self.threads if self.threads > 0 else max(1, os.cpu_count() or 1)
