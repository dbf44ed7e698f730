"""The embedded chat model's runtime (llama-cpp-python), built in the background on first run.

llama-cpp-python is source-only on PyPI: its first install compiles llama.cpp, about 20 minutes on 2 cores.
Speech must not wait for that, so ``./run.sh`` starts the build in a detached, ``nice``d process and serves
speech at once; voice chat reports how far the build is until it is done, then works without a restart.

The build's state lives in ``<data_dir>/chat-runtime/``: ``build.json`` (pid, start, exit code; written
atomically) and ``build.log`` (pip's verbose output, whose ``[n/m]`` build steps give the progress)."""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import importlib.metadata
import importlib.util
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from ..files import write_atomically

RUNTIME_MODULE = "llama_cpp"  # importable once the runtime is installed
DISTRIBUTION = "parrot-tts"
EXTRA = "chat"  # the extra of parrot-tts that pins the runtime (pyproject.toml)
TYPICAL_BUILD_SECONDS = 20 * 60  # compiling llama.cpp on 2 cores, for the estimate before steps are known
_STEP = re.compile(rb"\[\s*(\d+)\s*/\s*(\d+)\s*\]")  # ninja: "[37/162] Building CXX object ..."
_PERCENT = re.compile(rb"\[\s*(\d{1,3})%\]")  # make: "[ 45%] Building CXX object ..."
_LOG_TAIL = 64 * 1024

State = Literal["ready", "building", "failed", "missing"]


@dataclass(frozen=True)
class RuntimeStatus:
    """Where the runtime stands: ``ready``, ``building`` (with ``fraction`` once the compiler reports steps),
    ``failed`` (``detail`` is the end of pip's output) or ``missing`` (never built)."""

    state: State
    fraction: float | None = None
    elapsed: float | None = None
    phase: str = ""
    detail: str = ""

    def message(self) -> str:
        """One sentence for a person: what is happening and what to do."""
        if self.state == "ready":
            return "the embedded language model runtime is installed"
        if self.state == "building":
            done = f"{self.fraction:.0%} done, " if self.fraction is not None else ""
            minutes = (self.elapsed or 0) / 60
            return (
                f"voice chat is being prepared: {self.phase or 'building llama.cpp'} ({done}{minutes:.0f} min so "
                f"far; the first build takes about {TYPICAL_BUILD_SECONDS // 60} min on 2 cores). Speech works "
                "meanwhile; voice chat starts working by itself when the build is done"
            )
        if self.state == "failed":
            return (
                "building the embedded language model runtime (llama-cpp-python) failed; run "
                "`parrot models chat-runtime --wait` to retry and see why, or set PARROT_LLM_BASE_URL to use a "
                f"language model server. The end of the build log: {self.detail}"
            )
        return (
            "the embedded language model runtime (llama-cpp-python) is not installed; run `parrot models "
            "chat-runtime` to build it (about 20 min on 2 cores), or set PARROT_LLM_BASE_URL to use a language "
            "model server"
        )

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "message": self.message()}


def runtime_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "chat-runtime"


def requirement() -> str:
    """The pinned requirement of the runtime, read from Parrot's own metadata (the pin lives in pyproject)."""
    for line in importlib.metadata.requires(DISTRIBUTION) or []:
        spec, _, marker = line.partition(";")
        if spec.strip().startswith("llama-cpp-python") and f'extra == "{EXTRA}"' in marker:
            return spec.strip().replace(" ", "")
    raise RuntimeError(f"{DISTRIBUTION} declares no llama-cpp-python in its [{EXTRA}] extra")


def installed() -> bool:
    importlib.invalidate_caches()  # a build that finished after start-up added files to site-packages
    return importlib.util.find_spec(RUNTIME_MODULE) is not None


