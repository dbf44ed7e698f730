"""Voice names in requests: the rules (for the API docs), the 400 for a bad one, the 409 for a taken one."""

from __future__ import annotations

from ..errors import InputError, VoiceExistsError
from ..voices.library import VoiceLibrary
from ..voices.store import validate_name
from .schemas import ApiError

VOICE_NAME_HELP = (
    "1-64 characters: letters of any script, digits, '_', '-', '.' and inner spaces; not starting or ending "
    "with a space or '.', no '..'"
)


def check_voice_name(name: str, param: str = "name") -> str:
    """The name, NFC-normalised, if it is a valid voice name (the library's rules; names never become
    paths, but '/', '\\' and '..' are refused all the same); else 400."""
    try:
        return validate_name(name)
    except InputError as exc:
        raise ApiError(400, str(exc), code="invalid_voice_name", param=param) from exc


def refuse_taken_name(library: VoiceLibrary, name: str) -> None:
    """``VoiceExistsError`` (409) before any cloning work if ``name`` is taken, ignoring case."""
    if library.is_builtin(name):
        raise VoiceExistsError(f"a built-in voice named {library.get(name).name!r} already exists; choose another name")
    if library.store.exists(name):
        raise VoiceExistsError(
            f"a saved voice named {name!r} already exists; choose another name, or rename or delete that one"
        )
