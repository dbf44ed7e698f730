"""Server settings read from the environment (``PARROT_*``), one frozen value per app."""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..config import Settings, env_number
from ..errors import InputError

DEFAULT_RATE_LIMIT = 600  # requests per minute per key or address for `parrot serve` (PARROT_RATE_LIMIT)


@dataclass(frozen=True)
class ServerSettings:
    """How much work the server takes on and who may use it.

    ``workers``: model calls run at once (``PARROT_WORKERS``); ``max_jobs``: speech streams admitted at
    once, beyond which requests get HTTP 429 (``PARROT_MAX_JOBS``); ``api_keys``: if any, every API route
    needs ``Authorization: Bearer KEY`` (``PARROT_API_KEYS``, comma-separated); ``max_upload_mb``: the
    largest accepted upload (``PARROT_MAX_UPLOAD_MB``); ``max_text_chars``: the longest text
    (``PARROT_MAX_TEXT_CHARS``, shared with the library); ``rate_limit``: requests per minute per API key,
    or per client address when there are no keys (``PARROT_RATE_LIMIT``, 600 for ``parrot serve``, 0 = off);
    ``cors_origins``: web origins whose pages may call the API from a browser (``PARROT_CORS_ORIGINS``,
    comma-separated, e.g. ``https://app.example.com``, or ``*`` for any; none by default: no CORS headers).
    """

    workers: int = 2
    max_jobs: int = 6  # on 2 cores, more admitted streams only make every stream start later
    api_keys: frozenset[str] = frozenset()
    max_upload_mb: float = 20.0
    max_text_chars: int = 100_000
    shutdown_timeout: float = 10.0  # seconds in-flight streams get to finish when the server stops
    max_buffered_chunks: int = 4  # chunks made ahead of a slow client before its stream pauses
    prepare_seconds: float = 10.0  # time budget to check and prepare one request's text (off the event loop)
    rate_limit: int = 0  # requests per minute per API key (or per client address without keys); 0 = no limit
    cors_origins: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.workers < 1 or self.max_jobs < 1 or self.max_buffered_chunks < 1:
            raise ValueError("workers, max_jobs and max_buffered_chunks must be at least 1")
        if not self.max_upload_mb > 0 or self.max_text_chars < 1:
            raise ValueError("max_upload_mb and max_text_chars must be positive")
        object.__setattr__(self, "cors_origins", tuple(_origin(o) for o in self.cors_origins))

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def max_json_bytes(self) -> int:
        """The largest JSON body or WebSocket message: room for the longest text, fully \\u-escaped."""
        return max(1024 * 1024, 8 * self.max_text_chars + 64 * 1024)

    @classmethod
    def from_env(cls, settings: Settings | None = None) -> ServerSettings:
        settings = settings or Settings.from_env()
        keys = frozenset(k.strip() for k in os.environ.get("PARROT_API_KEYS", "").split(",") if k.strip())
        return cls(
            workers=env_number("PARROT_WORKERS", cls.workers, int, 1),
            max_jobs=env_number("PARROT_MAX_JOBS", cls.max_jobs, int, 1),
            api_keys=keys,
            max_upload_mb=env_number("PARROT_MAX_UPLOAD_MB", cls.max_upload_mb, float, 0.001),
            rate_limit=env_number("PARROT_RATE_LIMIT", DEFAULT_RATE_LIMIT, int, 0),
            max_text_chars=settings.max_text_chars,
            cors_origins=tuple(o for o in os.environ.get("PARROT_CORS_ORIGINS", "").split(",") if o.strip()),
        )


def _origin(value: str) -> str:
    """``*`` or ``scheme://host[:port]`` as browsers send it in ``Origin`` (a trailing slash is dropped)."""
    origin = value.strip().rstrip("/")
    scheme, _, host = origin.partition("://")
    if origin != "*" and (scheme not in ("http", "https") or not host or "/" in host):
        raise InputError(
            f"PARROT_CORS_ORIGINS: {value.strip()!r} is not an origin; write it as https://host[:port], or * for any"
        )
    return origin
