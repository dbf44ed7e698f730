"""Secure by default: a server reachable from other machines always requires an API key.

``parrot serve`` listens on loopback unless told otherwise. Told to listen beyond it with no
``PARROT_API_KEYS``, it uses the key stored in ``<data_dir>/api_key`` (readable by the user only),
generating it on the first such start and printing it that once.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

KEY_FILE = "api_key"


@dataclass(frozen=True)
class KeyChoice:
    """The keys to require, and what to tell the user about them (one line, or empty)."""

    keys: frozenset[str]
    notice: str = ""


def is_loopback(host: str) -> bool:
    """True when ``host`` only accepts connections from this machine."""
    if host in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to any interface


def choose_keys(host: str, configured: frozenset[str], data_dir: Path) -> KeyChoice:
    """The configured keys; else, for a non-loopback ``host``, the stored key (made on first use)."""
    if configured or is_loopback(host):
        return KeyChoice(configured)
    path = data_dir / KEY_FILE
    key, created = _stored_key(path)
    if created:
        notice = (
            f"parrot: listening on {host} needs an API key; this one was generated and stored in {path} "
            f"(shown only now): {key}\nparrot: send it as 'Authorization: Bearer KEY' (PARROT_API_KEYS sets your own)"
        )
    else:
        notice = f"parrot: listening on {host}: API calls need the key stored in {path} (PARROT_API_KEYS sets your own)"
    return KeyChoice(frozenset({key}), notice)


def _stored_key(path: Path) -> tuple[str, bool]:
    """The key in ``path``, or a new one written there with mode 0600; ``(key, created)``."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            os.chmod(path, 0o600)
        key = path.read_text(encoding="ascii").strip()
        if len(key) < 32:
            raise ValueError(f"{path} does not hold a usable API key; delete it to have a new one generated") from None
        return key, False
    key = "pk-" + secrets.token_urlsafe(32)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return key, True
