"""Voices: what they are (``voice``), where stock ones come from and (later) the saved library."""

from .voice import Voice

__all__ = ["Voice"]
