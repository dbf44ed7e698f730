"""Exceptions with messages that tell the user what to fix."""


class ParrotError(Exception):
    """Base class for every error Parrot reports to its users."""

    kind = "parrot_error"


class InputError(ParrotError, ValueError):
    """The request itself is wrong (empty text, bad option value...)."""

    kind = "invalid_request"


class TextTooLongError(InputError):
    """The text is over the configured length limit."""

    kind = "text_too_long"


class UnsupportedLanguageError(InputError):
    """The text (or requested language) is one the engine cannot speak."""

    kind = "unsupported_language"


class AudioBudgetError(InputError):
    """The request would make more audio than one request may (``PARROT_MAX_AUDIO_SECONDS``, total pauses)."""

    kind = "audio_too_long"


class UnknownVoiceError(InputError, LookupError):
    """No voice with that name exists."""

    kind = "voice_not_found"


class UnsupportedError(InputError):
    """The request asks for something this engine or server cannot do (e.g. cloning with an engine that can't)."""

    kind = "unsupported"


class VoiceExistsError(InputError):
    """A saved voice cannot take this name: a saved or built-in voice already has it (ignoring case)."""

    kind = "voice_exists"


class ProtectedVoiceError(InputError):
    """A built-in voice cannot be renamed, deleted or replaced; only saved voices can."""

    kind = "voice_protected"


class CorruptVoiceError(ParrotError):
    """A saved voice's payload file is missing, unreadable or does not match what the library recorded."""

    kind = "voice_corrupt"


class LibraryDamagedError(ParrotError):
    """The voice library's index is unreadable; saved voices are read-only until ``parrot voices check --repair``."""

    kind = "library_damaged"


class ModelError(ParrotError, RuntimeError):
    """Model weights are missing, corrupt or cannot be loaded."""

    kind = "model_error"
