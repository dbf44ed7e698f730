"""Server-Sent Events as OpenAI streams them: one ``data: {json}`` line per event."""

from __future__ import annotations

import json
from typing import Any

from .errors import to_api_error


def sse_event(data: dict[str, Any]) -> str:
    return f"data: {json.dumps(data, separators=(',', ':'))}\n\n"


def sse_error(exc: BaseException) -> str:
    """The in-band error event for a failure after the status line was sent (OpenAI's shape)."""
    return sse_event({"type": "error", **to_api_error(exc).body()})
