"""kill -9 at random points while a process clones (saves), imports, renames and deletes voices in a loop;
after every restart the library must be consistent: the index readable, every voice readable with the payload
it was saved with, no half-written file in use, nothing a committed voice needs lost. Then the index is
deleted or damaged, and the payloads alone must bring every voice back."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from parrot.voices.store import VoiceStore

pytestmark = pytest.mark.slow

WORKER = textwrap.dedent(
    """
    import random, sys
    from pathlib import Path
    import numpy as np
    from parrot.errors import InputError
    from parrot.voices.store import VoiceStore
    from parrot.voices.voice import Voice
    from parrot.voices.voicefile import encode_voice_file

    def voice(name, seed):
        style = np.full((64, 256), seed % 1000 / 1000.0, np.float32)
        return Voice(name, "kokoro", "cloned", {"style": style}, meta={"seed": seed})

    store = VoiceStore(Path(sys.argv[1]))
    rng = random.Random(int(sys.argv[2]))
    print("ready", flush=True)
    while True:
        names = [v.name for v in store.list()]
        op = rng.choice(["save", "save", "overwrite", "import", "rename", "delete"])
        seed = rng.randrange(1_000_000)
        try:
            if op == "save" or not names:
                store.save(voice(f"v{seed}", seed))
            elif op == "overwrite":
                store.save(voice(rng.choice(names), seed), overwrite=True)
            elif op == "import":
                store.import_(encode_voice_file(voice(f"i{seed}", seed)))
            elif op == "rename":
                store.rename(rng.choice(names), f"r{seed}")
            elif len(names) > 3:
                store.delete(rng.choice(names))
        except InputError:
            pass  # a name clash: fine
    """
)


def run_and_kill(root: Path, seed: int, after: float) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [sys.executable, "-c", WORKER, str(root), str(seed)], stdout=subprocess.PIPE, env=env, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    time.sleep(after)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def snapshot(store: VoiceStore) -> dict[str, int]:
    """name -> seed of every voice, each read back in full and checked against the seed it was saved with."""
    voices = {}
    for record in store.records():
        voice = store.get(record.voice.name)
        seed = voice.meta["seed"]
        np.testing.assert_array_equal(voice.payload["style"], np.full((64, 256), seed % 1000 / 1000.0, np.float32))
        assert voice.kind == "cloned"
        voices[voice.name] = seed
    return voices


def assert_consistent(root: Path) -> dict[str, int]:
    store = VoiceStore(root)
    assert store.health().ok, store.health()
    report = store.check()
    assert report.ok, report.problems
    voices = snapshot(store)
    referenced = {r.sha256 for r in store.records()}
    assert len(referenced) == len(voices)
    payloads = [p.name for p in (root / "payloads").iterdir()]
    assert len(payloads) == len(voices), "every payload file belongs to a voice; leftovers were tidied"
    return voices


def test_kill_9_during_library_writes_never_breaks_the_library(tmp_path: Path) -> None:
    root = tmp_path / "voices"
    rng = random.Random(16)
    seen_voices = 0
    for round_ in range(8):
        run_and_kill(root, seed=round_, after=rng.uniform(0.2, 1.2))
        voices = assert_consistent(root)
        seen_voices = max(seen_voices, len(voices))
    assert seen_voices > 3  # the loop got going

    # The index lost: rebuilt from the payloads, the same voices come back.
    (root / "library.sqlite3").unlink()
    for suffix in ("-wal", "-shm"):
        (root / f"library.sqlite3{suffix}").unlink(missing_ok=True)
    assert assert_consistent(root) == voices

    # The index damaged: served read-only, repaired, the same voices again.
    db = root / "library.sqlite3"
    db.write_bytes(db.read_bytes()[:4096] + os.urandom(8192))
    damaged = VoiceStore(root)
    assert not damaged.health().ok and snapshot(damaged) == voices
    assert damaged.repair().ok
    assert assert_consistent(root) == voices

    # A payload damaged after a crash: reported, taken out by repair (kept in quarantine), the rest intact.
    victim = next((root / "payloads").iterdir())
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])
    store = VoiceStore(root)
    assert not store.check().ok
    assert store.repair().ok
    after = assert_consistent(root)
    assert len(after) == len(voices) - 1 and set(after) < set(voices)
    assert (root / "quarantine" / victim.name).exists()
