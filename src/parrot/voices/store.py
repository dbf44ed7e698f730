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

The shareable voice file (:meth:`VoiceStore.export`, :func:`encode_voice_file`) is a zip holding
``voice.json`` (metadata plus ``"format": "parrot-voice"`` and ``"version": 1``) and one
``arrays/<key>.npy`` member per payload array. Imports are validated strictly (:func:`decode_voice_file`).
"""

from __future__ import annotations

import builtins
import difflib
import hashlib
import io
import json
import math
import os
import re
import sqlite3
import struct
import tempfile
import threading
import unicodedata
import uuid
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError, ParrotError, UnknownVoiceError
from .voice import Voice

__all__ = [
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

FORMAT_NAME = "parrot-voice"
FORMAT_VERSION = 1
SCHEMA_VERSION = 1

MAX_NAME_CHARS = 64
MAX_FILE_BYTES = 50 * 1024 * 1024  # a shared voice file, compressed or not
MAX_PAYLOAD_BYTES = 48 * 1024 * 1024  # sum of array sizes, so every saved voice fits an export file
MAX_ARRAYS = 64
MAX_ARRAY_DIMS = 32
MAX_JSON_BYTES = 1024 * 1024
MAX_FIELD_CHARS = 64  # engine, kind, gender, language
MAX_DESCRIPTION_CHARS = 10_000
BUSY_TIMEOUT_S = 30.0

_DB_NAME = "library.sqlite3"
_PAYLOAD_DIR = "payloads"
_TMP_PREFIX = ".tmp-"
_PAYLOAD_FILE = re.compile(r"[0-9a-f]{32}\.npz")
_ARRAY_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_VOICE_JSON = "voice.json"
_ARRAYS_PREFIX = "arrays/"
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed member timestamps: exporting twice gives identical bytes
_NUMERIC_KINDS = "biufc"  # bool, int, uint, float, complex
_NAME_PUNCT = "_-. "
_NAME_RULES = (
    f"voice names are 1-{MAX_NAME_CHARS} characters: letters (any script), digits, '_', '-', '.' and spaces "
    "inside the name; they cannot start or end with a space or '.', or contain '..'"
)

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


class CorruptVoiceError(ParrotError):
    """A saved voice's payload file is missing or does not match its checksum."""

    kind = "voice_corrupt"


@dataclass(frozen=True)
class ArrayInfo:
    """Shape and dtype (numpy ``dtype.str``, e.g. ``"<f4"``) of one payload array."""

    shape: tuple[int, ...]
    dtype: str


@dataclass(frozen=True)
class VoiceRecord:
    """Everything the library knows about a voice without loading its payload (``voice.payload`` is empty)."""

    voice: Voice
    created_at: str
    updated_at: str
    sha256: str
    arrays: dict[str, ArrayInfo]


# --------------------------------------------------------------------------------------------- names


def validate_name(name: object) -> str:
    """Return ``name`` NFC-normalised if it is a valid voice name; raise ``InputError`` saying what is allowed."""
    if not isinstance(name, str):
        raise InputError(f"a voice name must be a string, not {type(name).__name__}; {_NAME_RULES}")
    name = unicodedata.normalize("NFC", name)
    if not name:
        raise InputError(f"the voice name is empty; {_NAME_RULES}")
    if len(name) > MAX_NAME_CHARS:
        raise InputError(f"the voice name is {len(name)} characters long; {_NAME_RULES}")
    for ch in name:
        if not _name_char_ok(ch):
            raise InputError(f"the voice name {name!r} contains {ch!r}, which is not allowed; {_NAME_RULES}")
    if name[0] in " ." or name[-1] in " .":
        raise InputError(f"the voice name {name!r} starts or ends with a space or '.'; {_NAME_RULES}")
    if unicodedata.category(name[0]).startswith("M"):
        raise InputError(f"the voice name {name!r} starts with a combining mark; {_NAME_RULES}")
    if ".." in name:
        raise InputError(f"the voice name {name!r} contains '..'; {_NAME_RULES}")
    return name


