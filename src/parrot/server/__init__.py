"""``parrot serve``: the HTTP/WebSocket server (FastAPI + uvicorn).

``create_app()`` builds an app with its own scheduler, metrics and settings; see ``app.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["ServerSettings", "create_app"]

if TYPE_CHECKING:
    from .app import create_app
    from .settings import ServerSettings


def __getattr__(name: str) -> Any:  # keep `import parrot.server` light until the app is needed
    if name == "create_app":
        from .app import create_app

        return create_app
    if name == "ServerSettings":
        from .settings import ServerSettings

        return ServerSettings
    raise AttributeError(name)
