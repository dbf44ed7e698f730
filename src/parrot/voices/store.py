"""The persistent voice library: saved (cloned) voices that survive restarts.

Layout under ``root`` (normally ``<data_dir>/voices``, see :meth:`VoiceStore.for_data_dir`)::

    library.sqlite3        one row per voice: metadata, payload id, payload sha256, array shapes
    payloads/<id>.npz      the voice's arrays; ``<id>`` is a random uuid hex, never derived from the name

Crash safety: a payload is written to a temp file in ``payloads/``, fsynced, renamed into place (and the
directory fsynced) and only then is the row committed. A payload file is deleted only after no committed row
references it. So a crash at any point leaves the old or the new voice intact, never a row without its file;
leftovers (temp files, payloads no row references) are removed the next time a store is opened.

Concurrency: reads need no lock (WAL mode). Every write, every payload placement and the orphan cleanup run
inside ``BEGIN IMMEDIATE`` (SQLite's cross-process write lock, with a busy timeout) and under a thread lock,
so threads and processes can share one library and the cleanup never deletes a payload another writer is
about to commit.

The shareable voice file and the payload files are encoded and validated by :mod:`parrot.voices.voicefile`.
"""

from __future__ import annotations

import builtins
import difflib
import hashlib
import json
import os
import re
import sqlite3
import threading
import unicodedata
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CorruptVoiceError, InputError, ParrotError, UnknownVoiceError, VoiceExistsError
from ..files import TEMP_PREFIX, write_atomically
from .voice import Voice
from .voicefile import (
    FORMAT_VERSION,
    MAX_FILE_BYTES,
    ArrayInfo,
    array_infos,
    check_arrays,
    decode_payload,
    decode_voice_file,
    encode_payload,
    encode_voice_file,
    infos_from_json,
    infos_json,
    validate_name,
    voice_fields,
)

__all__ = [  # the codec names are re-exported for callers that import them from here
    "FORMAT_VERSION",
    "MAX_FILE_BYTES",
    "ArrayInfo",
    "CorruptVoiceError",
    "VoiceRecord",
    "VoiceStore",
    "decode_voice_file",
    "encode_voice_file",
    "validate_name",
]

SCHEMA_VERSION = 1
BUSY_TIMEOUT_S = 30.0

_DB_NAME = "library.sqlite3"
_PAYLOAD_DIR = "payloads"
_PAYLOAD_FILE = re.compile(r"[0-9a-f]{32}\.npz")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS voices (
    key TEXT PRIMARY KEY,             -- NFC + casefolded name: uniqueness ignores case
    name TEXT NOT NULL,               -- the name as the user spelled it (NFC)
    payload_id TEXT NOT NULL UNIQUE,  -- payloads/<payload_id>.npz
    payload_sha256 TEXT NOT NULL,
    payload_arrays TEXT NOT NULL,     -- JSON {key: {"shape": [...], "dtype": "<f4"}}
    engine TEXT NOT NULL,
    kind TEXT NOT NULL,
    gender TEXT,
    language TEXT,
    description TEXT NOT NULL,
    meta TEXT NOT NULL,               -- JSON object
    created_at TEXT NOT NULL,         -- ISO 8601, UTC
    updated_at TEXT NOT NULL
) WITHOUT ROWID
"""


@dataclass(frozen=True)
class VoiceRecord:
    """Everything the library knows about a voice without loading its payload (``voice.payload`` is empty)."""

    voice: Voice
    created_at: str
    updated_at: str
    sha256: str
    arrays: dict[str, ArrayInfo]


def _key(name: str) -> str:
    """The case-insensitive uniqueness key of a name."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", name).casefold())


def _lookup_key(name: object) -> str:
    if not isinstance(name, str):
        raise InputError(f"a voice name must be a string, not {type(name).__name__}")
    return _key(name)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _commit(conn: sqlite3.Connection) -> None:
    """Commit the open transaction (a seam for crash tests)."""
    conn.execute("COMMIT")


# ------------------------------------------------------------------------------------------ store


