"""How long a new user waits: ``./run.sh`` on a fresh clone, with a new virtualenv, a new data directory and
(with ``--cold-cache``) an empty pip cache, until the server speaks.

    python bench/first_run.py [--repo .] [--cold-cache] [--keep]

Prints the seconds until ``/healthz`` answers and until a first ``POST /v1/audio/speech`` returns audio,
and the state of voice chat's runtime at that moment (its build goes on in the background: this script
stops it, and the server, before it exits, unless ``--keep``)."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str, data: bytes | None = None) -> tuple[int, bytes]:
    headers = {"Content-Type": "application/json"} if data else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers), timeout=120) as r:
            return r.status, r.read()
    except OSError:
        return 0, b""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", default=str(Path(__file__).resolve().parents[1]), help="git repository to clone")
    parser.add_argument("--cold-cache", action="store_true", help="an empty pip cache (everything downloaded/built)")
    parser.add_argument("--keep", action="store_true", help="leave the clone and its build running")
    parser.add_argument("--timeout", type=float, default=3600)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="parrot-first-run-"))
    subprocess.run(["git", "clone", "-q", args.repo, str(root / "parrot")], check=True)
    port = free_port()
    env = {**os.environ, "PARROT_DATA_DIR": str(root / "data"), "PARROT_PORT": str(port)}
    env.pop("VIRTUAL_ENV", None)
    if args.cold_cache:
        env["PIP_CACHE_DIR"] = str(root / "pip-cache")
    log = open(root / "run.log", "wb")  # noqa: SIM115 - the server writes to it until the end
    started = time.monotonic()
    server = subprocess.Popen(["./run.sh"], cwd=root / "parrot", env=env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    healthy = spoke = None
    try:
        while time.monotonic() - started < args.timeout and server.poll() is None:
            if healthy is None and get(f"{base}/healthz")[0] == 200:
                healthy = time.monotonic() - started
            if healthy is not None:
                status, body = get(f"{base}/v1/audio/speech", b'{"input": "Hello, I am ready.", "voice": "linda"}')
                if status == 200 and len(body) > 1000:
                    spoke = time.monotonic() - started
                    break
            time.sleep(0.5)
        chat = get(f"{base}/v1/audio/chat/status")[1].decode("utf-8", "replace")
        print(f"fresh clone {root / 'parrot'}, pip cache {'empty' if args.cold_cache else 'as is'}")
        print(f"/healthz answered after      {healthy:.0f} s" if healthy else "/healthz never answered")
        print(f"first speech returned after  {spoke:.0f} s" if spoke else "no speech")
        print(f"voice chat then: {chat}")
    finally:
        if not args.keep:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=60)
            # the detached runtime build has its own session: find it by its data directory
            for proc in Path("/proc").glob("[0-9]*"):
                try:
                    cmdline = (proc / "cmdline").read_bytes()
                except OSError:
                    continue
                if b"parrot.chat.runtime" in cmdline and str(root / "data").encode() in cmdline:
                    os.killpg(int(proc.name), signal.SIGKILL)
            print(f"stopped; log: {root / 'run.log'}")
    return 0 if spoke else 1


if __name__ == "__main__":
    sys.exit(main())
