"""Writing files so that a crash never leaves a half-written one in place."""

from __future__ import annotations

import os
import tempfile
from contextlib import suppress
from pathlib import Path

TEMP_PREFIX = ".tmp-"  # temp files of write_atomically are ".tmp-*.part" (a crash can leave one behind)


def write_atomically(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` durably: a fsynced temp file in the same directory, ``os.replace``, and a
    fsync of the directory, so a crash leaves the old file or the new one, never a mix. ``mode`` is the new
    file's permission bits."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            if hasattr(os, "fchmod"):  # not on Windows
                os.fchmod(fh.fileno(), mode)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def fsync_dir(directory: Path) -> None:
    """Make a rename in ``directory`` durable (a no-op where directories cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def make_private(path: Path, mode: int) -> bool:
    """Take group and other permissions away from ``path`` (``mode`` is what it should have, e.g. 0o700 for a
    directory, 0o600 for a file); returns whether it had to be changed. Missing paths are left alone."""
    try:
        current = path.stat().st_mode & 0o777
        if current & 0o077 == 0:
            return False
        os.chmod(path, mode)
    except OSError:
        return False
    return True
