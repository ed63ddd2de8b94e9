"""``/docs`` and ``/redoc`` work offline: every request they make stays on 127.0.0.1.

FastAPI's defaults load Swagger UI, ReDoc and Google Fonts from a CDN; in an offline
classroom that is a blank page. Any request to another host fails this test (and is
aborted, so the page cannot silently fall back to it).
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Route, sync_playwright

from tests.support.chromium import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(
    ("path", "ready"),
    [
        ("/docs", ".swagger-ui .info .title"),
        ("/redoc", "h1"),
    ],
)
def test_api_docs_render_without_leaving_the_machine(live_server, path: str, ready: str) -> None:
    outside: list[str] = []

    def guard(route: Route) -> None:
        host = urlsplit(route.request.url).hostname
        if route.request.url.startswith(("data:", "blob:")) or host == "127.0.0.1":
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.route("**/*", guard)
            page.goto(live_server.url + path)
            page.wait_for_selector(ready, timeout=20_000)
            assert "MLP Playground" in page.inner_text(ready)
            if path == "/docs":  # the operations are listed, not only the title
                page.wait_for_selector("text=/train", timeout=10_000)
            page.wait_for_load_state("networkidle")
        finally:
            browser.close()
    assert outside == []
