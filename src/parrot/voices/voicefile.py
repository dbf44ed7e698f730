"""The ``.voice`` file codec: the shareable voice file and the library's payload files, with their limits.

The shareable voice file (:func:`encode_voice_file`) is a zip holding ``voice.json`` (metadata plus
``"format": "parrot-voice"`` and ``"version": 1``) and one ``arrays/<key>.npy`` member per payload array.
A library payload file (:func:`encode_payload`) is an ``.npz`` (``np.load`` reads it) written without pickle,
with the same ``voice.json`` (plus timestamps) so the library's index can be rebuilt from its payloads.
Everything read is validated strictly (:func:`decode_voice_file`, :func:`decode_payload`): zip structure and
sizes (zip bombs), member names, numeric non-object arrays (never unpickled) holding what the engine reads
(:mod:`.schema`), and every metadata field.
"""

from __future__ import annotations

import io
import json
import math
import re
import struct
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..errors import CorruptVoiceError, InputError, ParrotError
from .schema import check_payload
from .voice import Voice

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "MAX_ARRAYS",
    "MAX_FILE_BYTES",
    "MAX_PAYLOAD_BYTES",
    "ArrayInfo",
    "StoredPayload",
    "array_infos",
    "check_arrays",
    "decode_payload",
    "decode_voice_file",
    "encode_payload",
    "encode_voice_file",
    "infos_from_json",
    "infos_json",
    "validate_name",
    "voice_fields",
]

FORMAT_NAME = "parrot-voice"
FORMAT_VERSION = 1

MAX_NAME_CHARS = 64
MAX_FILE_BYTES = 50 * 1024 * 1024  # a shared voice file, compressed or not
MAX_PAYLOAD_BYTES = 48 * 1024 * 1024  # sum of array sizes, so every saved voice fits an export file
MAX_ARRAYS = 64
MAX_ARRAY_DIMS = 32
MAX_JSON_BYTES = 1024 * 1024
MAX_FIELD_CHARS = 64  # engine, kind, gender, language
MAX_DESCRIPTION_CHARS = 10_000

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


@dataclass(frozen=True)
class ArrayInfo:
    """Shape and dtype (numpy ``dtype.str``, e.g. ``"<f4"``) of one payload array."""

    shape: tuple[int, ...]
    dtype: str


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


def voice_fields(voice: Voice) -> dict[str, Any]:
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


def check_arrays(payload: object, engine: str, error: type[ParrotError] = InputError) -> dict[str, np.ndarray]:
    """A well-formed payload (:func:`_check_form`) that holds what ``engine`` reads (:mod:`.schema`)."""
    arrays = _check_form(payload, error)
    check_payload(engine, arrays, error)
    return arrays


def _check_form(payload: object, error: type[ParrotError]) -> dict[str, np.ndarray]:
    """1-64 numeric arrays under identifier keys, at most ``MAX_PAYLOAD_BYTES`` in total."""
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


def array_infos(arrays: Mapping[str, np.ndarray]) -> dict[str, ArrayInfo]:
    return {key: ArrayInfo(tuple(int(n) for n in a.shape), a.dtype.str) for key, a in arrays.items()}


def infos_json(infos: Mapping[str, ArrayInfo]) -> str:
    return json.dumps({k: {"shape": list(i.shape), "dtype": i.dtype} for k, i in infos.items()}, sort_keys=True)


def infos_from_json(text: str) -> dict[str, ArrayInfo]:
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
    return _check_form(arrays, error)


