"""Parrot: self-hosted, offline multilingual speech generation."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Parrot", "Speech", "__version__"]

if TYPE_CHECKING:
    from .api import Parrot, Speech


def __getattr__(name: str) -> Any:  # keep `import parrot` light: load the facade on first use
    if name in ("Parrot", "Speech"):
        from . import api

        return getattr(api, name)
    raise AttributeError(name)
