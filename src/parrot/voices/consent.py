"""The consent statement a cloned voice carries: who agreed to have their voice cloned, when, and to what.

Recorded in the voice's metadata (``meta["consent"]``), so it is saved with the voice, shown with it (CLI
``voices show``, ``GET /v1/audio/voices/{name}``, the web UI) and travels inside its ``.voice`` file."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from ..errors import InputError
from .voice import Voice

MAX_BY = 200
MAX_TEXT = 2000


@dataclass(frozen=True)
class Consent:
    by: str  # the person whose voice it is (or who may speak for them)
    text: str  # the statement they agreed to
    at: str  # when, ISO 8601 UTC

    @classmethod
    def given(cls, by: str | None, text: str | None, at: datetime | None = None) -> Consent:
        """A statement given now (or ``at``); both who and what are required, in plain text."""
        by, text = _clean(by, "consent_by", MAX_BY), _clean(text, "consent_text", MAX_TEXT)
        when = (at or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
        return cls(by=by, text=text, at=when.isoformat().replace("+00:00", "Z"))

    def as_meta(self) -> dict[str, str]:
        return {"by": self.by, "text": self.text, "at": self.at}

    def attach(self, voice: Voice) -> Voice:
        """``voice`` carrying this statement."""
        return replace(voice, meta={**voice.meta, "consent": self.as_meta()})


def consent_of(voice: Voice) -> Consent | None:
    """The statement recorded with ``voice``, if any (malformed metadata counts as none)."""
    meta = voice.meta.get("consent") if isinstance(voice.meta, dict) else None
    if not isinstance(meta, dict) or not all(isinstance(meta.get(k), str) for k in ("by", "text", "at")):
        return None
    return Consent(by=meta["by"], text=meta["text"], at=meta["at"])


def _clean(value: str | None, what: str, limit: int) -> str:
    if value is None or not str(value).strip():
        raise InputError(f"{what} is required for a consent statement (who agreed, and to what)")
    text = unicodedata.normalize("NFC", str(value)).strip()
    if any(unicodedata.category(c) == "Cc" and c not in "\n\t" for c in text):
        raise InputError(f"{what} must be plain text (no control characters)")
    if len(text) > limit:
        raise InputError(f"{what} is longer than {limit} characters")
    return text
