"""Cross-origin requests from web pages on other origins (CORS), for the origins the server allows."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Beyond the headers every page may read: Parrot's own X-Parrot-*, and when to retry after a 429 or 503.
EXPOSED_PREFIX = "x-parrot-"
EXPOSED = frozenset({"retry-after"})


def add_cors(app: FastAPI, origins: tuple[str, ...]) -> None:
    """Let pages on ``origins`` (``*``: any) call the API; nothing when there are none.

    Call it after every other middleware is added: the outermost layer answers a browser's preflight
    (``OPTIONS``, which never carries the API key) before the API-key check could refuse it, and marks
    every answer, errors included, so the page can read it."""
    if not origins:
        return
    app.add_middleware(CORSMiddleware, allow_origins=list(origins), allow_methods=["*"], allow_headers=["*"])
    app.add_middleware(ExposeParrotHeaders)


class ExposeParrotHeaders:
    """Lists the X-Parrot-* headers (and Retry-After) of each cross-origin response in
    ``Access-Control-Expose-Headers``, so scripts can read them; whichever headers a route adds."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def exposing_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if "access-control-allow-origin" in headers:
                    names = [k for k in map(str.lower, headers) if k.startswith(EXPOSED_PREFIX) or k in EXPOSED]
                    if names:
                        headers["Access-Control-Expose-Headers"] = ", ".join(dict.fromkeys(names))
            await send(message)

        await self.app(scope, receive, exposing_send)
