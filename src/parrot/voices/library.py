"""All the voices a user can pick: built-in ones (stock and pretrained, read-only) and saved ones.

Built-in voices come from the engine (its stock styles) and from voice files shipped inside the
package (``parrot/data/voices/*.voice``, each with a provenance note). Saved voices live in the
crash-safe :class:`~parrot.voices.store.VoiceStore` in the data directory. Built-in names are
reserved, so a saved voice can never shadow one.
"""

from __future__ import annotations

import importlib.resources as resources
from collections.abc import Iterable
from pathlib import Path

from ..errors import ProtectedVoiceError, UnknownVoiceError
from .store import VoiceStore
from .voice import Voice
from .voicefile import decode_voice_file, encode_voice_file


def packaged_voices(engine: str) -> list[Voice]:
    """Pretrained voices shipped with Parrot for ``engine`` (kind "pretrained")."""
    folder = resources.files("parrot").joinpath("data", "voices")
    if not folder.is_dir():
        return []
    voices = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".voice"):
            voice = decode_voice_file(entry.read_bytes())
            if voice.engine == engine:
                voices.append(voice)
    return voices


class VoiceLibrary:
    """One place to list, find, save, rename, delete, export and import voices."""

    def __init__(self, builtin: Iterable[Voice], store_root: Path) -> None:
        self._builtin = {v.name: v for v in builtin}
        self._folded = {name.casefold(): name for name in self._builtin}
        self.store = VoiceStore(store_root, reserved=frozenset(self._builtin))

    def list(self) -> list[Voice]:
        """Built-in voices first, then saved ones (saved voices come without their payload)."""
        return [*self._builtin.values(), *self.store.list()]

    def names(self) -> list[str]:
        return [v.name for v in self.list()]

    def get(self, name: str) -> Voice:
        builtin = self._builtin.get(name) or self._builtin.get(self._folded.get(str(name).casefold(), ""))
        if builtin is not None:
            return builtin
        try:
            return self.store.get(name)
        except UnknownVoiceError as exc:
            raise UnknownVoiceError(f"no voice named {name!r}; available voices: {', '.join(self.names())}") from exc

    def is_builtin(self, name: str) -> bool:
        return str(name).casefold() in self._folded

    def save(self, voice: Voice, *, overwrite: bool = False) -> Voice:
        return self.store.save(voice, overwrite=overwrite)

    def rename(self, old: str, new: str) -> Voice:
        self._refuse_builtin(old, "renamed")
        return self.store.rename(old, new)

    def delete(self, name: str) -> None:
        self._refuse_builtin(name, "deleted")
        self.store.delete(name)

    def export(self, name: str) -> bytes:
        if self.is_builtin(name):
            return encode_voice_file(self.get(name))
        return self.store.export(name)

    def import_(self, data: bytes, *, name: str | None = None, overwrite: bool = False) -> Voice:
        return self.store.import_(data, name=name, overwrite=overwrite)

    def _refuse_builtin(self, name: str, what: str) -> None:
        if self.is_builtin(name):
            raise ProtectedVoiceError(f"{name!r} is a built-in voice and cannot be {what}; only saved voices can")
