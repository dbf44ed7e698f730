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
import logging
import os
import re
import sqlite3
import threading
import unicodedata
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import (
    CorruptVoiceError,
    InputError,
    LibraryDamagedError,
    ParrotError,
    UnknownVoiceError,
    VoiceExistsError,
)
from ..files import TEMP_PREFIX, make_private, write_atomically
from .voice import BUILTIN_KINDS, Voice
from .voicefile import (
    FORMAT_VERSION,
    MAX_FILE_BYTES,
    ArrayInfo,
    StoredPayload,
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
    "CheckReport",
    "CorruptVoiceError",
    "LibraryHealth",
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
_QUARANTINE_DIR = "quarantine"
_REPAIR_HINT = "run `parrot voices check --repair`"

log = logging.getLogger(__name__)
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


# ------------------------------------------------------------------------------------------ health


@dataclass(frozen=True)
class LibraryHealth:
    """The state of the library for ``/healthz`` and the log. ``ok`` is False while the index is unreadable
    (saved voices are then served read-only from their payload files); ``problems`` says what is wrong or what
    opening the library had to fix. Names only, never server paths."""

    ok: bool
    problems: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "problems": list(self.problems)}


@dataclass(frozen=True)
class CheckReport:
    """What :meth:`VoiceStore.check` found (``problems``) and what :meth:`VoiceStore.repair` did (``repaired``)."""

    voices: int  # saved voices that read back intact
    problems: tuple[str, ...]
    repaired: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class _Found:
    """One payload file as found on disk: readable with its metadata, readable without (older), or not at all."""

    payload_id: str
    sha256: str
    stored: StoredPayload | None
    error: str | None = None


def _user_kind(kind: str) -> str:
    """Saved voices are user voices: a file claiming to be built-in ("stock", "pretrained") is saved as "cloned"."""
    return "cloned" if kind in BUILTIN_KINDS else kind


# ------------------------------------------------------------------------------------------ store


