"""The page as a teacher projects it: the first screen shows the decision boundary, the play
button and the loss chart, at a projector's 1280x720 and a tablet's 1024x768, in normal and
in large type, without scrolling. The pace starts where a class can follow it."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.browser.test_page import READY, open_app

SIZES = [(1280, 720), (1024, 768)]
MUST_SHOW = ["boundary", "play", "chart-loss"]


def _boxes(page) -> dict[str, dict]:
    return {tid: page.get_by_test_id(tid).bounding_box() for tid in MUST_SHOW}


def _assert_on_first_screen(page, width: int, height: int) -> None:
    assert page.evaluate("window.scrollY") == 0
    for tid, box in _boxes(page).items():
        assert box is not None, f"{tid} is not shown"
        assert box["x"] >= 0 and box["y"] >= 0, (tid, box)
        assert box["x"] + box["width"] <= width + 0.5, (tid, box)
        assert box["y"] + box["height"] <= height + 0.5, (tid, box)
    plot = _boxes(page)["boundary"]
    assert plot["width"] == pytest.approx(plot["height"], abs=2)  # square, like its domain
    assert plot["width"] >= 0.55 * height  # big enough to read from the back row
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


# French has the longest labels ("pas d'apprentissage", "Grands caractères").
TYPES = [(False, "en"), (True, "en"), (True, "fr")]


@pytest.mark.parametrize(("large", "lang"), TYPES, ids=["normal", "large", "large-fr"])
@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_first_screen_shows_plot_play_and_loss(
    live_server, browser: Browser, page_errors, size, large, lang
) -> None:
    width, height = size
    context = browser.new_context(viewport={"width": width, "height": height}, locale="en-US")
    try:
        page = context.new_page()
        page.on("pageerror", lambda e: page_errors.append(str(e)))
        open_app(
            page, live_server.url, f"#data=spiral&k=3&lang={lang}" + ("&big=1" if large else "")
        )
        page.wait_for_timeout(300)  # the header's height settles the plot's size
        _assert_on_first_screen(page, width, height)
        # Toggling large type live reflows to a layout that still fits.
        page.get_by_test_id("large-type").click()
        page.wait_for_function(f"() => window.__mlpg.ui.large === {'false' if large else 'true'}")
        page.wait_for_timeout(300)
        _assert_on_first_screen(page, width, height)
        assert page_errors == []
    finally:
        context.close()


def test_page_starts_at_the_servers_pace_and_max_is_one_click(live_server, new_page) -> None:
    options = httpx.get(live_server.url + "/api/options").json()
    default = options["default_speed"]
    assert default != "max" and default in options["speeds"]
    page = open_app(new_page(), live_server.url, "#data=circle")
    # The server's own session default is "max": the page sends its pace on connect.
    page.wait_for_function(f"() => window.__mlpg.config.speed === {default}")
    page.wait_for_function(f"() => location.hash.includes('speed={default}')")
    expect(page.get_by_test_id("speed-value")).to_have_text(str(default))
    stops = page.evaluate("+document.querySelector('[data-testid=speed]').max + 1")
    assert stops == len(options["speeds"])
    page.get_by_test_id("speed-max").click()
    page.wait_for_function("() => window.__mlpg.config.speed === 'max'")
    expect(page.get_by_test_id("speed-max")).to_have_attribute("aria-pressed", "true")
    page.wait_for_function("() => location.hash.includes('speed=max')")
    url = page.url
    # The URL keeps the choice; the same button goes back to the slower pace.
    again = open_app(new_page(), live_server.url, url[url.index("#") :])
    again.wait_for_function("() => window.__mlpg.config.speed === 'max'")
    expect(again.get_by_test_id("speed-value")).to_have_text("max")
    again.get_by_test_id("speed-max").click()
    again.wait_for_function(f"() => window.__mlpg.config.speed === {default}")


def test_watch_link_uses_the_public_url(server_factory, new_page) -> None:
    server = server_factory({"MLPG_PUBLIC_URL": "http://192.168.1.20:8000"})
    page = new_page()
    page.goto(server.url + "/")
    page.wait_for_function(READY)
    page.get_by_test_id("share").click()
    href = page.get_by_test_id("watch-link").get_attribute("href")
    assert href.startswith("http://192.168.1.20:8000/?watch=")
    assert len(href) > len("http://192.168.1.20:8000/?watch=")
