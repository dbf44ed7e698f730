"""The ``Voice`` value: a name, where it came from, and the engine's own conditioning data."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

BUILTIN_KINDS = frozenset({"stock", "pretrained"})  # voices that ship with an engine or with Parrot


@dataclass(frozen=True)
class Voice:
    """A speaker an engine can use.

    ``payload`` is engine-specific (for the embedded Kokoro engine: ``{"style": (510, 256) float32}``).
    """

    name: str
    engine: str
    kind: str  # "stock", "pretrained" or "cloned"
    payload: dict[str, np.ndarray] = field(repr=False, compare=False)
    gender: str | None = None
    language: str | None = None
    description: str = ""
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    def info(self) -> dict[str, Any]:
        """JSON-friendly summary (no payload)."""
        return {
            "name": self.name,
            "engine": self.engine,
            "kind": self.kind,
            "gender": self.gender,
            "language": self.language,
            "description": self.description,
        }
