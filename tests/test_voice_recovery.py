"""The voice library never destroys what it cannot prove is garbage: a missing or corrupt index, damaged
payloads, payloads the engine cannot use, hijacked kinds, leaked paths, lax permissions; check and repair."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from test_voice_store import assert_same_voice, make_voice, payload_files

from parrot.errors import CorruptVoiceError, InputError, LibraryDamagedError
from parrot.voices.library import VoiceLibrary
from parrot.voices.store import VoiceStore
from parrot.voices.voice import Voice
from parrot.voices.voicefile import decode_voice_file, encode_voice_file

NAMES = ["Alice", "bob", "奶奶"]


def filled(root: Path) -> VoiceStore:
    store = VoiceStore(root)
    for i, name in enumerate(NAMES):
        store.save(make_voice(name, seed=i))
    return store


def quarantined(root: Path) -> list[str]:
    folder = root / "quarantine"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def assert_all_there(store: VoiceStore) -> None:
    assert store.health().ok
    assert sorted(v.name for v in store.list()) == sorted(NAMES)
    for i, name in enumerate(NAMES):
        assert_same_voice(store.get(name), make_voice(name, seed=i))


# ------------------------------------------------------------------------------- missing index


def test_missing_index_is_rebuilt_from_the_payloads(tmp_path: Path) -> None:
    root = tmp_path / "voices"
    filled(root).rename("bob", "Robert")
    files = payload_files(root)
    (root / "library.sqlite3").unlink()
    store = VoiceStore(root)
    assert payload_files(root) == files  # nothing deleted
    assert sorted(v.name for v in store.list()) == ["Alice", "Robert", "奶奶"]  # the rename survived too
    assert_same_voice(store.get("robert"), make_voice("Robert", seed=1))
    assert store.records()[0].created_at <= store.records()[0].updated_at
    assert store.health().ok and "rebuilt" in " ".join(store.health().problems)


def test_emptied_index_is_rebuilt_too(tmp_path: Path) -> None:
    root = tmp_path / "voices"
    filled(root)
    for suffix in ("", "-wal", "-shm"):
        (root / f"library.sqlite3{suffix}").unlink(missing_ok=True)
    (root / "library.sqlite3").write_bytes(b"")  # truncated to nothing
    assert_all_there(VoiceStore(root))


def test_rebuild_keeps_the_newest_version_and_quarantines_what_it_cannot_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "voices"
    store = filled(root)
    monkeypatch.setattr(VoiceStore, "_unlink_payload", lambda self, payload_id: None)  # a crash after commit
    store.save(make_voice("Alice", seed=9), overwrite=True)
    monkeypatch.undo()
    legacy = root / "payloads" / ("ab" * 16 + ".npz")  # a payload from before payloads carried metadata
    legacy.write_bytes(_bare_npz({"style": np.zeros((2, 256), np.float32)}))
    (root / "library.sqlite3").unlink()
    store = VoiceStore(root)
    assert_same_voice(store.get("alice"), make_voice("Alice", seed=9))
    assert len(store.list()) == 3
    assert len(quarantined(root)) == 2 and legacy.name in quarantined(root)  # moved, not deleted
    assert len(payload_files(root)) == 3


def _bare_npz(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


# ------------------------------------------------------------------------------- damaged index


@pytest.mark.parametrize("damage", ["garbage", "truncated", "flipped"])
def test_damaged_index_still_opens_serves_read_only_and_repairs(tmp_path: Path, damage: str) -> None:
    root = tmp_path / "voices"
    filled(root)
    db = root / "library.sqlite3"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = db.read_bytes()
    if damage == "garbage":
        db.write_bytes(os.urandom(len(data)))
    elif damage == "truncated":
        db.write_bytes(data[:1500])
    else:
        db.write_bytes(data[:100] + bytes(len(data) - 100))  # pages zeroed
    store = VoiceStore(root)  # must not raise
    health = store.health()
    assert not health.ok and "damaged" in health.problems[0] and str(tmp_path) not in str(health.as_dict())
    assert sorted(v.name for v in store.list()) == sorted(NAMES)  # served from the payloads
    assert_same_voice(store.get("ALICE"), make_voice("Alice", seed=0))
    with pytest.raises(LibraryDamagedError, match="voices check --repair"):
        store.save(make_voice("Carol"))
    report = store.check()
    assert not report.ok and report.voices == 3
    repaired = store.repair()
    assert repaired.ok, repaired.problems
    assert any("quarantine" in action for action in repaired.repaired)
    assert any(name.startswith("library.sqlite3.") for name in quarantined(root))  # the damaged index is kept
    assert_all_there(store)
    assert_all_there(VoiceStore(root))
    store.save(make_voice("Carol"))


def test_library_with_a_damaged_index_still_serves_built_in_voices(tmp_path: Path) -> None:
    root = tmp_path / "voices"
    filled(root)
    (root / "library.sqlite3").write_bytes(b"not a database at all" * 100)
    for suffix in ("-wal", "-shm"):
        (root / f"library.sqlite3{suffix}").unlink(missing_ok=True)
    builtin = make_voice("af_heart", kind="stock")
    library = VoiceLibrary([builtin], root)
    assert not library.store.health().ok
    assert_same_voice(library.get("af_heart"), builtin)
    assert "Alice" in library.names()


# --------------------------------------------------------------------------- payload validation

BAD_STYLES = {
    "wrong shape": (np.zeros(3, np.float32), "shape"),
    "wrong width": (np.zeros((510, 255), np.float32), "shape"),
    "NaN": (np.full((510, 256), np.nan, np.float32), "NaN"),
    "infinite": (np.full((4, 256), np.inf, np.float32), "NaN or infinite"),
    "huge": (np.full((510, 256), 1e30, np.float32), "outside"),
    "integer": (np.zeros((4, 256), np.int32), "float"),
    "too many rows": (np.zeros((511, 256), np.float32), "shape"),
}


@pytest.mark.parametrize("case", sorted(BAD_STYLES))
def test_unusable_payloads_are_refused_on_save_and_import(tmp_path: Path, case: str) -> None:
    style, message = BAD_STYLES[case]
    voice = make_voice(payload={"style": style})
    store = VoiceStore(tmp_path / "voices")
    with pytest.raises(InputError, match=message):
        store.save(voice)
    with pytest.raises(InputError, match=message):
        store.import_(_voice_file_with(voice))
    assert store.list() == [] and payload_files(store.root) == []


def _voice_file_with(voice: Voice) -> bytes:
    """A voice file holding ``voice`` as is (what a hostile or broken exporter would write)."""
    with zipfile.ZipFile(io.BytesIO(encode_voice_file(make_voice()))) as zf:
        doc = json.loads(zf.read("voice.json"))
    arrays = voice.payload
    doc["engine"] = voice.engine
    doc["arrays"] = {k: {"shape": list(a.shape), "dtype": a.dtype.str} for k, a in arrays.items()}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("voice.json", json.dumps(doc))
        for key, array in arrays.items():
            npy = io.BytesIO()
            np.save(npy, array)
            zf.writestr(f"arrays/{key}.npy", npy.getvalue())
    return buf.getvalue()


def test_engine_payload_rules(tmp_path: Path) -> None:
    store = VoiceStore(tmp_path / "voices")

    def import_(voice: Voice) -> None:
        store.import_(_voice_file_with(voice), overwrite=True)

    ok = {"style": np.zeros((510, 1, 256), np.float32), "extra_weights": np.ones((3, 3), np.float16)}
    import_(make_voice(payload=ok))  # undeclared, well-formed arrays pass
    cases = [
        ({"tokens": np.zeros(3, np.int64)}, "needs the payload array"),
        ({**ok, "vc_offsets": np.zeros((8, 48), np.float32)}, "come together"),
        ({**ok, "extra_weights": np.array([np.nan], np.float32)}, "NaN"),
    ]
    for payload, message in cases:
        with pytest.raises(InputError, match=message):
            import_(make_voice(payload=payload))
    cosy = {"embedding": np.zeros(192, np.float32), "prompt_speech_token": np.array([6561], np.int32)}
    with pytest.raises(InputError, match="come together"):
        import_(make_voice(engine="cosyvoice2", payload=cosy))
    cosy["prompt_mel"] = np.zeros((2, 80), np.float32)
    with pytest.raises(InputError, match="outside"):
        import_(make_voice(engine="cosyvoice2", payload=cosy))
    cosy["prompt_speech_token"] = np.array([6560], np.int32)
    import_(make_voice(engine="cosyvoice2", payload=cosy))
    other = {"style": np.zeros(3, np.float32)}  # an engine Parrot does not know: well-formed is enough
    import_(make_voice(engine="fake", payload=other))
    assert decode_voice_file(_voice_file_with(make_voice(payload={"style": np.zeros(3)}))).payload  # form only


def test_payload_that_became_unusable_is_refused_on_read(tmp_path: Path) -> None:
    store = VoiceStore(tmp_path / "voices")
    store.save(make_voice())
    [name] = payload_files(store.root)
    path = store.root / "payloads" / name
    with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    npy = io.BytesIO()
    np.save(npy, np.full((32, 256), np.nan, np.float32))
    members["style.npy"] = npy.getvalue()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for member, data in members.items():
            zf.writestr(member, data)
    path.write_bytes(buf.getvalue())
    with sqlite3.connect(store.root / "library.sqlite3") as conn:  # the checksum matches: only the checks catch it
        conn.execute("UPDATE voices SET payload_sha256 = ?", (hashlib.sha256(buf.getvalue()).hexdigest(),))
    with pytest.raises(CorruptVoiceError, match="NaN") as info:
        store.get("Grandma")
    assert str(tmp_path) not in str(info.value)


# ----------------------------------------------------------------------------- kinds and paths


def test_imported_voices_are_always_user_voices(tmp_path: Path) -> None:
    library = VoiceLibrary([make_voice("shimmer_base", kind="stock")], tmp_path / "voices")
    imported = library.import_(encode_voice_file(make_voice("sneaky", kind="stock")))
    assert imported.kind == "cloned"
    assert [v.kind for v in library.list()] == ["stock", "cloned"]
    pretrained = library.import_(encode_voice_file(make_voice("shared", kind="pretrained")))
    assert pretrained.kind == "cloned"
    assert library.get("sneaky").kind == "cloned"


def test_rows_that_claim_a_built_in_kind_are_served_as_user_voices(tmp_path: Path) -> None:
    store = VoiceStore(tmp_path / "voices")
    store.save(make_voice("old"))
    with sqlite3.connect(store.root / "library.sqlite3") as conn:  # written by an older Parrot
        conn.execute("UPDATE voices SET kind = 'stock'")
    assert store.get("old").kind == "cloned" and store.list()[0].kind == "cloned"


def test_errors_name_voices_not_server_paths(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = VoiceStore(tmp_path / "voices")
    store.save(make_voice())
    [name] = payload_files(store.root)
    path = store.root / "payloads" / name
    path.write_bytes(path.read_bytes()[:-10])
    with caplog.at_level(logging.ERROR), pytest.raises(CorruptVoiceError) as info:
        store.get("Grandma")
    assert "'Grandma'" in str(info.value) and str(tmp_path) not in str(info.value)
    assert str(path) in caplog.text  # the operator finds the file in the log
    path.unlink()
    with pytest.raises(CorruptVoiceError, match="missing") as info:
        store.get("Grandma")
    assert str(tmp_path) not in str(info.value)


# --------------------------------------------------------------------------------- permissions


def test_library_files_are_private_and_fixed_at_open(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = tmp_path / "voices"
    store = filled(root)
    paths = [root, root / "payloads", root / "library.sqlite3", *(root / "payloads").iterdir()]
    for path in paths:
        assert path.stat().st_mode & 0o077 == 0, path
    for path in paths:
        path.chmod(0o755 if path.is_dir() else 0o644)
    assert not store.check().ok
    with caplog.at_level(logging.WARNING):
        reopened = VoiceStore(root)
    for path in paths:
        assert path.stat().st_mode & 0o777 == (0o700 if path.is_dir() else 0o600), path
    assert "private" in caplog.text and "private" in " ".join(reopened.health().problems)
    assert reopened.check().ok


# ---------------------------------------------------------------------------------- check, repair


def test_check_and_repair_a_library_with_bad_voices(tmp_path: Path) -> None:
    root = tmp_path / "voices"
    store = filled(root)
    by_name = {r.voice.name: r for r in store.records()}
    with sqlite3.connect(root / "library.sqlite3") as conn:
        ids = dict(conn.execute("SELECT name, payload_id FROM voices"))
    (root / "payloads" / f"{ids['Alice']}.npz").unlink()  # missing
    bob = root / "payloads" / f"{ids['bob']}.npz"
    bob.write_bytes(b"x" + bob.read_bytes()[1:])  # corrupt
    legacy = make_voice("奶奶", seed=2)
    (root / "payloads" / f"{ids['奶奶']}.npz").write_bytes(_bare_npz(legacy.payload))  # an older payload file
    blob = (root / "payloads" / f"{ids['奶奶']}.npz").read_bytes()
    with sqlite3.connect(root / "library.sqlite3") as conn:
        conn.execute("UPDATE voices SET payload_sha256 = ? WHERE name = '奶奶'", (hashlib.sha256(blob).hexdigest(),))
    report = store.check()
    text = "\n".join(report.problems)
    assert report.voices == 0 and "'Alice'" in text and "'bob'" in text and "predates" in text
    assert str(tmp_path) not in text
    repaired = store.repair()
    assert repaired.ok, repaired.problems
    assert [v.name for v in store.list()] == ["奶奶"] and by_name["奶奶"].created_at == store.records()[0].created_at
    assert_same_voice(store.get("奶奶"), legacy)
    assert f"{ids['bob']}.npz" in quarantined(root) and f"{ids['Alice']}.row.json" in quarantined(root)
    (root / "library.sqlite3").unlink()  # the rewritten payload now carries its metadata
    assert [v.name for v in VoiceStore(root).list()] == ["奶奶"]


def test_unreferenced_payloads_are_quarantined_unless_superseded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "voices"
    store = filled(root)
    monkeypatch.setattr(VoiceStore, "_unlink_payload", lambda self, payload_id: None)
    store.save(make_voice("Alice", seed=5), overwrite=True)  # the old Alice payload stays behind: superseded
    store.delete("bob")  # bob's payload stays behind: a voice the index no longer knows
    monkeypatch.undo()
    assert len(payload_files(root)) == 4
    reopened = VoiceStore(root)
    assert len(payload_files(root)) == 2 and len(quarantined(root)) == 1
    assert sorted(v.name for v in reopened.list()) == ["Alice", "奶奶"]


def test_cli_voices_check_and_repair(tmp_path: Path) -> None:
    root = tmp_path / "voices"
    filled(root)
    (root / "library.sqlite3").write_bytes(b"garbage" * 1000)
    env = {**os.environ, "PARROT_DATA_DIR": str(tmp_path)}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "parrot.cli", "voices", "check", *args]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)

    found = run()
    assert found.returncode == 1 and "damaged" in found.stdout and "--repair" in found.stdout
    repaired = run("--repair")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert "repaired:" in repaired.stdout and "3 saved voice(s) intact after repairing" in repaired.stdout
    assert run().returncode == 0
    assert_all_there(VoiceStore(root))


def test_damage_found_while_running_is_reported_and_served_around(tmp_path: Path) -> None:
    root = tmp_path / "voices"
    store = filled(root)
    assert store.health().ok
    with sqlite3.connect(root / "library.sqlite3") as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    (root / "library.sqlite3").write_bytes(os.urandom(8192))
    with pytest.raises(LibraryDamagedError):
        store.list()
    assert not store.health().ok  # /healthz says so from now on
    assert sorted(v.name for v in store.list()) == sorted(NAMES)  # and saved voices are served from payloads
    assert store.repair().ok and store.health().ok
    assert_all_there(store)
