"""Playwright fixtures: Debian's chromium, one browser per test module (Playwright's sync API holds an event loop while open, which would break asyncio.run in later tests), a fresh page per test.

Each page records console errors and uncaught exceptions so a test can assert the page ran
clean. The servers come from tests/conftest.py (`live_server`, `server_factory`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.support.chromium import CHROMIUM
from tests.support.chromium import CHROMIUM_ARGS as ARGS

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


class PageErrors(list):
    """Console errors and page exceptions seen so far, as strings."""


def _open_page(browser: Browser, errors: PageErrors) -> Page:
    context = browser.new_context(
        viewport={"width": 1500, "height": 950}, locale="en-US", accept_downloads=True
    )
    page = context.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.set_default_timeout(15_000)
    return page


@pytest.fixture
def page_errors() -> PageErrors:
    return PageErrors()


@pytest.fixture
def new_page(browser: Browser, page_errors: PageErrors) -> Iterator:
    """Open pages (each in its own context) that are closed after the test."""
    pages: list[Page] = []

    def make() -> Page:
        page = _open_page(browser, page_errors)
        pages.append(page)
        return page

    yield make
    for p in pages:
        p.context.close()


@pytest.fixture
def page(new_page) -> Page:
    return new_page()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