class VoiceStore:
    """Saved voices in ``root`` (``library.sqlite3`` + ``payloads/``); safe across threads and processes.

    ``reserved`` names (e.g. the stock voices) cannot be used for saved voices, ignoring case.
    """

    def __init__(self, root: Path, *, reserved: Iterable[str] = frozenset()) -> None:
        self.root = Path(root)
        self._db_path = self.root / _DB_NAME
        self._payload_dir = self.root / _PAYLOAD_DIR
        self._reserved = frozenset(_key(n) for n in reserved)
        self._lock = threading.RLock()
        try:
            self._payload_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ParrotError(f"cannot create the voice library directory {self._payload_dir}: {exc}") from exc
        self._init_db()
        self.cleanup()

    @classmethod
    def for_data_dir(cls, data_dir: Path, *, reserved: Iterable[str] = frozenset()) -> VoiceStore:
        """The library of a Parrot data directory (``Settings.data_dir``): ``<data_dir>/voices``."""
        return cls(Path(data_dir) / "voices", reserved=reserved)

    # -- plumbing ---------------------------------------------------------------------------------

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A fresh connection for one call; SQLite errors become ``ParrotError``."""
        try:
            conn = sqlite3.connect(self._db_path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except sqlite3.Error as exc:
            raise ParrotError(f"cannot open the voice library {self._db_path}: {exc}") from exc
        try:
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA synchronous=FULL")  # a committed delete must never be lost after its unlink
            yield conn
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise ParrotError(f"the voice library is busy (locked for over {BUSY_TIMEOUT_S:g} s); retry") from exc
            raise ParrotError(f"voice library error ({self._db_path}): {exc}") from exc
        except sqlite3.Error as exc:
            raise ParrotError(f"voice library error ({self._db_path}): {exc}") from exc
        finally:
            conn.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """Thread lock + ``BEGIN IMMEDIATE`` (the cross-process write lock); commits if the block succeeds."""
        with self._lock, self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                _commit(conn)
            except BaseException:
                if conn.in_transaction:
                    with suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                raise

    def _init_db(self) -> None:
        with self._lock, self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")  # persistent; readers never block the writer
        with self._write() as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise ParrotError(f"the voice library {self._db_path} comes from a newer Parrot (schema {version})")
            conn.execute(_SCHEMA)
            if version < SCHEMA_VERSION:
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _payload_path(self, payload_id: str) -> Path:
        return self._payload_dir / f"{payload_id}.npz"

    def _place_payload(self, payload_id: str, blob: bytes) -> None:
        """Durably write a payload file (only ever called inside ``_write``, i.e. holding the write lock)."""
        try:
            write_atomically(self._payload_path(payload_id), blob)
        except OSError as exc:
            raise ParrotError(f"could not write the voice payload into {self._payload_dir}: {exc}") from exc

    def _unlink_payload(self, payload_id: str) -> None:
        """Delete a payload file no committed row references (failure only leaves a harmless orphan)."""
        with suppress(OSError):
            self._payload_path(payload_id).unlink(missing_ok=True)

    def _discard_unreferenced(self, payload_id: str) -> None:
        """After a failed save: delete the new payload unless the row was committed after all."""
        if not self._payload_path(payload_id).exists():
            return
        try:
            with self._connect() as conn:
                hit = conn.execute("SELECT 1 FROM voices WHERE payload_id = ?", (payload_id,)).fetchone()
        except ParrotError:
            return  # keep the file; the next cleanup() decides
        if hit is None:
            self._unlink_payload(payload_id)

    def _check_new_name(self, name: object) -> str:
        name = validate_name(name)
        if _key(name) in self._reserved:
            raise VoiceExistsError(f"{name!r} is the name of a built-in voice; choose another name for a saved voice")
        return name

    def _unknown(self, conn: sqlite3.Connection, name: str) -> UnknownVoiceError:
        names = [r["name"] for r in conn.execute("SELECT name FROM voices ORDER BY key")]
        by_key = {_key(n): n for n in names}
        close = [by_key[k] for k in difflib.get_close_matches(_key(name), list(by_key), n=3, cutoff=0.6)]
        message = f"no saved voice named {name!r}"
        if close:
            message += f"; did you mean {' or '.join(repr(n) for n in close)}?"
        if names:
            shown = ", ".join(names[:20]) + (f" (and {len(names) - 20} more)" if len(names) > 20 else "")
            message += f" Saved voices: {shown}"
        else:
            message += " (the voice library is empty)"
        return UnknownVoiceError(message)

    def _row(self, conn: sqlite3.Connection, name: str) -> sqlite3.Row:
        row = conn.execute("SELECT * FROM voices WHERE key = ?", (_lookup_key(name),)).fetchone()
        if row is None:
            raise self._unknown(conn, name)
        return row

    @staticmethod
    def _record(row: sqlite3.Row, payload: dict[str, np.ndarray] | None = None) -> VoiceRecord:
        voice = Voice(
            name=row["name"],
            engine=row["engine"],
            kind=row["kind"],
            payload=payload if payload is not None else {},
            gender=row["gender"],
            language=row["language"],
            description=row["description"],
            meta=json.loads(row["meta"]),
        )
        arrays = infos_from_json(row["payload_arrays"])
        return VoiceRecord(voice, row["created_at"], row["updated_at"], row["payload_sha256"], arrays)

    def _load(self, row: sqlite3.Row) -> dict[str, np.ndarray]:
        """Read, checksum and decode a row's payload (``FileNotFoundError`` passes through for ``get`` to retry)."""
        path = self._payload_path(row["payload_id"])
        blob = path.read_bytes()
        damaged = f"the saved voice {row['name']!r} is damaged: its payload file {path}"
        if hashlib.sha256(blob).hexdigest() != row["payload_sha256"]:
            raise CorruptVoiceError(f"{damaged} does not match its checksum; delete the voice and save it again")
        arrays = decode_payload(blob, CorruptVoiceError)
        if array_infos(arrays) != infos_from_json(row["payload_arrays"]):
            raise CorruptVoiceError(f"{damaged} does not hold the arrays the library recorded")
        return arrays

    # -- public API -------------------------------------------------------------------------------

    def save(self, voice: Voice, *, overwrite: bool = False) -> Voice:
        """Store ``voice`` under its (validated, NFC) name and return it as stored.

        A name that exists (ignoring case) raises ``InputError`` unless ``overwrite``; overwriting keeps
        ``created_at`` and takes the new spelling of the name. The payload goes to a new file, the row is
        committed, and only then is the replaced payload file deleted.
        """
        name = self._check_new_name(voice.name)
        fields = voice_fields(voice)
        arrays = check_arrays(voice.payload)
        blob = encode_payload(arrays)
        columns = {
            "key": _key(name),
            "name": name,
            "payload_id": uuid.uuid4().hex,
            "payload_sha256": hashlib.sha256(blob).hexdigest(),
            "payload_arrays": infos_json(array_infos(arrays)),
            **fields,
            "updated_at": _now(),
        }
        try:
            with self._write() as conn:
                old_id = self._upsert(conn, columns, blob, overwrite=overwrite)
        except BaseException:
            self._discard_unreferenced(columns["payload_id"])
            raise
        if old_id is not None:
            self._unlink_payload(old_id)
        return Voice(payload=arrays, **{**fields, "name": name, "meta": json.loads(fields["meta"])})

    def _upsert(self, conn: sqlite3.Connection, columns: dict[str, Any], blob: bytes, *, overwrite: bool) -> str | None:
        """Inside ``_write``: place the payload file, then insert or update the row; returns the replaced payload id."""
        row = conn.execute("SELECT name, payload_id FROM voices WHERE key = ?", (columns["key"],)).fetchone()
        if row is not None and not overwrite:
            raise VoiceExistsError(
                f"a saved voice named {row['name']!r} already exists; overwrite it or choose another name"
            )
        self._place_payload(columns["payload_id"], blob)
        if row is None:
            columns = {**columns, "created_at": columns["updated_at"]}
            names = ", ".join(columns)
            conn.execute(
                f"INSERT INTO voices ({names}) VALUES ({', '.join('?' * len(columns))})", tuple(columns.values())
            )
            return None
        assignments = ", ".join(f"{column} = ?" for column in columns)
        conn.execute(f"UPDATE voices SET {assignments} WHERE key = ?", (*columns.values(), columns["key"]))
        return row["payload_id"]

    def get(self, name: str) -> Voice:
        """The saved voice ``name`` (any case) with its payload; ``UnknownVoiceError`` lists similar names."""
        with self._connect() as conn:
            row = self._row(conn, name)
            for _ in range(3):
                try:
                    return self._record(row, self._load(row)).voice
                except FileNotFoundError:
                    fresh = self._row(conn, name)  # a concurrent overwrite/delete may have replaced the file
                    if fresh["payload_id"] == row["payload_id"]:
                        break
                    row = fresh
        raise CorruptVoiceError(
            f"the saved voice {row['name']!r} is damaged: its payload file {self._payload_path(row['payload_id'])} "
            "is missing; delete the voice and save it again"
        )

    def exists(self, name: str) -> bool:
        """Whether a voice with this name (ignoring case) is saved."""
        if not isinstance(name, str):
            return False
        with self._connect() as conn:
            return conn.execute("SELECT 1 FROM voices WHERE key = ?", (_key(name),)).fetchone() is not None

    def records(self) -> builtins.list[VoiceRecord]:
        """Metadata of every saved voice (timestamps, checksum, array shapes), sorted by name; no payloads read."""
        with self._connect() as conn:
            return [self._record(row) for row in conn.execute("SELECT * FROM voices ORDER BY key")]

    def list(self) -> builtins.list[Voice]:
        """Every saved voice sorted by name, **with an empty payload** (cheap); use :meth:`get` for the arrays."""
        return [record.voice for record in self.records()]

    def rename(self, old: str, new: str) -> Voice:
        """Rename a saved voice (a change of case only is allowed); returns it with an empty payload."""
        new_name = self._check_new_name(new)
        with self._write() as conn:
            row = self._row(conn, old)
            if _key(new_name) != row["key"]:
                clash = conn.execute("SELECT name FROM voices WHERE key = ?", (_key(new_name),)).fetchone()
                if clash is not None:
                    raise VoiceExistsError(
                        f"cannot rename {row['name']!r} to {new_name!r}: a saved voice named {clash['name']!r} "
                        "already exists (delete it first or choose another name)"
                    )
            conn.execute(
                "UPDATE voices SET key=?, name=?, updated_at=? WHERE key=?",
                (_key(new_name), new_name, _now(), row["key"]),
            )
            renamed = conn.execute("SELECT * FROM voices WHERE key = ?", (_key(new_name),)).fetchone()
        return self._record(renamed).voice

    def delete(self, name: str) -> None:
        """Delete a saved voice (``UnknownVoiceError`` if there is none)."""
        with self._write() as conn:
            row = self._row(conn, name)
            conn.execute("DELETE FROM voices WHERE key = ?", (row["key"],))
        self._unlink_payload(row["payload_id"])

    def export(self, name: str) -> bytes:
        """One self-contained file (zip: ``voice.json`` + ``arrays/*.npy``) to share a saved voice."""
        return encode_voice_file(self.get(name))

    def import_(self, data: bytes, *, name: str | None = None, overwrite: bool = False) -> Voice:
        """Validate a voice file (see :func:`decode_voice_file`) and save it, optionally under another name."""
        return self.save(decode_voice_file(data, name=name), overwrite=overwrite)

    def export_to(self, name: str, path: Path) -> Path:
        """Write :meth:`export` to ``path`` atomically; returns the path."""
        path = Path(path)
        try:
            write_atomically(path, self.export(name))
        except OSError as exc:
            raise ParrotError(f"could not write the voice file {path}: {exc}") from exc
        return path

    def import_from(self, path: Path, *, name: str | None = None, overwrite: bool = False) -> Voice:
        """:meth:`import_` from a file, refusing oversized files before reading them."""
        path = Path(path)
        try:
            with path.open("rb") as fh:
                data = fh.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise InputError(f"cannot read the voice file {path}: {exc}") from exc
        return self.import_(data, name=name, overwrite=overwrite)

    def cleanup(self) -> int:
        """Remove temp files and payloads no row references (runs on open); returns how many were removed."""
        removed = 0
        with self._write() as conn:
            referenced = {row["payload_id"] for row in conn.execute("SELECT payload_id FROM voices")}
            for entry in os.scandir(self._payload_dir):
                orphan = _PAYLOAD_FILE.fullmatch(entry.name) and entry.name[:-4] not in referenced
                if entry.name.startswith(TEMP_PREFIX) or orphan:
                    with suppress(OSError):
                        os.unlink(entry.path)
                        removed += 1
        return removed