class VoiceStore:
    """Saved voices in ``root`` (``library.sqlite3`` + ``payloads/``); safe across threads and processes.

    ``reserved`` names (e.g. the stock voices) cannot be used for saved voices, ignoring case.

    Opening never deletes what it cannot prove is garbage: with the index missing it is rebuilt from the
    payload files (each carries its voice's metadata); files that cannot be re-indexed go to ``quarantine/``.
    With the index corrupt, opening still succeeds: :meth:`health` reports the damage, saved voices are served
    read-only from their payloads, and :meth:`repair` (``parrot voices check --repair``) rebuilds the index.
    The directories are kept private (0700) and the files 0600 (voices are biometric data).
    """

    def __init__(self, root: Path, *, reserved: Iterable[str] = frozenset()) -> None:
        self.root = Path(root)
        self._db_path = self.root / _DB_NAME
        self._payload_dir = self.root / _PAYLOAD_DIR
        self._quarantine_dir = self.root / _QUARANTINE_DIR
        self._reserved = frozenset(_key(n) for n in reserved)
        self._lock = threading.RLock()
        self._damage: str | None = None  # why the index is unusable
        self._fallback: dict[str, tuple[str, VoiceRecord]] | None = None  # while damaged: key -> (payload, record)
        self._notes: list[str] = []  # what opening fixed, for health()
        try:
            self.root.parent.mkdir(parents=True, exist_ok=True)
            self.root.mkdir(mode=0o700, exist_ok=True)
            self._payload_dir.mkdir(mode=0o700, exist_ok=True)
        except OSError as exc:
            log.error("cannot create the voice library directory %s: %s", self._payload_dir, exc)
            raise ParrotError(f"cannot create the voice library directory: {exc.strerror}") from exc
        self._secure()
        try:
            if self._init_db():
                self._rebuild_index("the voice library index was missing")
            self.cleanup()
        except LibraryDamagedError as exc:
            self._mark_damaged(exc)

    @classmethod
    def for_data_dir(cls, data_dir: Path, *, reserved: Iterable[str] = frozenset()) -> VoiceStore:
        """The library of a Parrot data directory (``Settings.data_dir``): ``<data_dir>/voices``."""
        return cls(Path(data_dir) / "voices", reserved=reserved)

    # -- plumbing ---------------------------------------------------------------------------------

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A fresh connection for one call; SQLite errors become ``ParrotError`` (corruption:
        ``LibraryDamagedError``). Server paths go to the log, not into messages."""
        try:
            conn = sqlite3.connect(self._db_path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except sqlite3.Error as exc:
            log.error("cannot open the voice library %s: %s", self._db_path, exc)
            raise ParrotError(f"cannot open the voice library: {exc}") from exc
        try:
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA synchronous=FULL")  # a committed delete must never be lost after its unlink
            yield conn
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise ParrotError(f"the voice library is busy (locked for over {BUSY_TIMEOUT_S:g} s); retry") from exc
            log.error("voice library error (%s): %s", self._db_path, exc)
            raise ParrotError(f"voice library error: {exc}") from exc
        except sqlite3.DatabaseError as exc:
            if type(exc) is not sqlite3.DatabaseError:  # integrity/programming errors: bugs, not damage
                raise ParrotError(f"voice library error: {exc}") from exc
            log.error("the voice library index %s is damaged: %s", self._db_path, exc)
            damaged = LibraryDamagedError(f"the voice library index is damaged ({exc}); {_REPAIR_HINT}")
            self._mark_damaged(damaged)  # health() reports it from now on
            raise damaged from exc
        finally:
            conn.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """Thread lock + ``BEGIN IMMEDIATE`` (the cross-process write lock); commits if the block succeeds."""
        if self._damage is not None:
            raise LibraryDamagedError(f"the voice library index is damaged, so it is read-only; {_REPAIR_HINT}")
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

    def _init_db(self) -> bool:
        """Open (or create) the index; returns True if it had no voices table (new, missing or emptied)."""
        if not self._db_path.exists():  # created private, before SQLite makes its -wal and -shm from its mode
            with suppress(FileExistsError):
                os.close(os.open(self._db_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        with self._lock, self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")  # persistent; readers never block the writer
            check = conn.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise LibraryDamagedError(f"the voice library index is damaged ({check}); {_REPAIR_HINT}")
        with self._write() as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise ParrotError(f"the voice library comes from a newer Parrot (schema {version}); upgrade Parrot")
            missing = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'voices'").fetchone() is None
            conn.execute(_SCHEMA)
            if version < SCHEMA_VERSION:
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        return missing

    def _secure(self) -> None:
        """Directories 0700, files 0600; anything that was readable by others is fixed and logged."""
        fixed = [d for d in (self.root, self._payload_dir, self._quarantine_dir) if make_private(d, 0o700)]
        files = [self._db_path, *(self._db_path.with_name(_DB_NAME + s) for s in ("-wal", "-shm"))]
        with suppress(OSError):
            files += [Path(e.path) for e in os.scandir(self._payload_dir) if e.is_file()]
        fixed += [f for f in files if make_private(f, 0o600)]
        if fixed:
            log.warning("made %d voice library file(s) private (0700/0600) under %s", len(fixed), self.root)
            self._notes.append(f"made {len(fixed)} voice library file(s) private; they were readable by others")

    def _mark_damaged(self, exc: LibraryDamagedError) -> None:
        """From now on (until :meth:`repair`) serve saved voices read-only from their payload files."""
        if self._damage is None:
            log.error("%s; saved voices are served read-only from their payload files", exc)
        self._damage = str(exc)
        self._fallback = None

    def _fallback_index(self) -> dict[str, tuple[str, VoiceRecord]]:
        """The voices the payload files describe (newest version of each name), built on first use."""
        with self._lock:
            if self._fallback is None:
                entries: dict[str, tuple[str, VoiceRecord]] = {}
                for found in self._scan():
                    record = self._found_record(found)
                    if record is not None:
                        key = _key(record.voice.name)
                        if key not in entries or entries[key][1].updated_at < record.updated_at:
                            entries[key] = (found.payload_id, record)
                self._fallback = dict(sorted(entries.items()))
            return self._fallback

    def _payload_path(self, payload_id: str) -> Path:
        return self._payload_dir / f"{payload_id}.npz"

    def _place_payload(self, payload_id: str, blob: bytes) -> None:
        """Durably write a payload file (only ever called inside ``_write``, i.e. holding the write lock)."""
        try:
            write_atomically(self._payload_path(payload_id), blob, mode=0o600)
        except OSError as exc:
            log.error("could not write the voice payload %s: %s", self._payload_path(payload_id), exc)
            raise ParrotError(f"could not write the voice payload: {exc.strerror or exc}") from exc

    def _unlink_payload(self, payload_id: str) -> None:
        """Delete a payload file no committed row references (failure only leaves a harmless orphan)."""
        with suppress(OSError):
            self._payload_path(payload_id).unlink(missing_ok=True)

    def _quarantine(self, path: Path) -> bool:
        """Move a file the library cannot use (and cannot prove is garbage) into ``quarantine/``."""
        try:
            self._quarantine_dir.mkdir(mode=0o700, exist_ok=True)
            target = self._quarantine_dir / path.name
            if target.exists():
                target = self._quarantine_dir / f"{path.name}.{uuid.uuid4().hex[:8]}"
            os.replace(path, target)
        except OSError as exc:
            log.error("could not move %s into quarantine: %s", path, exc)
            return False
        log.warning("moved %s into %s", path, self._quarantine_dir)
        return True

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

    def _names(self) -> builtins.list[str]:
        if self._damage is not None:
            return [record.voice.name for _, record in self._fallback_index().values()]
        with self._connect() as conn:
            return [r["name"] for r in conn.execute("SELECT name FROM voices ORDER BY key")]

    def _unknown(self, name: str) -> UnknownVoiceError:
        names = self._names()
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
            raise self._unknown(name)
        return row

    @staticmethod
    def _record(row: sqlite3.Row, payload: dict[str, np.ndarray] | None = None) -> VoiceRecord:
        voice = Voice(
            name=row["name"],
            engine=row["engine"],
            kind=_user_kind(row["kind"]),
            payload=payload if payload is not None else {},
            gender=row["gender"],
            language=row["language"],
            description=row["description"],
            meta=json.loads(row["meta"]),
        )
        arrays = infos_from_json(row["payload_arrays"])
        return VoiceRecord(voice, row["created_at"], row["updated_at"], row["payload_sha256"], arrays)

    def _load(self, row: sqlite3.Row) -> dict[str, np.ndarray]:
        """Read, checksum, decode and check a row's payload (``FileNotFoundError`` passes through for ``get``)."""
        path = self._payload_path(row["payload_id"])
        blob = path.read_bytes()
        damaged = f"the saved voice {row['name']!r} is damaged: its payload file"
        if hashlib.sha256(blob).hexdigest() != row["payload_sha256"]:
            log.error("payload %s of voice %r does not match its checksum", path, row["name"])
            raise CorruptVoiceError(f"{damaged} does not match its checksum; {_REPAIR_HINT}")
        try:
            arrays = decode_payload(blob, row["engine"]).arrays
        except CorruptVoiceError as exc:
            log.error("payload %s of voice %r is unreadable: %s", path, row["name"], exc)
            raise CorruptVoiceError(f"{damaged} is unreadable ({exc}); {_REPAIR_HINT}") from exc
        if array_infos(arrays) != infos_from_json(row["payload_arrays"]):
            raise CorruptVoiceError(f"{damaged} does not hold the arrays the library recorded; {_REPAIR_HINT}")
        return arrays

    def _scan(self) -> Iterator[_Found]:
        """Every payload file, read and checked (the slow path: rebuilding, checking, serving a damaged index)."""
        with suppress(FileNotFoundError):
            for entry in sorted(os.scandir(self._payload_dir), key=lambda e: e.name):
                if not _PAYLOAD_FILE.fullmatch(entry.name):
                    continue
                payload_id = entry.name[:-4]
                try:
                    blob = Path(entry.path).read_bytes()
                    yield _Found(payload_id, hashlib.sha256(blob).hexdigest(), decode_payload(blob))
                except (OSError, CorruptVoiceError) as exc:
                    yield _Found(payload_id, "", None, str(exc))

    @staticmethod
    def _found_record(found: _Found) -> VoiceRecord | None:
        """The record a payload file describes (None: unreadable, or written before payloads carried metadata)."""
        stored = found.stored
        if stored is None or stored.voice is None or stored.created_at is None or stored.updated_at is None:
            return None
        voice = replace(stored.voice, kind=_user_kind(stored.voice.kind), payload={})
        return VoiceRecord(voice, stored.created_at, stored.updated_at, found.sha256, array_infos(stored.arrays))

    # -- public API -------------------------------------------------------------------------------

    def health(self) -> LibraryHealth:
        """Whether the index is usable, and what is wrong or was fixed on opening (for ``/healthz``)."""
        problems = ([self._damage] if self._damage else []) + self._notes
        return LibraryHealth(self._damage is None, tuple(problems))

    def save(self, voice: Voice, *, overwrite: bool = False) -> Voice:
        """Store ``voice`` under its (validated, NFC) name and return it as stored.

        A name that exists (ignoring case) raises ``VoiceExistsError`` unless ``overwrite``; overwriting keeps
        ``created_at`` and takes the new spelling of the name. The payload goes to a new file, the row is
        committed, and only then is the replaced payload file deleted. Saved voices are user voices: a
        ``kind`` of a built-in voice ("stock", "pretrained") is saved as "cloned".
        """
        voice = replace(voice, name=self._check_new_name(voice.name), kind=_user_kind(voice.kind))
        check_arrays(voice.payload, voice.engine)  # before taking the write lock
        return self._put(voice, replaces=None, overwrite=overwrite)

    def _put(self, voice: Voice, *, replaces: str | None, overwrite: bool) -> Voice:
        """Write ``voice``'s payload file, then its row, in one transaction; ``replaces`` is the key of the row it
        takes over (a rename). Replaced payload files are deleted only after the commit."""
        key = _key(voice.name)
        payload_id = uuid.uuid4().hex
        try:
            with self._write() as conn:
                row = conn.execute("SELECT * FROM voices WHERE key = ?", (key,)).fetchone()
                if replaces is None:
                    old = row
                    if row is not None and not overwrite:
                        raise VoiceExistsError(
                            f"a saved voice named {row['name']!r} already exists; overwrite it or choose another name"
                        )
                else:
                    old = self._row(conn, replaces)
                    if row is not None and row["key"] != old["key"]:
                        raise VoiceExistsError(
                            f"cannot rename {old['name']!r} to {voice.name!r}: a saved voice named {row['name']!r} "
                            "already exists (delete it first or choose another name)"
                        )
                now = _now()
                created = old["created_at"] if old is not None else now
                blob = encode_payload(voice, created_at=created, updated_at=now)
                stored = decode_payload(blob)
                self._place_payload(payload_id, blob)
                stale = {r["payload_id"] for r in (row, old) if r is not None}
                conn.execute("DELETE FROM voices WHERE key IN (?, ?)", (key, old["key"] if old is not None else key))
                infos = array_infos(stored.arrays)
                self._insert(conn, voice, payload_id, hashlib.sha256(blob).hexdigest(), infos, created, now)
        except BaseException:
            self._discard_unreferenced(payload_id)
            raise
        for stale_id in stale:
            self._unlink_payload(stale_id)
        assert stored.voice is not None
        return stored.voice

    @staticmethod
    def _insert(
        conn: sqlite3.Connection,
        voice: Voice,
        payload_id: str,
        sha256: str,
        infos: dict[str, ArrayInfo],
        created_at: str,
        updated_at: str,
    ) -> None:
        columns = {
            "key": _key(voice.name),
            "name": voice.name,
            "payload_id": payload_id,
            "payload_sha256": sha256,
            "payload_arrays": infos_json(infos),
            **voice_fields(voice),
            "created_at": created_at,
            "updated_at": updated_at,
        }
        names = ", ".join(columns)
        conn.execute(f"INSERT INTO voices ({names}) VALUES ({', '.join('?' * len(columns))})", tuple(columns.values()))

    def get(self, name: str) -> Voice:
        """The saved voice ``name`` (any case) with its payload; ``UnknownVoiceError`` lists similar names."""
        if self._damage is not None:
            return self._get_fallback(name)
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
        log.error("the payload file %s of voice %r is missing", self._payload_path(row["payload_id"]), row["name"])
        raise CorruptVoiceError(
            f"the saved voice {row['name']!r} is damaged: its payload file is missing; delete the voice and save "
            f"it again ({_REPAIR_HINT})"
        )

    def _get_fallback(self, name: str) -> Voice:
        entry = self._fallback_index().get(_lookup_key(name))
        if entry is None:
            raise self._unknown(name)
        payload_id, record = entry
        try:
            stored = decode_payload(self._payload_path(payload_id).read_bytes())
        except (OSError, CorruptVoiceError) as exc:
            log.error(
                "payload %s of voice %r is unreadable: %s", self._payload_path(payload_id), record.voice.name, exc
            )
            raise CorruptVoiceError(f"the saved voice {record.voice.name!r} is damaged; {_REPAIR_HINT}") from exc
        return replace(record.voice, payload=stored.arrays)

    def exists(self, name: str) -> bool:
        """Whether a voice with this name (ignoring case) is saved."""
        if not isinstance(name, str):
            return False
        if self._damage is not None:
            return _key(name) in self._fallback_index()
        with self._connect() as conn:
            return conn.execute("SELECT 1 FROM voices WHERE key = ?", (_key(name),)).fetchone() is not None

    def records(self) -> builtins.list[VoiceRecord]:
        """Metadata of every saved voice (timestamps, checksum, array shapes), sorted by name; no payloads read."""
        if self._damage is not None:
            return [record for _, record in self._fallback_index().values()]
        with self._connect() as conn:
            return [self._record(row) for row in conn.execute("SELECT * FROM voices ORDER BY key")]

    def list(self) -> builtins.list[Voice]:
        """Every saved voice sorted by name, **with an empty payload** (cheap); use :meth:`get` for the arrays."""
        return [record.voice for record in self.records()]

    def rename(self, old: str, new: str) -> Voice:
        """Rename a saved voice (a change of case only is allowed); returns it with an empty payload.

        The payload file is rewritten too (it carries the name, so the index can be rebuilt from it)."""
        new_name = self._check_new_name(new)
        voice = self.get(old)
        return replace(self._put(replace(voice, name=new_name), replaces=old, overwrite=False), payload={})

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
        """Validate a voice file (see :func:`decode_voice_file`) and save it, optionally under another name.
        An imported voice is always a user voice, whatever ``kind`` the file claims."""
        return self.save(decode_voice_file(data, name=name), overwrite=overwrite)

    def export_to(self, name: str, path: Path) -> Path:
        """Write :meth:`export` to ``path`` atomically; returns the path."""
        path = Path(path)
        try:
            write_atomically(path, self.export(name), mode=0o600)
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
        """Tidy ``payloads/`` (runs on open); returns how many files were removed or quarantined.

        Temp files are deleted (a crashed write). A payload no row references is deleted only when it is proven
        garbage: it names a voice whose row is newer (it was replaced). Any other unreferenced payload (a voice
        the index does not know) goes to ``quarantine/``, never deleted.
        """
        removed = 0
        with self._write() as conn:
            rows = {r["payload_id"]: r for r in conn.execute("SELECT payload_id, key, updated_at FROM voices")}
            newest = {r["key"]: r["updated_at"] for r in rows.values()}
            for entry in os.scandir(self._payload_dir):
                if entry.name.startswith(TEMP_PREFIX):
                    with suppress(OSError):
                        os.unlink(entry.path)
                        removed += 1
                elif _PAYLOAD_FILE.fullmatch(entry.name) and entry.name[:-4] not in rows:
                    removed += self._tidy_orphan(Path(entry.path), newest)
        return removed

    def _tidy_orphan(self, path: Path, newest: dict[str, str]) -> int:
        try:
            stored = decode_payload(path.read_bytes())
        except (OSError, CorruptVoiceError):
            stored = None
        voice = stored.voice if stored is not None else None
        if voice is not None and stored is not None and newest.get(_key(voice.name), "") >= (stored.updated_at or ""):
            with suppress(OSError):
                path.unlink()
                return 1
            return 0
        if self._quarantine(path):
            self._notes.append(f"moved payload {path.stem} (a voice the index does not know) into quarantine")
            return 1
        return 0

    # -- rebuilding, checking, repairing -----------------------------------------------------------

    def _rebuild_index(self, reason: str) -> builtins.list[str]:
        """Fill an empty index from the payload files (newest version of each name wins); payloads that cannot
        be indexed (unreadable, without metadata, an older version, a reserved name) go to quarantine."""
        keep: dict[str, tuple[_Found, VoiceRecord]] = {}
        rejected: builtins.list[str] = []
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM voices LIMIT 1").fetchone() is not None:
                return []  # not empty (another process rebuilt it first)
            for found in self._scan():
                record = self._found_record(found)
                key = _key(record.voice.name) if record is not None else ""
                if record is None or key in self._reserved:
                    rejected.append(found.payload_id)
                    continue
                if key in keep and keep[key][1].updated_at >= record.updated_at:
                    rejected.append(found.payload_id)
                    continue
                if key in keep:
                    rejected.append(keep[key][0].payload_id)
                keep[key] = (found, record)
            for found, record in keep.values():
                voice = record.voice
                self._insert(
                    conn, voice, found.payload_id, found.sha256, record.arrays, record.created_at, record.updated_at
                )
        moved = sum(self._quarantine(self._payload_path(payload_id)) for payload_id in rejected)
        if not keep and not rejected:
            return []
        actions = [f"{reason}: rebuilt it from the payload files ({len(keep)} voice(s))"]
        if moved:
            actions.append(f"moved {moved} payload file(s) that could not be indexed into quarantine")
        for action in actions:
            log.warning("voice library %s: %s", self.root, action)
        self._notes += actions
        return actions

    def check(self) -> CheckReport:
        """Read everything back: the index's integrity, every voice's payload (checksum, arrays, the engine's
        schema), payload files no voice references, leftovers and permissions. Changes nothing."""
        problems: builtins.list[str] = []
        intact = 0
        if self._damage is None:
            try:
                with self._connect() as conn:
                    check = conn.execute("PRAGMA quick_check").fetchone()[0]
                    rows = builtins.list(conn.execute("SELECT * FROM voices ORDER BY key"))
                if check != "ok":
                    problems.append(f"the voice library index is damaged ({check})")
            except LibraryDamagedError as exc:
                problems.append(str(exc))
                rows = []
        else:
            problems.append(self._damage)
            rows = []
        for row in rows:
            problem = self._row_problem(row)
            if problem is None:
                intact += 1
            else:
                problems.append(f"voice {row['name']!r}: {problem}")
        if self._damage is not None:
            intact = len(self._fallback_index())
        referenced = {row["payload_id"] for row in rows}
        with suppress(FileNotFoundError):
            for entry in sorted(os.scandir(self._payload_dir), key=lambda e: e.name):
                if entry.name.startswith(TEMP_PREFIX):
                    problems.append(f"a leftover temp file {entry.name} (from an interrupted write)")
                elif _PAYLOAD_FILE.fullmatch(entry.name) and rows and entry.name[:-4] not in referenced:
                    problems.append(f"payload {entry.name[:-4]} belongs to no voice in the index")
        if self._not_private():
            problems.append(f"{len(self._not_private())} voice library file(s) are readable by other users")
        return CheckReport(intact, tuple(problems))

    def _row_problem(self, row: sqlite3.Row) -> str | None:
        try:
            self._load(row)
            stored = decode_payload(self._payload_path(row["payload_id"]).read_bytes())
        except FileNotFoundError:
            return "its payload file is missing"
        except (OSError, CorruptVoiceError) as exc:
            return str(exc).replace(f"; {_REPAIR_HINT}", "")
        if stored.voice is None:
            return "its payload file predates payload metadata (the index could not be rebuilt from it)"
        return None

    def _not_private(self) -> builtins.list[Path]:
        paths = [self.root, self._payload_dir, self._quarantine_dir, self._db_path]
        with suppress(OSError):
            paths += [Path(e.path) for e in os.scandir(self._payload_dir)]
        out = []
        for path in paths:
            with suppress(OSError):
                if path.stat().st_mode & 0o077:
                    out.append(path)
        return out

    def repair(self) -> CheckReport:
        """Fix what :meth:`check` finds without destroying anything: a damaged index is moved into quarantine
        and rebuilt from the payload files; voices whose payload is missing or unreadable are taken out of the
        index (their row saved as JSON and their payload file moved into quarantine); payloads written before
        payloads carried metadata are rewritten with it; stray payloads go to quarantine; permissions are
        fixed. Returns the check after repairing, with what was done in ``repaired``."""
        actions: builtins.list[str] = []
        with self._lock:
            if self._damage is not None or not self._index_ok():
                actions += self._replace_damaged_index()
            else:
                actions += self._repair_rows()
                removed = self.cleanup()
                if removed:
                    actions.append(f"tidied {removed} payload file(s) no voice references (quarantined or replaced)")
            before = len(self._notes)
            self._secure()
            actions += self._notes[before:]
        after = self.check()
        return CheckReport(after.voices, after.problems, tuple(actions))

    def _index_ok(self) -> bool:
        try:
            with self._connect() as conn:
                return conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"
        except LibraryDamagedError:
            return False

    def _replace_damaged_index(self) -> builtins.list[str]:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        moved = []
        for suffix in ("", "-wal", "-shm"):
            path = self._db_path.with_name(_DB_NAME + suffix)
            if path.exists():
                self._quarantine_dir.mkdir(mode=0o700, exist_ok=True)
                os.replace(path, self._quarantine_dir / f"{_DB_NAME}{suffix}.{stamp}")
                moved.append(path.name)
        self._damage, self._fallback = None, None
        try:
            self._init_db()
            actions = [f"moved the damaged index ({', '.join(moved)}) into quarantine"]
            return actions + self._rebuild_index("the voice library index was damaged")
        except LibraryDamagedError as exc:
            self._mark_damaged(exc)
            raise

    def _repair_rows(self) -> builtins.list[str]:
        actions = []
        with self._connect() as conn:
            rows = builtins.list(conn.execute("SELECT * FROM voices ORDER BY key"))
        for row in rows:
            problem = self._row_problem(row)
            if problem is None:
                continue
            if problem.startswith("its payload file predates"):
                voice = self.get(row["name"])
                self._put(voice, replaces=row["name"], overwrite=True)
                actions.append(f"voice {row['name']!r}: rewrote its payload file with its metadata")
                continue
            self._quarantine_dir.mkdir(mode=0o700, exist_ok=True)
            record = dict(zip(row.keys(), tuple(row), strict=True))
            write_atomically(
                self._quarantine_dir / f"{row['payload_id']}.row.json", json.dumps(record).encode(), mode=0o600
            )
            with self._write() as conn:
                conn.execute("DELETE FROM voices WHERE key = ? AND payload_id = ?", (row["key"], row["payload_id"]))
            if self._payload_path(row["payload_id"]).exists():
                self._quarantine(self._payload_path(row["payload_id"]))
            actions.append(f"voice {row['name']!r}: {problem}; took it out of the library (kept in quarantine)")
        return actions
