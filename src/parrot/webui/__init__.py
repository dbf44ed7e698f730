"""The browser UI: one page (plain HTML, CSS and JavaScript, no build step, nothing from a CDN) that talks
to the server's own HTTP API.

``router`` serves the page at ``/`` with its stylesheet and script inlined, so the page is one request to a
public path and works unchanged when the server has API keys (the page then asks for a key and sends it on
every API call). The same files are also served as they are under ``/webui/``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse, Response

STATIC = Path(__file__).resolve().parent / "static"
_TYPES = {"index.html": "text/html", "app.js": "text/javascript", "style.css": "text/css"}

router = APIRouter(include_in_schema=False)


@lru_cache(maxsize=1)
def page() -> str:
    """index.html with style.css and app.js inlined."""
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    css = (STATIC / "style.css").read_text(encoding="utf-8")
    js = (STATIC / "app.js").read_text(encoding="utf-8").replace("</script", "<\\/script")
    html = html.replace('<link rel="stylesheet" href="webui/style.css">', f"<style>\n{css}</style>")
    return html.replace('<script src="webui/app.js"></script>', f"<script>\n{js}</script>")


@router.get("/")
async def index() -> HTMLResponse:
    return HTMLResponse(page(), headers={"Cache-Control": "no-cache"})


@router.get("/webui/{name}")
async def static_file(name: str) -> Response:
    if name not in _TYPES:
        return Response("not found", status_code=404, media_type="text/plain")
    media_type = f"{_TYPES[name]}; charset=utf-8"
    return Response((STATIC / name).read_bytes(), media_type=media_type, headers={"Cache-Control": "no-cache"})


def mount(app: FastAPI) -> None:
    """Serve the web UI from ``app`` (call before any other route for ``/``: the first match wins)."""
    app.include_router(router)
