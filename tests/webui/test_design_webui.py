"""The web UI's voice design tab and consent fields in headless Chromium, against a real server."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from chromium import launch_chromium, open_page

from parrot.audio import encode

pytestmark = pytest.mark.slow
TIMEOUT_MS = 90_000


@pytest.fixture(scope="module")
def clip(tts, tmp_path_factory) -> Path:  # noqa: ANN001
    speech = tts.say("The quick brown fox jumps over the lazy dog, and then it runs far away.", "jm_kumo")
    path = tmp_path_factory.mktemp("design-webui") / "clip.wav"
    path.write_bytes(encode(speech.audio, speech.sample_rate, "wav"))
    return path


def test_design_preview_and_save(url: str, shots: Path) -> None:
    with launch_chromium() as browser, open_page(browser, url, "#design-a option") as page:
        page.click("#tab-design")
        assert page.locator("#generate").is_hidden()  # the tab has its own buttons
        page.select_option("#design-a", "jf_alpha")
        page.select_option("#design-b", "jm_kumo")
        for slider, value in (("mix", "0.4"), ("pitch", "-3"), ("brightness", "2"), ("breathiness", "0.2")):
            page.locator(f"#design-{slider}").fill(value)
        assert page.locator("#design-mix-value").text_content() == "40%"
        assert page.locator("#design-pitch-value").text_content() == "-3"
        page.fill("#design-text", "This is my new voice.")
        page.click("#design-preview")
        page.wait_for_function("() => isFinite(document.querySelector('#design-player').duration)", timeout=TIMEOUT_MS)
        assert page.eval_on_selector("#design-player", "el => el.duration") > 0.8
        page.fill("#design-name", "ui_designed")
        page.click("#design-save")
        page.wait_for_selector("#voices tr[data-voice='ui_designed'] small.designed", timeout=TIMEOUT_MS)
        page.screenshot(path=shots / "design.png", full_page=True)
    info = httpx.get(f"{url}/v1/audio/voices/ui_designed").json()
    assert info["design"]["blend"] == [["jf_alpha", 0.6], ["jm_kumo", 0.4]]
    assert info["design"]["adjust"]["pitch"] == -3.0 and info["design"]["adjust"]["brightness"] == 2.0
    httpx.delete(f"{url}/v1/audio/voices/ui_designed")


def test_clone_saved_with_consent_shows_it(url: str, clip: Path) -> None:
    with launch_chromium() as browser, open_page(browser, url, "#pretrained-voice option") as page:
        page.click("#tab-clone")
        page.set_input_files("#clone-file", str(clip))
        filled = "() => document.querySelector('#clone-transcript').value.length > 20"
        page.wait_for_function(filled, timeout=TIMEOUT_MS)
        page.fill("#clone-name", "ui_consent")
        page.fill("#clone-consent-by", "Grace Hopper")
        page.fill("#clone-consent-text", "I agree to have my voice cloned for this test.")
        page.click("#clone-save")
        note = page.locator("#voices tr[data-voice='ui_consent'] small.consent")
        note.wait_for(timeout=TIMEOUT_MS)
        assert note.text_content().startswith("consent: Grace Hopper, 20")
        assert note.get_attribute("title") == "I agree to have my voice cloned for this test."
    info = httpx.get(f"{url}/v1/audio/voices/ui_consent").json()
    assert info["consent"]["by"] == "Grace Hopper"
    httpx.delete(f"{url}/v1/audio/voices/ui_consent")
