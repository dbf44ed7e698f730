"""Headless Chromium for the browser tests: Debian's ``chromium`` (``/usr/bin/chromium``, or
``PARROT_CHROMIUM``) driven by Playwright. A test that cannot get a browser is skipped, saying why."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("PARROT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]  # fmt: skip


@contextmanager
def launch_chromium(extra_args: Sequence[str] = ()) -> Iterator[Any]:
    """A running headless Chromium (Playwright ``Browser``), closed afterwards."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install playwright)")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")
    with sync_playwright() as pw:
        try:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *extra_args], headless=True)
        except Exception as exc:  # the browser exists but cannot start here
            pytest.skip(f"Chromium cannot be launched: {str(exc).splitlines()[0]}")
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def open_page(browser: Any, url: str, ready: str, permissions: Sequence[str] = ()) -> Iterator[Any]:
    """The web UI at ``url`` in a fresh English context, once ``ready`` (a selector) is in the page. Fails
    the test afterwards if the page raised JavaScript errors."""
    context = browser.new_context(locale="en-US", viewport={"width": 1360, "height": 1000})
    if permissions:
        context.grant_permissions(list(permissions))
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url + "/")
    page.wait_for_selector(ready, state="attached")
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
