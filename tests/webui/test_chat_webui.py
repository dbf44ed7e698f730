"""The web UI's voice chat tab in headless Chromium, with a WAV file as the microphone.

Chromium's fake capture device plays ``conversation.wav``: a request for a long story, a pause, then (while
the long answer is still playing) a second question. The page must show both transcripts, play the first
answer, stop it when the user talks over it (barge-in), show only the part that was heard, have the server
remember only that part, then answer the second question. The language model is the fake
OpenAI-compatible server; speech recognition and synthesis are real.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from chromium import launch_chromium, open_page

from parrot.audio import encode, resample
from parrot.chat.config import ChatSettings
from parrot.server.app import create_app
from parrot.server.settings import ServerSettings
from parrot_dev.background import serve_in_background

pytestmark = pytest.mark.slow
TIMEOUT_MS = 120_000


@pytest.fixture(scope="module")
def conversation_wav(tts, tmp_path_factory) -> Path:
    rate = 48_000

    def said(text: str) -> np.ndarray:
        speech = tts.say(text, "linda")
        return resample(speech.audio, speech.sample_rate, rate)

    def silence(seconds: float) -> np.ndarray:
        return np.zeros(int(seconds * rate), np.float32)

    audio = np.concatenate([
        silence(1.0), said("Please tell me a long story."), silence(10.0),
        said("What is the capital of France?"), silence(90.0),
    ])  # fmt: skip
    path = tmp_path_factory.mktemp("chat-webui") / "conversation.wav"
    path.write_bytes(encode(audio, rate, "wav"))
    return path


@pytest.fixture(scope="module")
def chat_url(tts, fake_llm) -> Iterator[str]:
    url, _ = fake_llm
    settings = ServerSettings(workers=2, max_jobs=8, max_upload_mb=2.0, max_text_chars=2_000)
    app = create_app(tts, settings, ChatSettings(llm_base_url=url, llm_model="fake"))
    with serve_in_background(app, startup_timeout=120) as base:
        yield base


@pytest.fixture
def chat_page(chat_url, conversation_wav: Path):
    microphone = [
        "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={conversation_wav}",
    ]  # fmt: skip
    with (
        launch_chromium(microphone) as browser,
        open_page(browser, chat_url, "#chat-voice option", permissions=["microphone"]) as page,
    ):
        yield page


def test_voice_conversation_with_barge_in(chat_page, shots, fake_llm) -> None:  # noqa: ANN001
    page = chat_page
    page.click("#tab-chat")
    assert page.locator("#generate").is_hidden()  # the text-to-speech controls belong to the other tabs
    page.select_option("#chat-voice", "austen_reader")
    page.click("#chat-start")
    page.wait_for_selector("#chat-log li.bot.interrupted", timeout=TIMEOUT_MS)  # the long answer, talked over
    page.wait_for_selector("#chat-log li.bot.completed", timeout=TIMEOUT_MS)
    users = page.locator("#chat-log li.user").all_text_contents()
    bots = page.locator("#chat-log li.bot").all_text_contents()
    assert len(users) == 2 and "long story" in users[0].lower() and "capital of france" in users[1].lower(), users
    # Only what had begun playing: about 5 s of audio, two or three of the 39 sentences (the rest was written,
    # and most of it synthesized, before the user spoke)
    assert bots[0].startswith("This is sentence number 1") and "number 9 " not in bots[0]
    assert bots[1].startswith("The capital of France is Paris.")
    assert int(page.get_attribute("#chat-log", "data-audio-chunks")) > 2
    first_audio = float(page.get_attribute("#chat-stats", "data-first-audio"))
    assert 0 < first_audio < 10
    assert "voice to first audio" in page.locator("#chat-stats").text_content()
    page.screenshot(path=shots / "voice-chat.png", full_page=True)

    page.fill("#chat-text", "Tell me about France")  # a typed turn in the same conversation
    page.press("#chat-text", "Enter")
    page.wait_for_function("() => document.querySelectorAll('#chat-log li.bot.completed').length === 2",
                           timeout=TIMEOUT_MS)  # fmt: skip
    assert page.locator("#chat-log li.bot").last.text_content().startswith("The capital of France is Paris.")
    _, fake = fake_llm  # the conversation's memory holds the interrupted answer as far as it was heard
    typed = "Tell me about France"
    sent = next(r["messages"] for r in reversed(fake.requests) if r["messages"][-1]["content"] == typed)
    remembered = next(m["content"] for m in sent if m["content"].startswith("This is sentence number 1"))
    assert remembered == bots[0] + " …"
    page.click("#chat-end")
    assert page.locator("#chat-start").is_enabled()
    assert page.locator("#error").is_hidden()
