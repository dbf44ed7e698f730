"""The persistent voice library: round trips, names, sharing files, hostile imports, crashes, concurrency."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import warnings
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from parrot.errors import InputError, ParrotError, ProtectedVoiceError, UnknownVoiceError, VoiceExistsError
from parrot.voices import store as store_module
from parrot.voices.library import VoiceLibrary
from parrot.voices.store import (
    MAX_FILE_BYTES,
    CorruptVoiceError,
    VoiceStore,
    decode_voice_file,
    encode_voice_file,
    validate_name,
)
from parrot.voices.voice import Voice


def make_voice(name: str = "Grandma", seed: int = 0, **changes: object) -> Voice:
    rng = np.random.default_rng(seed)
    fields: dict[str, object] = {
        "name": name,
        "engine": "kokoro",
        "kind": "cloned",
        "payload": {
            "style": rng.standard_normal((32, 256)).astype(np.float32),
            "tokens": rng.integers(0, 6561, size=50, dtype=np.int64),
        },
        "gender": "female",
        "language": "zh",
        "description": "recorded at the family dinner",
        "meta": {"source": "clip.wav", "seconds": 12.5, "tags": ["warm", "slow"]},
    }
    fields.update(changes)
    return Voice(**fields)  # type: ignore[arg-type]


def assert_same_voice(actual: Voice, expected: Voice) -> None:
    assert actual.info() == expected.info()
    assert actual.meta == expected.meta
    assert actual.payload.keys() == expected.payload.keys()
    for key, array in expected.payload.items():
        assert actual.payload[key].dtype == array.dtype
        np.testing.assert_array_equal(actual.payload[key], array)


def payload_files(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "payloads").iterdir())


@pytest.fixture
def store(tmp_path: Path) -> VoiceStore:
    return VoiceStore(tmp_path / "voices")


# ---------------------------------------------------------------------------------------- basics


def test_save_get_round_trip(store: VoiceStore) -> None:
    voice = make_voice()
    saved = store.save(voice)
    assert_same_voice(saved, voice)
    assert_same_voice(store.get("Grandma"), voice)
    assert_same_voice(store.get("GRANDMA"), voice)  # lookups ignore case
    assert store.exists("grandma") and not store.exists("Grandpa") and not store.exists(42)  # type: ignore[arg-type]


def test_payload_file_name_never_comes_from_the_voice_name(store: VoiceStore) -> None:
    store.save(make_voice("奶奶"))
    [name] = payload_files(store.root)
    assert len(name) == 36 and name.endswith(".npz") and int(name[:32], 16) >= 0
    assert (store.root / "library.sqlite3").is_file()
    with np.load(store.root / "payloads" / name, allow_pickle=False) as npz:  # a plain .npz
        assert set(npz.files) == {"style", "tokens", "voice.json"}  # voice.json: to rebuild the index from
        np.testing.assert_array_equal(npz["style"], make_voice().payload["style"])


def test_persists_across_instances(tmp_path: Path) -> None:
    voice = make_voice("奶奶")
    VoiceStore.for_data_dir(tmp_path).save(voice)
    reopened = VoiceStore(tmp_path / "voices")
    assert_same_voice(reopened.get("奶奶"), voice)
    assert [v.name for v in reopened.list()] == ["奶奶"]


def test_list_is_sorted_and_does_not_read_payloads(store: VoiceStore) -> None:
    for name in ("bob", "Alice", "carol"):
        store.save(make_voice(name))
    for path in (store.root / "payloads").iterdir():
        path.unlink()  # list() must not need them
    voices = store.list()
    assert [v.name for v in voices] == ["Alice", "bob", "carol"]
    assert all(v.payload == {} and v.engine == "kokoro" and v.meta["seconds"] == 12.5 for v in voices)
    record = store.records()[0]
    assert record.arrays["style"].shape == (32, 256) and record.arrays["style"].dtype == "<f4"
    assert len(record.sha256) == 64 and record.created_at == record.updated_at


def test_empty_store_lists_nothing(store: VoiceStore) -> None:
    assert store.list() == []
    with pytest.raises(UnknownVoiceError, match="empty"):
        store.get("anyone")


def test_unknown_voice_suggests_similar_names(store: VoiceStore) -> None:
    store.save(make_voice("Grandma"))
    store.save(make_voice("Uncle Bob"))
    with pytest.raises(UnknownVoiceError, match="did you mean 'Grandma'") as info:
        store.get("grandmaa")
    assert "Uncle Bob" in str(info.value)


def test_names_are_unique_ignoring_case(store: VoiceStore) -> None:
    store.save(make_voice("Alice"))
    with pytest.raises(VoiceExistsError, match="already exists"):
        store.save(make_voice("ALICE", seed=1))
    assert_same_voice(store.get("alice"), make_voice("Alice"))
    store.save(make_voice("Bob"))
    with pytest.raises(VoiceExistsError, match="already exists"):
        store.rename("bob", "alice")


def test_overwrite_replaces_payload_and_keeps_created_at(store: VoiceStore) -> None:
    store.save(make_voice("Alice"))
    before = store.records()[0]
    replacement = make_voice("ALICE", seed=1, description="new take", meta={"take": 2})
    store.save(replacement, overwrite=True)
    assert_same_voice(store.get("alice"), replacement)
    after = store.records()[0]
    assert after.created_at == before.created_at and after.updated_at >= before.updated_at
    assert after.sha256 != before.sha256
    assert len(payload_files(store.root)) == 1  # the old payload is gone


def test_rename(store: VoiceStore) -> None:
    store.save(make_voice("Alice"))
    store.save(make_voice("Bob", seed=1))
    renamed = store.rename("alice", "Grandma 2")
    assert renamed.name == "Grandma 2" and renamed.payload == {}
    assert not store.exists("Alice")
    assert_same_voice(store.get("grandma 2"), make_voice("Grandma 2"))
    with pytest.raises(InputError, match="already exists"):
        store.rename("Grandma 2", "BOB")
    assert store.rename("grandma 2", "GRANDMA 2").name == "GRANDMA 2"  # a change of case only is fine
    with pytest.raises(UnknownVoiceError):
        store.rename("nobody", "somebody")
    with pytest.raises(InputError, match="not allowed"):
        store.rename("Bob", "../Bob")
    assert [v.name for v in store.list()] == ["Bob", "GRANDMA 2"]


def test_delete(store: VoiceStore) -> None:
    store.save(make_voice("Alice"))
    store.save(make_voice("Bob", seed=1))
    store.delete("ALICE")
    assert [v.name for v in store.list()] == ["Bob"]
    assert len(payload_files(store.root)) == 1
    with pytest.raises(UnknownVoiceError):
        store.delete("Alice")
    with pytest.raises(UnknownVoiceError):
        store.get("Alice")


def test_reserved_names_cannot_be_shadowed(tmp_path: Path) -> None:
    store = VoiceStore(tmp_path, reserved=frozenset({"af_heart", "zf_xiaobei"}))
    with pytest.raises(VoiceExistsError, match="built-in"):
        store.save(make_voice("AF_Heart"))
    store.save(make_voice("mine"))
    with pytest.raises(InputError, match="built-in"):
        store.rename("mine", "zf_xiaobei")
    with pytest.raises(InputError, match="built-in"):
        store.import_(encode_voice_file(make_voice("af_heart")))


def test_builtin_voices_cannot_be_renamed_or_deleted(tmp_path: Path) -> None:
    builtin = make_voice("af_heart", kind="stock")
    library = VoiceLibrary([builtin], tmp_path / "voices")
    for change in (lambda: library.rename("AF_HEART", "mine"), lambda: library.delete("af_heart")):
        with pytest.raises(ProtectedVoiceError, match="built-in") as info:
            change()
        assert isinstance(info.value, InputError) and info.value.kind == "voice_protected"
    assert_same_voice(library.get("af_heart"), builtin)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"payload": {}}, "non-empty payload"),
        ({"payload": {"style": np.array([{"a": 1}], dtype=object)}}, "numeric"),
        ({"payload": {"style": np.array(["text"])}}, "numeric"),
        ({"payload": {"style": [1.0, 2.0]}}, "numeric"),
        ({"payload": {"../x": np.zeros(3)}}, "key"),
        ({"meta": {"bad": object()}}, "JSON"),
        ({"meta": {"nan": float("nan")}}, "JSON"),
        ({"engine": ""}, "engine"),
        ({"kind": "a\nb"}, "kind"),
        ({"language": 3}, "language"),
    ],
)
def test_save_validates_the_voice(store: VoiceStore, changes: dict[str, object], message: str) -> None:
    with pytest.raises(InputError, match=message):
        store.save(make_voice(**changes))
    assert store.list() == [] and payload_files(store.root) == []


def test_zero_d_and_empty_arrays_round_trip(store: VoiceStore) -> None:
    style = make_voice().payload["style"]
    voice = make_voice(payload={"style": style, "scale": np.array(0.5, np.float32), "none": np.zeros((0, 4), np.int16)})
    assert_same_voice(store.get(store.save(voice).name), voice)
    assert_same_voice(decode_voice_file(encode_voice_file(voice)), voice)


# ------------------------------------------------------------------------------------------ names

VALID_NAMES = [
    "Grandma 2",
    "奶奶",
    "con",
    "a",
    "my-voice_v1.2",
    "x" * 64,
    "Zoë",
    "नमस्ते",
    "١٢٣",
    "_private",
    "Dr. Who",
    "おばあちゃん",
]
INVALID_NAMES = [
    "",
    " ",
    " Grandma",
    "Grandma ",
    ".hidden",
    "trailing.",
    "a..b",
    "..",
    "../etc/passwd",
    "a/b",
    "a\\b",
    "C:drive",
    "tab\tname",
    "line\nbreak",
    "nul\x00byte",
    "x" * 65,
    "emoji 😀",
    "semi;colon",
    "\u0301accent first",
    "zero\u200bwidth",
]


@pytest.mark.parametrize("name", VALID_NAMES)
def test_valid_names(name: str) -> None:
    assert validate_name(name) == name


@pytest.mark.parametrize("name", [*INVALID_NAMES, 42, None])
def test_invalid_names(name: object) -> None:
    with pytest.raises(InputError, match="voice name"):
        validate_name(name)


def test_names_are_nfc_normalised(store: VoiceStore) -> None:
    decomposed = "Ange\u0301lique"
    assert validate_name(decomposed) == "Ang\u00e9lique"
    store.save(make_voice(decomposed))
    assert store.get("ANGÉLIQUE").name == "Ang\u00e9lique"


# ------------------------------------------------------------------------------- export / import


def test_export_import_round_trip_into_another_store(store: VoiceStore, tmp_path: Path) -> None:
    voice = make_voice("奶奶")
    store.save(voice)
    data = store.export("奶奶")
    assert data == store.export("奶奶")  # deterministic
    other = VoiceStore(tmp_path / "elsewhere")
    assert_same_voice(other.import_(data), voice)
    assert_same_voice(other.get("奶奶"), voice)
    with pytest.raises(InputError, match="already exists"):
        other.import_(data)
    assert other.import_(data, name="Nainai").name == "Nainai"
    assert other.import_(data, overwrite=True).name == "奶奶"
    with pytest.raises(InputError, match="voice name"):
        other.import_(data, name="../evil")


def test_export_to_and_import_from(store: VoiceStore, tmp_path: Path) -> None:
    store.save(make_voice())
    path = store.export_to("grandma", tmp_path / "grandma.parrot-voice")
    assert zipfile.is_zipfile(path)
    other = VoiceStore(tmp_path / "other")
    assert_same_voice(other.import_from(path), make_voice())
    with pytest.raises(InputError, match="cannot read"):
        other.import_from(tmp_path / "missing.zip")


def build_zip(members: list[tuple[str, bytes]], compress: int = zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate member names on purpose
        with zipfile.ZipFile(buf, "w", compression=compress) as zf:
            for name, data in members:
                zf.writestr(name, data)
    return buf.getvalue()


def good_members() -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(encode_voice_file(make_voice()))) as zf:
        return [(name, zf.read(name)) for name in zf.namelist()]


def voice_json(**changes: object) -> bytes:
    doc = json.loads(dict(good_members())["voice.json"])
    for key, value in changes.items():
        if value is None:
            doc.pop(key)
        else:
            doc[key] = value
    return json.dumps(doc).encode()


def with_json(doc: bytes) -> bytes:
    return build_zip([("voice.json", doc), *[(n, d) for n, d in good_members() if n != "voice.json"]])


def npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=True)
    return buf.getvalue()


def patch_directory_sizes(data: bytes, member: str, size: int) -> bytes:
    """Rewrite a member's sizes in the zip central directory (what a hand-crafted bomb would declare)."""
    out = bytearray(data)
    start = out.find(b"PK\x01\x02")
    while start >= 0:
        name_len = int.from_bytes(out[start + 28 : start + 30], "little")
        if out[start + 46 : start + 46 + name_len] == member.encode():
            out[start + 20 : start + 24] = size.to_bytes(4, "little")
            out[start + 24 : start + 28] = size.to_bytes(4, "little")
            return bytes(out)
        start = out.find(b"PK\x01\x02", start + 4)
    raise AssertionError(member)