def _name_char_ok(ch: str) -> bool:
    category = unicodedata.category(ch)
    return category[0] in "LM" or category == "Nd" or ch in _NAME_PUNCT


def _key(name: str) -> str:
    """The case-insensitive uniqueness key of a name."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", name).casefold())


def _lookup_key(name: object) -> str:
    if not isinstance(name, str):
        raise InputError(f"a voice name must be a string, not {type(name).__name__}")
    return _key(name)


# ------------------------------------------------------------------------------------ field checks


def _check_text(value: object, field: str) -> str:
    """A short required identifier-like field (engine, kind, gender, language): printable, 1-64 characters."""
    if not isinstance(value, str):
        raise InputError(f"voice field {field!r} must be a string, not {type(value).__name__}")
    if not value or len(value) > MAX_FIELD_CHARS or any(unicodedata.category(c)[0] == "C" for c in value):
        raise InputError(f"voice field {field!r} must be 1-{MAX_FIELD_CHARS} printable characters, got {value!r}")
    return value


def _check_optional(value: object, field: str) -> str | None:
    return None if value is None else _check_text(value, field)


def _check_description(value: object) -> str:
    if not isinstance(value, str):
        raise InputError(f"voice field 'description' must be a string, not {type(value).__name__}")
    if len(value) > MAX_DESCRIPTION_CHARS:
        raise InputError(f"the voice description is longer than {MAX_DESCRIPTION_CHARS} characters")
    return value


def _voice_fields(voice: Voice) -> dict[str, Any]:
    """The validated metadata columns of a voice (``meta`` as canonical JSON text)."""
    return {
        "engine": _check_text(voice.engine, "engine"),
        "kind": _check_text(voice.kind, "kind"),
        "gender": _check_optional(voice.gender, "gender"),
        "language": _check_optional(voice.language, "language"),
        "description": _check_description(voice.description),
        "meta": _meta_json(voice.meta),
    }


def _meta_json(meta: object) -> str:
    if not isinstance(meta, Mapping):
        raise InputError(f"voice meta must be a JSON object (dict), not {type(meta).__name__}")
    try:
        text = json.dumps(dict(meta), ensure_ascii=False, allow_nan=False, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise InputError(f"voice meta must be JSON-serialisable (strings, numbers, lists, dicts): {exc}") from exc
    if len(text.encode()) > MAX_JSON_BYTES:
        raise InputError(f"voice meta is larger than {MAX_JSON_BYTES} bytes as JSON")
    return text


def _check_arrays(payload: object, error: type[ParrotError] = InputError) -> dict[str, np.ndarray]:
    """Validate a payload: 1-64 numeric arrays under identifier keys, at most ``MAX_PAYLOAD_BYTES`` in total."""
    if not isinstance(payload, Mapping) or not payload:
        raise error("a saved voice needs a non-empty payload (a dict of numeric numpy arrays)")
    if len(payload) > MAX_ARRAYS:
        raise error(f"a voice payload can hold at most {MAX_ARRAYS} arrays, got {len(payload)}")
    arrays: dict[str, np.ndarray] = {}
    total = 0
    for key, value in payload.items():
        if not isinstance(key, str) or not _ARRAY_KEY.fullmatch(key):
            raise error(f"payload key {key!r} is not allowed (use letters, digits and '_', at most 64 characters)")
        if not isinstance(value, np.ndarray) or value.dtype.kind not in _NUMERIC_KINDS or value.dtype.hasobject:
            kind = value.dtype if isinstance(value, np.ndarray) else type(value).__name__
            raise error(f"payload array {key!r} must be a numeric numpy array (bool/int/float/complex), not {kind}")
        total += value.nbytes
        if total > MAX_PAYLOAD_BYTES:
            raise error(f"the voice payload is larger than {MAX_PAYLOAD_BYTES // (1024 * 1024)} MB")
        arrays[key] = value if value.flags.c_contiguous else value.copy(order="C")
    return arrays


def _array_infos(arrays: Mapping[str, np.ndarray]) -> dict[str, ArrayInfo]:
    return {key: ArrayInfo(tuple(int(n) for n in a.shape), a.dtype.str) for key, a in arrays.items()}


def _infos_json(infos: Mapping[str, ArrayInfo]) -> str:
    return json.dumps({k: {"shape": list(i.shape), "dtype": i.dtype} for k, i in infos.items()}, sort_keys=True)


def _infos_from_json(text: str) -> dict[str, ArrayInfo]:
    return {k: ArrayInfo(tuple(v["shape"]), v["dtype"]) for k, v in json.loads(text).items()}


# --------------------------------------------------------------------------- zip + npy (de)coding


def _zip_bytes(members: Iterable[tuple[str, bytes, int]]) -> bytes:
    """A zip of ``(member name, data, compress type)`` with fixed timestamps."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for member, data, compress in members:
            info = zipfile.ZipInfo(member, date_time=_ZIP_EPOCH)
            info.compress_type = compress
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    return buf.getvalue()