def status(data_dir: Path) -> RuntimeStatus:
    """The runtime's state now (cheap: a stat, a small JSON file and the end of the log)."""
    if installed():
        return RuntimeStatus("ready")
    record = _read_record(data_dir)
    if record is None:
        return RuntimeStatus("missing")
    elapsed = max(0.0, (record.get("finished") or time.time()) - float(record.get("started", time.time())))
    log = _log_tail(data_dir)
    starting = record.get("pid") is None and elapsed < 30  # start_build is between its two writes
    if record.get("exit") is None and (starting or _alive(record.get("pid"))):
        fraction, phase = _progress(log)
        return RuntimeStatus("building", fraction=fraction, elapsed=elapsed, phase=phase)
    if record.get("exit") == 0:  # installed, yet not importable: another interpreter, or removed since
        return RuntimeStatus("missing")
    lines = [line for line in log.decode("utf-8", "replace").splitlines() if line.strip()]
    reason = "the build stopped before it finished" if record.get("exit") is None else f"pip exited {record['exit']}"
    return RuntimeStatus("failed", elapsed=elapsed, detail=f"{reason}: " + " | ".join(lines[-6:])[-600:])


def start_build(data_dir: Path, *, python: str | None = None, spec: str | None = None) -> RuntimeStatus:
    """Start building the runtime in a detached background process unless it is installed or being built.
    Returns the state after the call (``building`` when a build was started or is running)."""
    folder = runtime_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two servers starting at once start one build
        current = status(data_dir)
        if current.state in ("ready", "building"):
            return current
        command = [python or sys.executable, "-m", "parrot.chat.runtime", str(data_dir), spec or requirement()]
        record = {"pid": None, "started": time.time(), "spec": command[-1], "exit": None}
        _write_record(data_dir, record)
        with open(folder / "build.log", "wb") as log:
            child = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        now = _read_record(data_dir)
        if now is not None and now.get("pid") is None:  # the builder has not recorded itself yet
            _write_record(data_dir, {**record, "pid": child.pid})
    return status(data_dir)


def wait(data_dir: Path, *, poll: float = 2.0, timeout: float | None = None) -> RuntimeStatus:
    """Block until the build is no longer running (or ``timeout`` seconds have passed)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        current = status(data_dir)
        if current.state != "building" or (deadline is not None and time.monotonic() >= deadline):
            return current
        time.sleep(poll)


def _build(data_dir: Path, spec: str) -> int:
    """The detached builder: pip installs ``spec`` into this interpreter at low priority, then records how
    it ended. Its stdout is ``build.log``."""
    with contextlib.suppress(OSError):
        os.nice(10)
    record = {**(_read_record(data_dir) or {"started": time.time(), "spec": spec}), "pid": os.getpid(), "exit": None}
    _write_record(data_dir, record)
    print(f"parrot: installing {spec} (compiles llama.cpp when no built wheel is cached)", flush=True)
    code = subprocess.call([sys.executable, "-m", "pip", "install", "-v", "--no-input", spec], stdin=subprocess.DEVNULL)
    _write_record(data_dir, {**record, "exit": code, "finished": time.time()})
    return code


def _progress(log: bytes) -> tuple[float | None, str]:
    steps = _STEP.findall(log)
    if steps:
        done, total = (int(x) for x in steps[-1])
        return (min(done / total, 1.0) if total else None), "compiling llama.cpp"
    percents = _PERCENT.findall(log)
    if percents:
        return min(int(percents[-1]) / 100, 1.0), "compiling llama.cpp"
    if b"Building wheel" in log or b"cmake" in log.lower():
        return None, "configuring the llama.cpp build"
    if b"Installing collected packages" in log:
        return None, "installing"
    return None, "downloading llama-cpp-python"


def _alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a reused pid belongs to some other program
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc (macOS): trust the pid
    if b"parrot.chat.runtime" not in cmdline:
        return False
    try:  # a builder that died but was not yet reaped by the server that started it
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][:1] != "Z"
    except (OSError, IndexError):
        return True


def _read_record(data_dir: Path) -> dict | None:
    try:
        record = json.loads((runtime_dir(data_dir) / "build.json").read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _write_record(data_dir: Path, record: dict) -> None:
    write_atomically(runtime_dir(data_dir) / "build.json", json.dumps(record).encode())


def _log_tail(data_dir: Path) -> bytes:
    try:
        with open(runtime_dir(data_dir) / "build.log", "rb") as log:
            log.seek(0, os.SEEK_END)
            log.seek(max(0, log.tell() - _LOG_TAIL))
            return log.read()
    except OSError:
        return b""


if __name__ == "__main__":  # python -m parrot.chat.runtime DATA_DIR SPEC (started by start_build)
    sys.exit(_build(Path(sys.argv[1]), sys.argv[2]))
