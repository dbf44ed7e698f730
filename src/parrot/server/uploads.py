"""Reading uploaded files within the size limit, and decoding uploaded audio off the event loop."""

from __future__ import annotations

import numpy as np
from fastapi import UploadFile
from starlette.concurrency import run_in_threadpool

from ..audio import AudioError, decode
from .errors import too_large_message
from .schemas import ApiError
from .settings import ServerSettings


async def read_upload(settings: ServerSettings, upload: UploadFile, param: str) -> bytes:
    """The bytes of an uploaded file, within the size limit (413)."""
    limit = settings.max_upload_bytes
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise ApiError(413, too_large_message(settings), code="file_too_large", param=param)
    return data


async def decode_upload(
    settings: ServerSettings,
    upload: UploadFile,
    param: str,
    *,
    sample_rate: int | None = None,
    max_seconds: float = 600.0,
) -> tuple[np.ndarray, int]:
    """Read an uploaded file within the size limit (413) and decode it by content (400 if not audio)."""
    data = await read_upload(settings, upload, param)
    return await decode_data(data, param, sample_rate=sample_rate, max_seconds=max_seconds)


async def decode_data(
    data: bytes, param: str, *, sample_rate: int | None = None, max_seconds: float = 600.0
) -> tuple[np.ndarray, int]:
    """Decode uploaded bytes by content in a thread (400 naming ``param`` if they are not audio)."""
    try:
        return await run_in_threadpool(decode, data, sample_rate, max_seconds=max_seconds)
    except AudioError as exc:
        raise ApiError(400, f"{param}: {exc}", code=exc.kind, param=param) from exc
