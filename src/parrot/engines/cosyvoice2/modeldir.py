"""The CosyVoice2-0.5B model directory: what it must hold, and downloading it (resumable).

Torch-free, so ``parrot models download`` works without the engine's extra installed. Downloads use
``huggingface_hub.snapshot_download`` when it is importable (Hugging Face source), otherwise plain HTTP:
the file list from the hub's API, then each file fetched into ``<name>.part`` with ``Range`` requests
so an interrupted download continues where it stopped, and renamed into place when complete.
"""

from __future__ import annotations

import json
import os
import shutil
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

from ...errors import InputError, ModelError

MODEL_FILES = ("cosyvoice2.yaml", "llm.pt", "flow.pt", "hift.pt", "campplus.onnx", "speech_tokenizer_v2.onnx",
               "CosyVoice-BlankEN")  # fmt: skip
DOWNLOAD_HINT = "parrot models download cosyvoice2"
REPOS = {"huggingface": "FunAudioLLM/CosyVoice2-0.5B", "modelscope": "iic/CosyVoice2-0.5B"}
ENDPOINTS = {"huggingface": "https://huggingface.co", "modelscope": "https://www.modelscope.cn"}
_CHUNK = 1 << 20
_TIMEOUT = 30.0


def check_model_dir(model_dir: Path) -> None:
    """Raise ``ModelError`` naming every missing file of a CosyVoice2-0.5B directory."""
    if not model_dir.is_dir():
        raise ModelError(f"no CosyVoice2 model at {model_dir}; download it with `{DOWNLOAD_HINT}` "
                         "or point PARROT_MODEL_DIR (--model-dir) at a CosyVoice2-0.5B directory")  # fmt: skip
    missing = [name for name in MODEL_FILES if not (model_dir / name).exists()]
    if missing:
        raise ModelError(f"the CosyVoice2 model at {model_dir} is incomplete (missing {', '.join(missing)}); "
                         f"finish the download with `{DOWNLOAD_HINT}`")  # fmt: skip


def download(
    target: Path,
    source: str = "huggingface",
    *,
    endpoint: str | None = None,
    progress: Callable[[str], None] | None = None,
    use_hub: bool | None = None,
) -> Path:
    """Download CosyVoice2-0.5B into ``target`` (resuming a partial download) and check it is complete.

    ``endpoint`` overrides the source's base URL (a mirror). ``use_hub`` forces or forbids
    ``huggingface_hub`` (default: use it for Hugging Face when installed).
    """
    if source not in REPOS:
        raise InputError(f"unknown model source {source!r}; use {' or '.join(REPOS)}")
    say = progress or (lambda _message: None)
    repo, base = REPOS[source], (endpoint or ENDPOINTS[source]).rstrip("/")
    target.mkdir(parents=True, exist_ok=True)
    if use_hub is None:
        use_hub = source == "huggingface" and _hub_available()
    try:
        if use_hub:
            from huggingface_hub import snapshot_download

            say(f"downloading {repo} from {base} with huggingface_hub into {target}")
            snapshot_download(repo_id=repo, local_dir=str(target), endpoint=base)
        else:
            files = _list_files(source, repo, base)
            say(f"downloading {len(files)} files of {repo} from {base} into {target}")
            for path, url in files:
                _fetch(url, target / path, say)
    except ModelError:
        raise
    except Exception as exc:  # URLError, OSError, the hub's HTTP and offline errors...
        raise ModelError(
            f"could not download {repo} from {base}: {_reason(exc)}. Check the internet connection (or use "
            f"--source {'modelscope' if source == 'huggingface' else 'huggingface'}, or a mirror), or copy a "
            "CosyVoice2-0.5B directory here by other means and pass --model-dir; finished files are kept and "
            "a new run resumes"
        ) from exc
    check_model_dir(target)
    return target


def _hub_available() -> bool:
    try:
        import huggingface_hub  # noqa: F401
    except ImportError:
        return False
    return True


def _reason(exc: BaseException) -> str:
    """The root cause in one line (the hub wraps connection errors in its own)."""
    while exc.__cause__ is not None or (exc.__context__ is not None and not exc.__suppress_context__):
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        return f"cannot connect ({exc.reason})"
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _get_json(url: str) -> object:
    with urllib.request.urlopen(url, timeout=_TIMEOUT) as response:  # noqa: S310 - fixed https endpoints
        return json.load(response)


def _list_files(source: str, repo: str, base: str) -> list[tuple[str, str]]:
    """``(relative path, download URL)`` of every file in the repository."""
    quoted = urllib.parse.quote(repo)
    if source == "huggingface":
        info = _get_json(f"{base}/api/models/{quoted}")
        names = [s["rfilename"] for s in info.get("siblings", [])] if isinstance(info, dict) else []
        files = [(n, f"{base}/{quoted}/resolve/main/{urllib.parse.quote(n)}") for n in names]
    else:
        info = _get_json(f"{base}/api/v1/models/{quoted}/repo/files?Recursive=true")
        entries = info.get("Data", {}).get("Files", []) if isinstance(info, dict) else []
        names = [e["Path"] for e in entries if e.get("Type") == "blob"]
        files = [(n, f"{base}/api/v1/models/{quoted}/repo?Revision=master&FilePath={urllib.parse.quote(n)}")
                 for n in names]  # fmt: skip
    if not files:
        raise ModelError(f"{base} lists no files for {repo}")
    for name, _ in files:
        if name.startswith("/") or ".." in Path(name).parts:
            raise ModelError(f"{base} lists an unsafe file name {name!r}")
    return files


def _fetch(url: str, path: Path, say: Callable[[str], None]) -> None:
    """Download ``url`` to ``path`` via ``path.part``, continuing a partial ``.part`` with a Range request."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=_TIMEOUT)  # noqa: S310
    except urllib.error.HTTPError as exc:
        if exc.code != 416:  # 416: the part file is already whole
            raise
        os.replace(part, path)
        return
    with response:
        resumed = have and response.status == 206
        say(f"{path.name}: {'resuming at ' + str(have) + ' bytes' if resumed else 'downloading'}")
        with open(part, "ab" if resumed else "wb") as out:
            shutil.copyfileobj(response, out, _CHUNK)
    os.replace(part, path)