def _npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, allow_pickle=False)
    return buf.getvalue()


def _encode_payload(arrays: Mapping[str, np.ndarray]) -> bytes:
    """The payload file: an ``.npz`` (``np.load`` reads it) written without pickle."""
    return _zip_bytes((f"{key}.npy", _npy_bytes(a), zipfile.ZIP_STORED) for key, a in arrays.items())


def _precheck_zip(data: bytes, error: type[ParrotError]) -> None:
    """Reject files whose central directory is too big before ``zipfile`` parses it into memory."""
    eocd = data.rfind(b"PK\x05\x06", max(0, len(data) - 65_557))
    if eocd < 0 or len(data) - eocd < 22:
        raise error("not a Parrot voice file (not a zip archive)")
    entries, directory_size = struct.unpack_from("<HI", data, eocd + 10)
    if entries > MAX_ARRAYS + 1 or directory_size > 64 * 1024:
        raise error(f"the voice file lists {entries} entries; a voice file has at most {MAX_ARRAYS + 1}")


def _open_zip(
    data: bytes, error: type[ParrotError], member_ok: Callable[[str], object]
) -> tuple[zipfile.ZipFile, dict[str, zipfile.ZipInfo]]:
    """Open ``data`` as a zip and check every member: allowed name, no duplicates, no encryption, sane sizes."""
    _precheck_zip(data, error)
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as exc:
        raise error(f"not a Parrot voice file (unreadable zip: {exc})") from exc
    members: dict[str, zipfile.ZipInfo] = {}
    total = 0
    for info in zf.infolist():
        name = info.filename
        if not member_ok(name):
            raise error(f"unexpected entry {name!r} in the voice file")
        if name in members:
            raise error(f"duplicate entry {name!r} in the voice file")
        if info.flag_bits & 0x1:
            raise error(f"entry {name!r} in the voice file is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise error(f"entry {name!r} uses an unsupported compression method ({info.compress_type})")
        total += info.file_size
        if total > MAX_FILE_BYTES:
            raise error(f"the voice file unpacks to more than {MAX_FILE_BYTES // (1024 * 1024)} MB")
        members[name] = info
    return zf, members


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int, error: type[ParrotError]) -> bytes:
    """Read one member, never more than ``limit`` bytes (zipfile also stops at the declared size + checks CRC)."""
    if info.file_size > limit:
        raise error(f"entry {info.filename!r} is larger than {limit} bytes")
    try:
        with zf.open(info) as fp:
            data = fp.read(limit + 1)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError, RuntimeError) as exc:
        raise error(f"entry {info.filename!r} is corrupt: {exc}") from exc
    if len(data) != info.file_size:
        raise error(f"entry {info.filename!r} is corrupt (size does not match the zip directory)")
    return data