def deflated_bomb() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("voice.json", voice_json())
        info = zipfile.ZipInfo("arrays/style.npy")
        info.compress_type = zipfile.ZIP_DEFLATED
        with zf.open(info, "w") as fp:
            chunk = bytes(1024 * 1024)
            for _ in range(MAX_FILE_BYTES // len(chunk) + 2):
                fp.write(chunk)
    data = buf.getvalue()
    assert len(data) < 1024 * 1024  # tiny on disk, > 50 MB unpacked
    return data


HOSTILE_FILES = {
    "random bytes": (lambda: os.urandom(4096), "not a Parrot voice file"),
    "empty": (lambda: b"", "not a Parrot voice file"),
    "truncated zip": (lambda: encode_voice_file(make_voice())[:-30], "not a Parrot voice file"),
    "parent dir member": (lambda: build_zip([*good_members(), ("../evil.npy", b"x")]), "unexpected entry"),
    "nested parent member": (lambda: build_zip([*good_members(), ("arrays/../../x.npy", b"x")]), "unexpected"),
    "absolute member": (lambda: build_zip([*good_members(), ("/etc/passwd", b"x")]), "unexpected entry"),
    "duplicate member": (lambda: build_zip([*good_members(), good_members()[-1]]), "duplicate entry"),
    "no voice.json": (lambda: build_zip(good_members()[1:]), "voice.json is missing"),
    "not json": (lambda: with_json(b"{nope"), "not valid UTF-8 JSON"),
    "wrong format": (lambda: with_json(voice_json(format="other")), "not a Parrot voice file"),
    "wrong version": (lambda: with_json(voice_json(version=99)), "unsupported voice file version 99"),
    "missing version": (lambda: with_json(voice_json(version=None)), "unsupported voice file version"),
    "missing engine": (lambda: with_json(voice_json(engine=None)), "missing required field"),
    "bad name": (lambda: with_json(voice_json(name="../etc/passwd")), "voice name"),
    "meta not a dict": (lambda: with_json(voice_json(meta=[1, 2])), "meta"),
    "arrays mismatch": (lambda: with_json(voice_json(arrays={"style": {"shape": [1], "dtype": "<f4"}})), "arrays"),
    "pickled object array": (
        lambda: build_zip(
            [
                ("voice.json", voice_json(arrays={"style": {"shape": [1], "dtype": "|O"}})),
                ("arrays/style.npy", npy(np.array([{"evil": 1}], dtype=object))),
            ]
        ),
        "only numeric arrays",
    ),
    "string array": (
        lambda: build_zip([("voice.json", voice_json()), ("arrays/style.npy", npy(np.array(["a", "b"])))]),
        "only numeric arrays",
    ),
    "npy header lies about shape": (
        lambda: build_zip(
            [
                ("voice.json", voice_json()),
                ("arrays/style.npy", npy(np.zeros((100_000, 100_000, 0), np.float32)).replace(b"0)", b"9)", 1)),
            ]
        ),
        "data size differs",
    ),
    "not an npy": (lambda: build_zip([("voice.json", voice_json()), ("arrays/style.npy", b"junk")]), "numpy array"),
    "declared huge size": (
        lambda: patch_directory_sizes(encode_voice_file(make_voice()), "arrays/style.npy", 0xFFFF_FFF0),
        "more than 50 MB",
    ),
    "declared size too small": (
        lambda: patch_directory_sizes(encode_voice_file(make_voice()), "arrays/style.npy", 1000),
        "corrupt",
    ),
    "deflate bomb": (deflated_bomb, "more than 50 MB"),
    "too big": (lambda: bytes(MAX_FILE_BYTES + 1), "larger than 50 MB"),
    "too many members": (lambda: build_zip([(f"arrays/a{i}.npy", b"") for i in range(100)]), "entries"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_FILES))
def test_hostile_imports_are_rejected(store: VoiceStore, case: str) -> None:
    make, message = HOSTILE_FILES[case]
    with pytest.raises(InputError, match=message):
        store.import_(make())
    assert store.list() == [] and payload_files(store.root) == []


def test_import_rejects_non_bytes(store: VoiceStore) -> None:
    with pytest.raises(InputError, match="bytes"):
        store.import_("voice.zip")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------- crash safety


def test_failed_rename_into_place_keeps_the_old_voice(store: VoiceStore, monkeypatch: pytest.MonkeyPatch) -> None:
    old = make_voice("Alice")
    store.save(old)

    def crash(*args: object, **kwargs: object) -> None:
        raise OSError("simulated crash during os.replace")

    monkeypatch.setattr(store_module.os, "replace", crash)
    with pytest.raises(ParrotError, match="simulated crash"):
        store.save(make_voice("Alice", seed=1), overwrite=True)
    monkeypatch.undo()
    assert_same_voice(store.get("Alice"), old)
    assert not any(name.startswith(".tmp-") for name in payload_files(store.root))
    assert_same_voice(VoiceStore(store.root).get("Alice"), old)
    assert len(payload_files(store.root)) == 1


@pytest.mark.parametrize("hard_crash", [False, True])
def test_failed_commit_keeps_the_old_voice(
    store: VoiceStore, monkeypatch: pytest.MonkeyPatch, hard_crash: bool
) -> None:
    old = make_voice("Alice")
    store.save(old)

    def crash(conn: sqlite3.Connection) -> None:
        raise sqlite3.OperationalError("disk I/O error (simulated)")

    monkeypatch.setattr(store_module, "_commit", crash)
    if hard_crash:  # the process dies: no cleanup runs after the new payload was renamed into place
        monkeypatch.setattr(VoiceStore, "_discard_unreferenced", lambda self, payload_id: None)
    with pytest.raises(ParrotError, match="simulated"):
        store.save(make_voice("Alice", seed=1), overwrite=True)
    monkeypatch.undo()
    assert_same_voice(store.get("Alice"), old)
    assert len(payload_files(store.root)) == (2 if hard_crash else 1)
    reopened = VoiceStore(store.root)
    assert_same_voice(reopened.get("Alice"), old)
    assert len(payload_files(store.root)) == 1


def test_crash_before_old_payload_is_deleted_keeps_the_new_voice(
    store: VoiceStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.save(make_voice("Alice"))
    new = make_voice("Alice", seed=1)
    monkeypatch.setattr(VoiceStore, "_unlink_payload", lambda self, payload_id: None)
    store.save(new, overwrite=True)
    monkeypatch.undo()
    assert len(payload_files(store.root)) == 2
    reopened = VoiceStore(store.root)
    assert_same_voice(reopened.get("Alice"), new)
    assert len(payload_files(store.root)) == 1


def test_opening_removes_leftover_temp_files_only(store: VoiceStore) -> None:
    store.save(make_voice())
    payloads = store.root / "payloads"
    (payloads / ".tmp-k3j2h1.npz").write_bytes(b"half a payload")
    (payloads / "README.txt").write_text("not ours")
    VoiceStore(store.root)
    assert not (payloads / ".tmp-k3j2h1.npz").exists()
    assert (payloads / "README.txt").exists()
    assert_same_voice(store.get("Grandma"), make_voice())


def test_payload_corruption_is_detected(store: VoiceStore) -> None:
    store.save(make_voice())
    [name] = payload_files(store.root)
    path = store.root / "payloads" / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptVoiceError, match="checksum") as info:
        store.get("Grandma")
    assert not isinstance(info.value, InputError)


def test_missing_payload_is_a_clear_error_and_can_be_deleted(store: VoiceStore) -> None:
    store.save(make_voice())
    for path in (store.root / "payloads").iterdir():
        path.unlink()
    with pytest.raises(CorruptVoiceError, match="missing"):
        store.get("Grandma")
    store.delete("Grandma")
    assert store.list() == []


def test_library_from_a_newer_parrot_is_refused(store: VoiceStore) -> None:
    with sqlite3.connect(store.root / "library.sqlite3") as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(ParrotError, match="newer Parrot"):
        VoiceStore(store.root)


# ---------------------------------------------------------------------------------- concurrency


def test_concurrent_saves_from_eight_threads_all_land(tmp_path: Path) -> None:
    root = tmp_path / "voices"
    stores = [VoiceStore(root) for _ in range(4)]  # separate instances behave like separate processes
    barrier = threading.Barrier(8)

    def work(i: int) -> None:
        barrier.wait()
        stores[i % 4].save(make_voice(f"voice {i}", seed=i))
        stores[i % 4].save(make_voice("shared", seed=100 + i), overwrite=True)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(work, range(8)))
    reopened = VoiceStore(root)
    assert sorted(v.name for v in reopened.list()) == sorted([f"voice {i}" for i in range(8)] + ["shared"])
    for i in range(8):
        assert_same_voice(reopened.get(f"voice {i}"), make_voice(f"voice {i}", seed=i))
    shared = reopened.get("shared").payload["style"]
    assert any(np.array_equal(shared, make_voice(seed=100 + i).payload["style"]) for i in range(8))
    assert len(payload_files(root)) == 9  # every replaced payload was deleted


def test_concurrent_saves_from_several_processes(tmp_path: Path) -> None:
    root = tmp_path / "voices"
    script = textwrap.dedent(
        """
        import sys
        from pathlib import Path
        import numpy as np
        from parrot.voices.store import VoiceStore
        from parrot.voices.voice import Voice

        store = VoiceStore(Path(sys.argv[1]))
        for i in range(5):
            store.save(Voice(f"{sys.argv[2]} {i}", "kokoro", "cloned", {"style": np.full((4, 256), i, np.float32)}))
        """
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, str(root), f"p{n}"]) for n in range(3)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    store = VoiceStore(root)
    assert len(store.list()) == 15
    np.testing.assert_array_equal(store.get("p2 4").payload["style"], np.full((4, 256), 4, np.float32))
