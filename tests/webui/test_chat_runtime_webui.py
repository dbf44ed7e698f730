"""The voice chat tab while the embedded language model's runtime is still being built (first run): it says
how far the build is, keeps the start button off, and turns it on by itself when the build is done."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time

import pytest
from chromium import launch_chromium, open_page

from parrot.chat import runtime

pytestmark = pytest.mark.slow


def test_chat_tab_follows_the_runtime_build(tts, url, shots, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(runtime, "RUNTIME_MODULE", "parrot_no_such_runtime")
    folder = tts.settings.data_dir / "chat-runtime"
    folder.mkdir()
    builder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", "parrot.chat.runtime"])
    try:
        record = {"pid": builder.pid, "started": time.time() - 120, "spec": "llama-cpp-python", "exit": None}
        (folder / "build.json").write_text(json.dumps(record))
        (folder / "build.log").write_text("[81/162] Building CXX object llama.o\n")
        with launch_chromium() as browser, open_page(browser, url, "#chat-voice option") as page:
            page.click("#tab-chat")
            notice = page.locator("#chat-runtime")
            notice.wait_for(state="visible", timeout=30_000)
            assert "Voice chat is not ready yet" in notice.text_content() and "50% done" in notice.text_content()
            assert page.locator("#chat-start").is_disabled() and page.locator("#chat-send").is_disabled()
            page.screenshot(path=shots / "voice-chat-preparing.png", full_page=True)
            monkeypatch.setattr(runtime, "RUNTIME_MODULE", "llama_cpp")  # the build is done
            notice.wait_for(state="hidden", timeout=30_000)  # the tab looks again every 5 s
            assert page.locator("#chat-start").is_enabled()
    finally:
        builder.kill()
        builder.wait()
        shutil.rmtree(folder)
