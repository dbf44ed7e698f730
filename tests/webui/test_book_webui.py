"""The "Audiobook" tab in headless Chromium: a bad file is refused with the server's message; a small book
is read with progress shown, then its chaptered audio and subtitles download. Skipped, saying why, when
the browser cannot be launched."""

from __future__ import annotations

from pathlib import Path

import pytest
from chromium import launch_chromium, open_page

from parrot.audio import read_chapters

pytestmark = pytest.mark.slow

BOOK = "# A Tiny Book\n\n## First\n\nThe parrot woke up early.\n\n## Second\n\nThen it sang a song.\n"
SEEN_STATUS = """() => {
  window.seenStatus = [];
  new MutationObserver(() => window.seenStatus.push(document.querySelector('#book-status').textContent))
    .observe(document.querySelector('#book-status'), { childList: true, characterData: true, subtree: true });
}"""


def test_read_a_book_with_progress_and_download(url, shots, tmp_path: Path) -> None:
    bad = tmp_path / "locked.epub"
    bad.write_bytes(b"PK\x03\x04 not really an epub")
    book = tmp_path / "tiny.md"
    book.write_text(BOOK, encoding="utf-8")
    with launch_chromium() as browser, open_page(browser, url, "#book-voice option") as page:
        page.click("#tab-book")
        assert page.locator("#generate-controls").is_hidden()
        page.click("#book-start")
        assert "Choose a book" in (page.locator("#error").text_content() or "")
        page.set_input_files("#book-file", str(bad))
        page.click("#book-start")
        page.wait_for_function("() => /damaged/.test(document.querySelector('#error').textContent)")

        page.set_input_files("#book-file", str(book))
        page.select_option("#book-format", "mp3")
        page.select_option("#book-voice", "jm_kumo")
        page.evaluate(SEEN_STATUS)
        page.click("#book-start")
        page.wait_for_function("() => document.querySelector('#book-status').dataset.state === 'done'", timeout=120_000)
        assert page.locator("#error").is_hidden(), page.locator("#error").text_content()
        seen = page.evaluate("window.seenStatus")
        assert any("“A Tiny Book”: " in s and "% · chapter " in s for s in seen), seen
        assert page.locator("#book-status").text_content() == "“A Tiny Book” is ready: 2 chapters."
        assert page.eval_on_selector("#book-progress", "el => el.value") == 1
        page.screenshot(path=shots / "book-done.png", full_page=True)

        with page.expect_download() as download:
            page.click("#book-download")
        saved = tmp_path / download.value.suggested_filename
        download.value.save_as(saved)
        assert saved.name == "A Tiny Book.mp3"
        assert [c[0] for c in read_chapters(saved)] == ["First", "Second"]
        with page.expect_download() as download:
            page.click("#book-subtitles")
        download.value.save_as(tmp_path / "tiny.srt")
        assert "The parrot woke up early." in (tmp_path / "tiny.srt").read_text(encoding="utf-8")
