"""The web UI end to end: a real server on a free loopback port, driven in headless Chromium by Playwright.

Needs Debian's ``chromium`` (``/usr/bin/chromium``, or ``PARROT_CHROMIUM``) and the ``playwright`` package;
the module is skipped, saying why, when the browser cannot be launched. Screenshots of each mode go to
``artifacts/webui/``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from chromium import launch_chromium, open_page

from parrot.audio import encode

pytestmark = pytest.mark.slow

CLIP_TEXT = "The quick brown fox jumps over the lazy dog, and then it runs far away into the quiet green forest."
TIMEOUT_MS = 90_000


@pytest.fixture(scope="module")
def browser():
    with launch_chromium() as browser:
        yield browser


@pytest.fixture
def page(browser, url):
    with open_page(browser, url, "#pretrained-voice option") as page:
        yield page


@pytest.fixture(scope="module")
def clip(tts, tmp_path_factory) -> Path:
    speech = tts.say(CLIP_TEXT, "jm_kumo")
    path = tmp_path_factory.mktemp("webui") / "clip.wav"
    path.write_bytes(encode(speech.audio, speech.sample_rate, "wav"))
    return path


def generate(page, streaming: bool) -> dict[str, float]:
    page.locator("#streaming").set_checked(streaming)
    page.locator("#stats").evaluate("el => { delete el.dataset.ttfa; el.textContent = ''; }")
    page.click("#generate")
    page.wait_for_function(
        "() => document.querySelector('#stats').dataset.ttfa || !document.querySelector('#error')"
        ".classList.contains('hidden')",
        timeout=TIMEOUT_MS,
    )
    error = page.locator("#error")
    assert error.is_hidden(), f"the page shows an error: {error.text_content()}"
    stats = page.locator("#stats")
    text = stats.text_content() or ""
    assert "first audio" in text and "RTF" in text, text
    return {key: float(stats.get_attribute(f"data-{key}")) for key in ("ttfa", "rtf", "total")}


def player_seconds(page) -> float:
    page.wait_for_function("() => isFinite(document.querySelector('#player').duration)", timeout=10_000)
    return page.eval_on_selector("#player", "el => el.duration")


def test_page_loads_with_eight_modes_and_voices(page, url, shots) -> None:
    assert page.title() == "Parrot"
    tabs = page.locator(".tab")
    assert tabs.count() == 8
    assert tabs.all_text_contents() == [
        "Pretrained voice", "3-second clone", "Cross-lingual clone", "Natural-language control", "Voice chat",
        "Train a voice", "Design a voice", "Audiobook",
    ]  # fmt: skip
    assert page.locator("#voices tbody tr").count() >= 5
    page.click("#lang-toggle")
    zh_tabs = ["预训练音色", "3s极速复刻", "跨语种复刻", "自然语言控制", "语音对话", "训练音色", "设计音色", "有声书"]
    assert page.locator(".tab").all_text_contents() == zh_tabs
    page.screenshot(path=shots / "zh-pretrained.png", full_page=True)
    page.click("#lang-toggle")
    assert page.locator("#tab-pretrained").text_content() == "Pretrained voice"


def test_pretrained_generates_whole_file_and_stream(page, shots) -> None:
    page.select_option("#pretrained-voice", "linda")
    page.fill("#pretrained-text", "Hello there, this is a short test of the web page.")
    whole = generate(page, streaming=False)
    assert whole["ttfa"] > 0 and whole["rtf"] > 0
    assert player_seconds(page) > 1.0
    streamed = generate(page, streaming=True)
    assert streamed["ttfa"] > 0 and streamed["rtf"] > 0
    assert streamed["ttfa"] < 0.8 * streamed["total"], streamed  # playback started before the end
    assert player_seconds(page) > 1.0
    assert page.locator("#history li").count() == 2
    assert page.get_attribute("#download", "href").startswith("blob:")
    page.screenshot(path=shots / "pretrained.png", full_page=True)


def test_clone_upload_fills_transcript_and_generates(page, clip, shots) -> None:
    page.click("#tab-clone")
    page.set_input_files("#clone-file", str(clip))
    page.wait_for_function("() => document.querySelector('#clone-transcript').value.length > 20", timeout=TIMEOUT_MS)
    transcript = page.input_value("#clone-transcript").lower()
    assert "fox" in transcript or "forest" in transcript, transcript
    page.fill("#clone-text", "Nice to meet you.")
    stats = generate(page, streaming=True)
    assert stats["rtf"] > 0
    assert player_seconds(page) > 0.5
    page.screenshot(path=shots / "clone.png", full_page=True)


def test_bad_upload_shows_the_api_message(page, tmp_path) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("this is not audio at all\n" * 20)
    page.click("#tab-clone")
    page.set_input_files("#clone-file", str(bad))
    error = page.locator("#error")
    error.wait_for(state="visible", timeout=30_000)
    message = error.text_content() or ""
    assert message.startswith("file:"), message
    assert "Traceback" not in message and "{" not in message


def test_cross_lingual_and_instruct_modes(page, clip, shots) -> None:
    page.click("#tab-cross")
    page.set_input_files("#cross-file", str(clip))
    page.screenshot(path=shots / "cross-lingual.png", full_page=True)
    page.click("#tab-instruct")
    page.locator("#instruct-examples .chip").first.click()
    assert page.input_value("#instruct-instruction")
    page.fill("#instruct-text", "We made it!")
    generate(page, streaming=False)
    understood = page.locator("#understood")
    assert understood.is_visible() and "happy" in (understood.text_content() or "")
    assert not page.locator("#warning").is_visible()
    page.screenshot(path=shots / "instruct.png", full_page=True)
    page.fill("#instruct-instruction", "用四川话说")  # beyond the embedded engine: the page says so
    generate(page, streaming=True)
    warning = page.locator("#warning")
    assert warning.is_visible() and "dialects" in (warning.text_content() or "")


def test_cross_lingual_generates(page, clip) -> None:
    page.click("#tab-cross")
    page.set_input_files("#cross-file", str(clip))
    page.fill("#cross-text", "你好，很高兴认识你。")
    stats = generate(page, streaming=False)  # the CosyVoice route's raw PCM, made into a WAV by the page
    assert stats["rtf"] > 0
    assert player_seconds(page) > 0.5


def test_voice_library_save_rename_export_import_delete(page, clip, tmp_path, shots) -> None:
    page.on("dialog", lambda dialog: dialog.accept("webui-renamed" if dialog.type == "prompt" else None))
    page.click("#tab-clone")
    page.set_input_files("#clone-file", str(clip))
    page.wait_for_function("() => document.querySelector('#clone-transcript').value.length > 20", timeout=TIMEOUT_MS)
    page.fill("#clone-name", "webui-voice")
    page.check("input[name=clone-route][value=saved]")  # saves the voice, then speaks with /v1/audio/speech
    page.fill("#clone-text", "Saved and speaking.")
    generate(page, streaming=True)
    row = page.locator('#voices tr[data-voice="webui-voice"]')
    row.wait_for(timeout=10_000)
    assert row.locator("td").nth(1).text_content() == "cloned"

    row.locator("button.rename").click()
    renamed = page.locator('#voices tr[data-voice="webui-renamed"]')
    renamed.wait_for(timeout=10_000)
    href = renamed.locator("a.export").get_attribute("href")
    assert href == "/v1/audio/voices/webui-renamed/export"
    exported = page.request.get(page.url.rstrip("/") + href)
    assert exported.status == 200
    voice_file = tmp_path / "webui-renamed.voice"
    voice_file.write_bytes(exported.body())

    page.set_input_files("#import-file", str(voice_file))
    page.fill("#import-name", "webui-imported")
    page.click("#import-button")
    imported = page.locator('#voices tr[data-voice="webui-imported"]')
    imported.wait_for(timeout=10_000)
    page.screenshot(path=shots / "library.png", full_page=True)

    for name in ("webui-renamed", "webui-imported"):
        page.locator(f'#voices tr[data-voice="{name}"] button.delete').click()
        page.locator(f'#voices tr[data-voice="{name}"]').wait_for(state="detached", timeout=10_000)
    assert page.locator("#error").is_hidden()