def _voice_doc(voice: Voice, **extra: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Validate ``voice``'s form (the engine's schema is checked where voices enter or leave the library);
    its ``voice.json`` document and its arrays."""
    arrays = _check_form(voice.payload, InputError)
    fields = voice_fields(voice)
    doc = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "name": validate_name(voice.name),
        **fields,
        "meta": json.loads(fields["meta"]),
        "arrays": json.loads(infos_json(array_infos(arrays))),
        **extra,
    }
    return doc, arrays


def _json_bytes(doc: Mapping[str, Any]) -> bytes:
    return json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True).encode()


def encode_voice_file(voice: Voice) -> bytes:
    """The shareable voice file for ``voice`` (see the module docstring for the format)."""
    doc, arrays = _voice_doc(voice)
    members = [(_VOICE_JSON, _json_bytes(doc), zipfile.ZIP_DEFLATED)]
    members += [(f"{_ARRAYS_PREFIX}{key}.npy", _npy_bytes(a), zipfile.ZIP_STORED) for key, a in arrays.items()]
    return _zip_bytes(members)


def decode_voice_file(data: bytes, *, name: str | None = None) -> Voice:
    """Validate a shareable voice file and return its ``Voice``; anything wrong raises ``InputError``.

    Checks: total size, zip directory size, member names (only ``voice.json`` and ``arrays/<key>.npy``),
    duplicates, encryption, declared and actual unpacked sizes (zip bombs), format name and version, required
    fields and their types, numeric non-object arrays (never unpickled) matching ``voice.json``, and the name.
    What the engine reads (shape, dtype, finite values in range: :mod:`.schema`) is checked when the voice is
    saved (:meth:`VoiceStore.save`, which ``import_`` uses) and whenever the library reads it back.
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
    return _voice_from_doc(doc, _arrays_from_zip(zf, members, pattern, InputError), name=name)


def _voice_from_doc(doc: Mapping[str, Any], arrays: dict[str, np.ndarray], *, name: str | None = None) -> Voice:
    """The ``Voice`` a parsed ``voice.json`` describes, every field checked (``InputError``)."""
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
    _check_declared(doc["arrays"], arrays)
    return replace(voice, payload=arrays)


@dataclass(frozen=True)
class StoredPayload:
    """A library payload file, decoded: its arrays and, since payloads carry it, the voice it belongs to."""

    arrays: dict[str, np.ndarray]
    voice: Voice | None  # None: written before payloads carried their metadata (cannot be re-indexed)
    created_at: str | None = None
    updated_at: str | None = None


def encode_payload(voice: Voice, *, created_at: str, updated_at: str) -> bytes:
    """A library payload file: an ``.npz`` (``np.load`` reads it, no pickle) whose ``voice.json`` member holds
    everything the library's index records, so the index can be rebuilt from the payloads alone."""
    doc, arrays = _voice_doc(voice, created_at=created_at, updated_at=updated_at)
    members = [(_VOICE_JSON, _json_bytes(doc), zipfile.ZIP_DEFLATED)]
    members += [(f"{key}.npy", _npy_bytes(a), zipfile.ZIP_STORED) for key, a in arrays.items()]
    return _zip_bytes(members)


def decode_payload(data: bytes, engine: str | None = None) -> StoredPayload:
    """Read and check a payload file (:func:`encode_payload`, or the bare ``.npz`` of older versions, whose
    arrays are checked against ``engine``); anything wrong raises ``CorruptVoiceError``."""
    pattern = _array_member("")
    zf, members = _open_zip(data, CorruptVoiceError, lambda m: m == _VOICE_JSON or pattern.fullmatch(m))
    arrays = _arrays_from_zip(zf, members, pattern, CorruptVoiceError)
    if _VOICE_JSON not in members:
        if engine is not None:
            check_payload(engine, arrays, CorruptVoiceError)
        return StoredPayload(arrays, None)
    try:
        doc = _parse_voice_json(_read_member(zf, members[_VOICE_JSON], MAX_JSON_BYTES * 2, CorruptVoiceError))
        voice = _voice_from_doc(doc, arrays)
        stamps = [_check_text(doc.get(f), f) for f in ("created_at", "updated_at")]
    except InputError as exc:
        raise CorruptVoiceError(str(exc)) from exc
    check_payload(voice.engine, arrays, CorruptVoiceError)
    return StoredPayload(arrays, voice, *stamps)


def _check_declared(declared: object, arrays: Mapping[str, np.ndarray]) -> None:
    """The arrays a voice file contains must be exactly those its ``voice.json`` describes."""
    if not isinstance(declared, dict) or set(declared) != set(arrays):
        raise InputError(f"the voice file's {_VOICE_JSON} 'arrays' does not match the arrays it contains")
    for key, info in array_infos(arrays).items():
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