def _load_npy(raw: bytes, member: str, error: type[ParrotError]) -> np.ndarray:
    """Parse one ``.npy`` without pickle, checking that the header's shape matches the data actually present."""
    fp = io.BytesIO(raw)
    try:
        version = np.lib.format.read_magic(fp)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except (ValueError, OSError, EOFError, TypeError, SyntaxError) as exc:
        raise error(f"entry {member!r} is not a valid numpy array: {exc}") from exc
    if dtype.hasobject or dtype.kind not in _NUMERIC_KINDS:
        raise error(f"entry {member!r} holds {dtype} data; only numeric arrays are allowed (no objects or pickles)")
    if len(shape) > MAX_ARRAY_DIMS:
        raise error(f"entry {member!r} has {len(shape)} dimensions")
    count = math.prod(shape)
    if len(raw) - fp.tell() != count * dtype.itemsize:
        raise error(f"entry {member!r} is corrupt: its header declares shape {shape} but the data size differs")
    if count == 0:
        return np.empty(shape, dtype=dtype)
    flat = np.frombuffer(raw, dtype=dtype, count=count, offset=fp.tell())
    return flat.reshape(shape, order="F" if fortran else "C").copy(order="C")


def _array_member(prefix: str) -> re.Pattern[str]:
    """Zip member names allowed for arrays: ``<prefix><key>.npy``."""
    return re.compile(re.escape(prefix) + r"([A-Za-z_][A-Za-z0-9_]{0,63})\.npy")


def _arrays_from_zip(
    zf: zipfile.ZipFile, members: Mapping[str, zipfile.ZipInfo], pattern: re.Pattern[str], error: type[ParrotError]
) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {}
    for name, info in members.items():
        match = pattern.fullmatch(name)
        if match:
            raw = _read_member(zf, info, MAX_PAYLOAD_BYTES + 64 * 1024, error)
            arrays[match.group(1)] = _load_npy(raw, name, error)
    return _check_arrays(arrays, error)


def _decode_payload(data: bytes, error: type[ParrotError]) -> dict[str, np.ndarray]:
    """Read a payload ``.npz`` written by :func:`_encode_payload`."""
    pattern = _array_member("")
    zf, members = _open_zip(data, error, pattern.fullmatch)
    return _arrays_from_zip(zf, members, pattern, error)


def encode_voice_file(voice: Voice) -> bytes:
    """The shareable voice file for ``voice`` (see the module docstring for the format)."""
    arrays = _check_arrays(voice.payload)
    fields = _voice_fields(voice)
    doc = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "name": validate_name(voice.name),
        **fields,
        "meta": json.loads(fields["meta"]),
        "arrays": json.loads(_infos_json(_array_infos(arrays))),
    }
    text = json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True).encode()
    members = [(_VOICE_JSON, text, zipfile.ZIP_DEFLATED)]
    members += [(f"{_ARRAYS_PREFIX}{key}.npy", _npy_bytes(a), zipfile.ZIP_STORED) for key, a in arrays.items()]
    return _zip_bytes(members)


