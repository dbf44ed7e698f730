"""The "Train a voice" tab in headless Chromium: add clips (uploaded and recorded), start a tiny training,
watch the progress, then use the voice. Skipped, saying why, when the browser cannot be launched."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from chromium import launch_chromium, open_page

from parrot.audio import encode

pytestmark = pytest.mark.slow

SENTENCES = (
    "The quick brown fox jumps over the lazy dog, and then it runs far away into the quiet green forest.",
    "Every morning the old keeper walked down to the harbour to count the boats and talk with the fishermen.",
)
TRAIN_TIMEOUT_MS = 300_000
SEEN_STATUS = """() => {
  window.seenStatus = [];
  new MutationObserver(() => window.seenStatus.push(document.querySelector('#train-status').textContent))
    .observe(document.querySelector('#train-status'), { childList: true, characterData: true, subtree: true });
}"""
FAKE_MIC = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]


@pytest.fixture(scope="module")
def clips(tts, tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("train-webui")
    paths = []
    for i, sentence in enumerate(SENTENCES):
        speech = tts.say(sentence, "jm_kumo")
        path = folder / f"clip{i}.wav"
        path.write_bytes(encode(speech.audio, speech.sample_rate, "wav"))
        paths.append(path)
    return paths


def test_train_a_voice_watch_progress_and_use_it(url, clips, shots) -> None:
    with (
        launch_chromium(FAKE_MIC) as browser,
        open_page(browser, url, "#pretrained-voice option", ["microphone"]) as page,
    ):
        page.click("#tab-train")
        assert page.locator("#generate-controls").is_hidden()
        page.click("#train-start")  # nothing to train on yet: the page says what is missing
        assert "name" in (page.locator("#error").text_content() or "")
        page.fill("#train-name", "webui-trained")

        page.set_input_files("#train-file", [str(p) for p in clips])
        assert page.locator("#train-clips li").count() == 2
        page.click("#train-record")  # a recording is added to the list (the fake microphone beeps: removed)
        page.wait_for_timeout(1200)
        page.click("#train-record")
        page.locator("#train-clips li").nth(2).wait_for(timeout=10_000)
        page.locator("#train-clips li").nth(2).locator("button.remove").click()
        assert page.locator("#train-clips li").count() == 2
        page.locator("#train-clips li .train-text").first.fill(SENTENCES[0])

        page.fill("#train-minutes", "0.1")
        page.evaluate(SEEN_STATUS)  # every status text shown, however briefly
        page.click("#train-start")
        page.wait_for_function("() => document.querySelector('#train-cancel').disabled === false", timeout=30_000)
        assert page.locator("#train-start").is_disabled()
        progress_shown = "() => window.seenStatus.some((text) => / left$/.test(text))"
        try:
            page.wait_for_function(progress_shown, timeout=TRAIN_TIMEOUT_MS)
        except Exception:  # say what the page showed instead (e.g. "Training failed: ...")
            raise AssertionError(page.evaluate("() => window.seenStatus")) from None
        page.screenshot(path=shots / "train-progress.png", full_page=True)
        page.wait_for_function(
            "() => ['done', 'failed'].includes(document.querySelector('#train-status').dataset.state)",
            timeout=TRAIN_TIMEOUT_MS,
        )
        assert page.locator("#train-status").get_attribute("data-state") == "done", page.locator(
            "#train-status"
        ).text_content()
        assert page.eval_on_selector("#train-progress", "el => el.value") == 1
        row = page.locator('#voices tr[data-voice="webui-trained"]')
        row.wait_for(timeout=10_000)
        assert not row.locator("button.delete").is_disabled()  # a saved voice: it can be renamed and deleted
        page.screenshot(path=shots / "train-done.png", full_page=True)
        progress = [text for text in page.evaluate("window.seenStatus") if text.startswith("Training:")]
        assert any(re.search(r"\d+% · step [1-9]\d* · loss \d\.\d{3} · \d\d:\d\d left", x) for x in progress), progress

        page.click("#train-use")
        assert page.locator("#mode-pretrained").is_visible()
        page.wait_for_function("() => document.querySelector('#pretrained-voice').value === 'webui-trained'")
        page.fill("#pretrained-text", "My trained voice speaks now.")
        page.locator("#streaming").set_checked(False)
        page.click("#generate")
        page.wait_for_function("() => document.querySelector('#stats').dataset.ttfa", timeout=60_000)
        assert page.locator("#error").is_hidden(), page.locator("#error").text_content()
        assert page.locator("#history li").count() == 1
