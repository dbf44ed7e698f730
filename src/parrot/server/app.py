"""The FastAPI application: wires the state, lifespan, middleware, error handlers and routes together.

``create_app()`` returns an app that loads the model at startup (lifespan); run it with
``uvicorn.run(app, port=7860)`` or ``parrot serve``. Nothing else lives here: shared state is in
``state.py``, speech jobs in ``speech.py``, errors in ``errors.py``, and each route module only translates
HTTP to calls on those (see ARCHITECTURE.md).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from .. import __version__
from ..webui import router as webui_router
from . import (
    routes_chat,
    routes_cosyvoice,
    routes_jobs,
    routes_openai,
    routes_training,
    routes_transcriptions,
    routes_voices,
    routes_ws,
)
from .cors import add_cors
from .docs import API_DESCRIPTION, mount_offline_docs, openapi_without_422
from .errors import install_error_handlers
from .middleware import LimitsMiddleware
from .settings import ServerSettings
from .state import ServerState

if TYPE_CHECKING:
    from ..api import Parrot
    from ..chat.config import ChatSettings

log = logging.getLogger("uvicorn.error")  # where `parrot serve` shows uvicorn's own messages
GIL_SLICE_SECONDS = 0.001


def create_app(
    tts: Parrot | None = None,
    settings: ServerSettings | None = None,
    chat: ChatSettings | None = None,
) -> FastAPI:
    """A new app with its own scheduler and metrics. ``tts`` may be shared between apps; when it is
    None the model is loaded at startup. ``chat`` configures voice chat (default: from the environment)."""
    state = ServerState(settings or ServerSettings.from_env(), tts, chat)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Worker threads (text preparation, G2P) hold the GIL in 5 ms slices by default; shorter slices let the
        # event loop answer other clients promptly while they work (tests/server/test_freeze.py).
        sys.setswitchinterval(GIL_SLICE_SECONDS)
        started = time.perf_counter()
        await run_in_threadpool(state.load)
        state.scheduler.start()
        state.books.start()
        log.info(
            "parrot: model ready in %.1f s (%d workers, up to %d streams)",
            time.perf_counter() - started,
            state.settings.workers,
            state.settings.max_jobs,
        )
        try:
            yield
        finally:
            await state.training.shutdown(state.settings.shutdown_timeout)
            await state.books.shutdown()
            await state.scheduler.shutdown(state.settings.shutdown_timeout)

    app = FastAPI(
        title="Parrot",
        version=__version__,
        description=API_DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served by mount_offline_docs: the default page loads Swagger UI from a CDN
    )
    app.state.parrot = state
    app.openapi = lambda: openapi_without_422(app)  # type: ignore[method-assign]
    install_error_handlers(app, state.metrics)
    app.add_middleware(LimitsMiddleware, settings=state.settings, metrics=state.metrics)
    add_cors(app, state.settings.cors_origins)  # last: outside the API-key check, for preflights
    # routes_training before routes_voices: /v1/audio/voices/train is not a voice named "train"
    routes = (
        routes_openai,
        routes_transcriptions,
        routes_training,
        routes_voices,
        routes_cosyvoice,
        routes_ws,
        routes_chat,
        routes_jobs,
    )
    for module in routes:
        app.include_router(module.router)
    app.include_router(webui_router)  # the web UI at /
    mount_offline_docs(app)
    return app