def decode_voice_file(data: bytes, *, name: str | None = None) -> Voice:
    """Validate a shareable voice file and return its ``Voice``; anything wrong raises ``InputError``.

    Checks: total size, zip directory size, member names (only ``voice.json`` and ``arrays/<key>.npy``),
    duplicates, encryption, declared and actual unpacked sizes (zip bombs), format name and version, required
    fields and their types, numeric non-object arrays (never unpickled) matching ``voice.json``, and the name.
    ``name`` replaces the name stored in the file (it must be valid too).
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InputError(f"a voice file must be bytes, not {type(data).__name__}")
    data = bytes(data)
    if len(data) > MAX_FILE_BYTES:
        raise InputError(f"the voice file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    pattern = _array_member(_ARRAYS_PREFIX)
    zf, members = _open_zip(data, InputError, lambda member: member == _VOICE_JSON or pattern.fullmatch(member))
    if _VOICE_JSON not in members:
        raise InputError(f"not a Parrot voice file ({_VOICE_JSON} is missing)")
    doc = _parse_voice_json(_read_member(zf, members[_VOICE_JSON], MAX_JSON_BYTES * 2, InputError))
    voice = Voice(
        name=validate_name(name if name is not None else doc.get("name")),
        engine=_check_text(doc.get("engine"), "engine"),
        kind=_check_text(doc.get("kind"), "kind"),
        payload={},
        gender=_check_optional(doc.get("gender"), "gender"),
        language=_check_optional(doc.get("language"), "language"),
        description=_check_description(doc.get("description", "")),
        meta=json.loads(_meta_json(doc.get("meta", {}))),
    )
    arrays = _arrays_from_zip(zf, members, pattern, InputError)
    _check_declared(doc["arrays"], arrays)
    return replace(voice, payload=arrays)


def _check_declared(declared: object, arrays: Mapping[str, np.ndarray]) -> None:
    """The arrays a voice file contains must be exactly those its ``voice.json`` describes."""
    if not isinstance(declared, dict) or set(declared) != set(arrays):
        raise InputError(f"the voice file's {_VOICE_JSON} 'arrays' does not match the arrays it contains")
    for key, info in _array_infos(arrays).items():
        spec = declared[key]
        if not isinstance(spec, dict) or spec.get("shape") != list(info.shape) or spec.get("dtype") != info.dtype:
            raise InputError(f"the voice file's array {key!r} does not match its description in {_VOICE_JSON}")


def _parse_voice_json(raw: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise InputError(f"the voice file's {_VOICE_JSON} is not valid UTF-8 JSON: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT_NAME:
        raise InputError(f'not a Parrot voice file ({_VOICE_JSON} lacks "format": "{FORMAT_NAME}")')
    version = doc.get("version")
    if version != FORMAT_VERSION:
        raise InputError(
            f"unsupported voice file version {version!r}; this Parrot reads version {FORMAT_VERSION}"
            + (" (the file comes from a newer Parrot: upgrade to import it)" if isinstance(version, int) else "")
        )
    missing = [f for f in ("engine", "kind", "arrays") if f not in doc]
    if missing:
        raise InputError(f"the voice file's {_VOICE_JSON} is missing required field(s): {', '.join(missing)}")
    return doc


# ------------------------------------------------------------------------------------ file helpers


def _fsync_dir(directory: Path) -> None:
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


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a fsynced temp file in the same directory and ``os.replace``."""
    fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, suffix=path.suffix, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


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
            _atomic_write(self._payload_path(payload_id), blob)
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
            raise InputError(f"{name!r} is the name of a built-in voice; choose another name for a saved voice")
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
        arrays = _infos_from_json(row["payload_arrays"])
        return VoiceRecord(voice, row["created_at"], row["updated_at"], row["payload_sha256"], arrays)

    def _load(self, row: sqlite3.Row) -> dict[str, np.ndarray]:
        """Read, checksum and decode a row's payload (``FileNotFoundError`` passes through for ``get`` to retry)."""
        path = self._payload_path(row["payload_id"])
        blob = path.read_bytes()
        damaged = f"the saved voice {row['name']!r} is damaged: its payload file {path}"
        if hashlib.sha256(blob).hexdigest() != row["payload_sha256"]:
            raise CorruptVoiceError(f"{damaged} does not match its checksum; delete the voice and save it again")
        arrays = _decode_payload(blob, CorruptVoiceError)
        if _array_infos(arrays) != _infos_from_json(row["payload_arrays"]):
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
        fields = _voice_fields(voice)
        arrays = _check_arrays(voice.payload)
        blob = _encode_payload(arrays)
        columns = {
            "key": _key(name),
            "name": name,
            "payload_id": uuid.uuid4().hex,
            "payload_sha256": hashlib.sha256(blob).hexdigest(),
            "payload_arrays": _infos_json(_array_infos(arrays)),
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
            raise InputError(f"a saved voice named {row['name']!r} already exists; overwrite it or choose another name")
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
                    raise InputError(
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
            _atomic_write(path, self.export(name))
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
                if entry.name.startswith(_TMP_PREFIX) or orphan:
                    with suppress(OSError):
                        os.unlink(entry.path)
                        removed += 1
        return removed
