"""Headless Chromium for the dashboard tests: Debian's binary, driven by Playwright.

Playwright's own browser download cannot work offline, so the tests launch the system
`chromium` (`TOGETHER_QUEUE_CHROMIUM`, default /usr/bin/chromium). A missing browser
fails the tests: a skip would let a machine without it pass as green.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, sync_playwright

from together_queue.testing import queue_emulator_factory

__all__ = ["queue_emulator_factory"]

CHROMIUM = os.environ.get("TOGETHER_QUEUE_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (nox -s browser does it)")
    launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
    yield launched
    launched.close()


class ConsoleLog:
    """Every console error and uncaught page error of one page."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text}")

    def on_page_error(self, error: Exception) -> None:
        self.errors.append(f"page error: {error}")


@pytest.fixture
def console() -> ConsoleLog:
    return ConsoleLog()


@pytest.fixture
def page(browser: Browser, console: ConsoleLog) -> Iterator[Page]:
    """A fresh page (its own context: storage, cookies) that must log no console error."""
    context = browser.new_context(viewport={"width": 1100, "height": 700}, ignore_https_errors=True)
    opened = context.new_page()
    opened.on("console", console.on_console)
    opened.on("pageerror", console.on_page_error)
    opened.set_default_timeout(15_000)
    yield opened
    context.close()
    assert console.errors == []
