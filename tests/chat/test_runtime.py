"""Voice chat's embedded runtime built in the background (``parrot.chat.runtime``): real pip, real detached
builder processes, real status files; the "runtime" is a tiny local package so no compiler is needed."""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
import textwrap
import time
from pathlib import Path

import pytest

from parrot.chat import runtime
from parrot.chat.llm import ChatRuntimeNotReady, EmbeddedModel

SRC = Path(runtime.__file__).resolve().parents[2]


@pytest.fixture
def no_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretend llama-cpp-python is not installed in this interpreter."""
    monkeypatch.setattr(runtime, "RUNTIME_MODULE", "parrot_no_such_runtime")


def probe_package(root: Path, build_seconds: float = 0.0) -> Path:
    """A pure-Python package whose build prints ninja-like steps (what llama-cpp-python's compile shows)."""
    pkg = root / "probe"
    (pkg / "parrot_runtime_probe").mkdir(parents=True)
    (pkg / "parrot_runtime_probe" / "__init__.py").write_text("VALUE = 42\n")
    (pkg / "setup.py").write_text(
        textwrap.dedent(
            f"""
            import sys, time
            from setuptools import setup
            if "bdist_wheel" in sys.argv:
                for step in range(1, 5):
                    print(f"[{{step}}/4] Building CXX object probe{{step}}.o", flush=True)
                    time.sleep({build_seconds} / 4)
            setup(name="parrot-runtime-probe", version="1.0", packages=["parrot_runtime_probe"])
            """
        )
    )
    return pkg


def scratch_python(root: Path) -> tuple[str, Path]:
    """A bare venv that sees this one's packages (pip, parrot) but installs into its own site-packages."""
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next((venv / "lib").glob("python3*/site-packages"))
    (site / "parent.pth").write_text(f"{sysconfig.get_paths()['purelib']}\n{SRC}\n")
    return str(venv / "bin" / "python"), site


def test_progress_is_read_from_the_compilers_steps() -> None:
    assert runtime._progress(b"Collecting llama-cpp-python==0.3.36\n  Downloading llama_cpp_python.tar.gz") == (
        None,
        "downloading llama-cpp-python",
    )
    assert runtime._progress(b"Building wheel for llama-cpp-python (pyproject.toml)\n-- The C compiler")[0] is None
    log = b"*** Building project with Ninja...\n[1/162] Building C object ggml.c.o\n[81/162] Building CXX object x\n"
    assert runtime._progress(log) == (0.5, "compiling llama.cpp")
    make = b"[  7%] Building C object a\n[ 45%] Building CXX object b\n"
    assert runtime._progress(make) == (0.45, "compiling llama.cpp")


def test_status_when_installed_missing_and_never_built(tmp_path: Path, no_runtime: None) -> None:
    assert runtime.status(tmp_path).state == "missing"
    assert "parrot models chat-runtime" in runtime.status(tmp_path).message()


def test_installed_runtime_is_ready(tmp_path: Path) -> None:
    # this interpreter has llama-cpp-python (the test extra installs it)
    assert runtime.status(tmp_path).state == "ready"
    assert runtime.start_build(tmp_path).state == "ready"
    assert not (tmp_path / "chat-runtime" / "build.json").exists()  # nothing was started


def test_the_pin_comes_from_parrots_own_metadata() -> None:
    assert runtime.requirement().startswith("llama-cpp-python==")


def test_a_failed_build_reports_pips_error_and_can_be_retried(tmp_path: Path, no_runtime: None) -> None:
    spec = str(tmp_path / "no-such-package-dir")
    first = runtime.start_build(tmp_path, spec=spec)
    assert first.state == "building"
    done = runtime.wait(tmp_path, poll=0.2, timeout=120)
    assert done.state == "failed"
    assert "pip exited 1" in done.detail and "no-such-package-dir" in done.detail
    assert "parrot models chat-runtime --wait" in done.message()
    record = json.loads((tmp_path / "chat-runtime" / "build.json").read_text())
    assert record["exit"] == 1 and record["spec"] == spec
    # a failed build is started again on request (never automatically by EmbeddedModel.load: see below)
    assert runtime.start_build(tmp_path, spec=spec).state == "building"
    assert runtime.wait(tmp_path, poll=0.2, timeout=120).state == "failed"


def test_a_background_build_installs_the_runtime_and_reports_progress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    python, site = scratch_python(tmp_path)
    # "installed" means importable by the interpreter that runs the server: here, the scratch venv
    monkeypatch.setattr(runtime, "installed", lambda: (site / "parrot_runtime_probe" / "__init__.py").exists())
    started = time.monotonic()
    status = runtime.start_build(tmp_path, python=python, spec=str(probe_package(tmp_path, build_seconds=8)))
    assert status.state == "building"
    # a second start while it runs does not start another build
    pid = json.loads((tmp_path / "chat-runtime" / "build.json").read_text())["pid"]
    assert runtime.start_build(tmp_path, python=python, spec="unused").state == "building"
    assert json.loads((tmp_path / "chat-runtime" / "build.json").read_text())["pid"] == pid
    fractions = set()
    while (status := runtime.status(tmp_path)).state == "building" and time.monotonic() - started < 120:
        if status.fraction is not None:
            fractions.add(status.fraction)
            assert status.phase == "compiling llama.cpp" and "done" in status.message()
        time.sleep(0.1)
    assert status.state == "ready", status
    assert fractions and max(fractions) <= 1.0  # the steps were seen while it ran
    out = subprocess.run([python, "-c", "import parrot_runtime_probe as p; print(p.VALUE)"], capture_output=True)
    assert out.stdout.strip() == b"42"
    deadline = time.monotonic() + 60  # pip has put the files in place; the builder records the end right after
    while (record := json.loads((tmp_path / "chat-runtime" / "build.json").read_text()))["exit"] is None:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert record["exit"] == 0 and record["finished"] >= record["started"]


def test_first_use_of_the_embedded_model_starts_the_build_and_says_so(
    tmp_path: Path, no_runtime: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime, "requirement", lambda: str(tmp_path / "no-such-package-dir"))  # fails fast
    with pytest.raises(ChatRuntimeNotReady) as caught:
        EmbeddedModel.load("qwen2.5-0.5b", tmp_path)
    assert caught.value.status.state == "building"
    assert "voice chat is being prepared" in str(caught.value) and "Speech works meanwhile" in str(caught.value)
    assert json.loads((tmp_path / "chat-runtime" / "build.json").read_text())["spec"].endswith("no-such-package-dir")
    assert runtime.wait(tmp_path, poll=0.2, timeout=120).state == "failed"


def test_a_failed_build_is_not_restarted_by_every_request(tmp_path: Path, no_runtime: None) -> None:
    folder = tmp_path / "chat-runtime"
    folder.mkdir()
    (folder / "build.json").write_text(json.dumps({"pid": 1, "started": time.time() - 60, "exit": 1}))
    (folder / "build.log").write_text("error: command 'cmake' failed\n")
    with pytest.raises(ChatRuntimeNotReady) as caught:
        EmbeddedModel.load("qwen2.5-0.5b", tmp_path)
    assert caught.value.status.state == "failed" and "cmake" in str(caught.value)
    assert json.loads((folder / "build.json").read_text())["exit"] == 1  # untouched


def test_a_dead_builder_is_a_failed_build(tmp_path: Path, no_runtime: None) -> None:
    folder = tmp_path / "chat-runtime"
    folder.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (folder / "build.json").write_text(json.dumps({"pid": dead.pid, "started": time.time() - 600, "exit": None}))
    status = runtime.status(tmp_path)
    assert status.state == "failed" and "stopped before it finished" in status.detail
