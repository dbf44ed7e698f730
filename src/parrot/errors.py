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


class UnknownVoiceError(InputError, LookupError):
    """No voice with that name exists."""

    kind = "voice_not_found"


class UnsupportedError(InputError):
    """The request asks for something this engine or server cannot do (e.g. cloning with an engine that can't)."""

    kind = "unsupported"


class ModelError(ParrotError, RuntimeError):
    """Model weights are missing, corrupt or cannot be loaded."""

    kind = "model_error"
