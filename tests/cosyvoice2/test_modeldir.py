"""Model directory checks and the resumable download, against a local stand-in hub (no internet used)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from parrot.engines.cosyvoice2.modeldir import MODEL_FILES, download
from parrot.errors import InputError, ModelError

FILES = {name: (name * 1000).encode() for name in MODEL_FILES if name != "CosyVoice-BlankEN"}
FILES["CosyVoice-BlankEN/config.json"] = b'{"hidden_size": 896}'


class FakeHub(BaseHTTPRequestHandler):
    """Hugging Face's file listing and ``resolve`` URLs, with Range support; records the Range headers."""

    ranges: list[str | None] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        prefix = "/FunAudioLLM/CosyVoice2-0.5B/resolve/main/"
        if self.path == "/api/models/FunAudioLLM/CosyVoice2-0.5B":
            self._send(200, json.dumps({"siblings": [{"rfilename": n} for n in FILES]}).encode())
        elif self.path.startswith(prefix) and self.path[len(prefix) :] in FILES:
            body, wanted = FILES[self.path[len(prefix) :]], self.headers.get("Range")
            FakeHub.ranges.append(wanted)
            if wanted:
                start = int(wanted.removeprefix("bytes=").rstrip("-"))
                self._send(206, body[start:], {"Content-Range": f"bytes {start}-{len(body) - 1}/{len(body)}"})
            else:
                self._send(200, body)
        else:
            self._send(404, b"not found")

    def _send(self, code: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        for key, value in {"Content-Length": str(len(body)), **(headers or {})}.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hub() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeHub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    FakeHub.ranges = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_plain_http_download_resumes_a_partial_file(hub: str, tmp_path: Path) -> None:
    (tmp_path / "llm.pt.part").write_bytes(FILES["llm.pt"][:1234])
    (tmp_path / "hift.pt").write_bytes(FILES["hift.pt"])  # already complete: not fetched again
    messages: list[str] = []
    download(tmp_path, "huggingface", endpoint=hub, use_hub=False, progress=messages.append)
    for name, body in FILES.items():
        assert (tmp_path / name).read_bytes() == body
    assert "bytes=1234-" in FakeHub.ranges and len(FakeHub.ranges) == len(FILES) - 1
    assert any("resuming at 1234 bytes" in m for m in messages)
    assert not list(tmp_path.glob("*.part"))


def closed_port() -> str:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


@pytest.mark.parametrize("use_hub", [False, True])
def test_offline_download_fails_with_a_clear_message(tmp_path: Path, use_hub: bool) -> None:
    if use_hub:
        pytest.importorskip("huggingface_hub")
    started = time.monotonic()
    with pytest.raises(ModelError) as err:
        download(tmp_path / "m", "huggingface", endpoint=closed_port(), use_hub=use_hub)
    message = str(err.value)
    assert "could not download FunAudioLLM/CosyVoice2-0.5B" in message and "internet connection" in message
    assert "--model-dir" in message and time.monotonic() - started < 60


def test_incomplete_repository_is_reported(hub: str, tmp_path: Path) -> None:
    del FILES["flow.pt"]
    try:
        with pytest.raises(ModelError, match=r"missing flow\.pt"):
            download(tmp_path, "huggingface", endpoint=hub, use_hub=False)
    finally:
        FILES["flow.pt"] = b"flow.pt" * 1000


def test_unknown_source() -> None:
    with pytest.raises(InputError, match="huggingface or modelscope"):
        download(Path("/nonexistent"), "github")
