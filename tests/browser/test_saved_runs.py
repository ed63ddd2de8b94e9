"""Save & share: the dialog saves the live session (`save`), shows the link with a copy
button and remembers the run (with its delete token) in localStorage; `/r/<id>` opens that
run paused, with the same points and the same trained weights; delete removes it."""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

from tests.browser.test_page import READY, open_app, wait_steps_above

# The page's own request (live.js's requestModel): resolves with the next `model` message.
MODEL_NOW = "() => window.__mlpg.requestModel()"


def _weights(model: dict) -> list:
    return [(layer["weights"], layer["bias"]) for layer in model["layers"]]


def test_save_share_open_and_delete(live_server, new_page, page_errors) -> None:
    page: Page = new_page()
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    open_app(page, live_server.url, "#data=xor&h=5&n=120&speed=max&seed=4")
    page.get_by_test_id("play").click()
    wait_steps_above(page, 300)
    page.get_by_test_id("play").click()
    expect(page.get_by_test_id("play")).to_have_attribute("aria-pressed", "false")
    page.wait_for_timeout(200)
    points = page.evaluate("window.__mlpg.data.points")
    model = page.evaluate(MODEL_NOW)

    page.get_by_test_id("save-share").click()
    expect(page.get_by_test_id("save-dialog")).to_be_visible()
    page.get_by_test_id("save-title").fill("XOR <b>five</b> units")
    page.get_by_test_id("save-run").click()
    link = page.get_by_test_id("run-link")
    expect(page.get_by_test_id("save-result")).to_be_visible(timeout=10_000)
    url = link.get_attribute("href")
    assert url.startswith(live_server.url + "/r/"), url
    run_id = url.rsplit("/", 1)[1]
    page.get_by_test_id("copy-run-link").click()
    expect(page.get_by_test_id("copy-run-link")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == url
    stored = page.evaluate("JSON.parse(localStorage.getItem('mlpg.savedRuns'))")
    assert stored[0]["id"] == run_id and stored[0]["delete_token"]
    row = page.locator(f"[data-testid=saved-run][data-run-id='{run_id}']")
    expect(row).to_contain_text("XOR <b>five</b> units")  # a title is text, never HTML
    assert page.locator("[data-testid=saved-runs] b").count() == 0

    saved = httpx.get(f"{live_server.url}/runs/{run_id}").json()
    assert saved["data"]["points"] == points
    assert _weights(saved["model"]) == _weights(model)

    # Someone else opens the link: that run, paused, same points, same weights.
    other: Page = new_page()
    other.goto(url)
    other.wait_for_function(READY)
    other.wait_for_function("() => window.__mlpg.dataCustom && window.__mlpg.loadedRun")
    expect(other.get_by_test_id("message-info").first).to_contain_text("XOR")
    assert other.evaluate("window.__mlpg.data.points") == points
    assert _weights(other.evaluate(MODEL_NOW)) == _weights(model)
    expect(other.get_by_test_id("play")).to_have_attribute("aria-pressed", "false")
    assert other.evaluate("window.__mlpg.running") is False
    other.wait_for_timeout(500)
    assert other.evaluate("window.__mlpg.running") is False
    # ... ready to train on.
    other.get_by_test_id("play").click()
    wait_steps_above(other, 50)

    # Delete from the list: gone from the server and from the list.
    row.get_by_test_id("saved-run-delete").click()
    expect(row).to_have_count(0)
    expect(page.get_by_test_id("saved-runs")).to_contain_text("No run saved")
    assert httpx.get(f"{live_server.url}/runs/{run_id}").status_code == 404
    assert page.evaluate("JSON.parse(localStorage.getItem('mlpg.savedRuns'))") == []
    assert page_errors == []


def test_unknown_run_link_is_a_clear_page(live_server, page: Page) -> None:
    response = page.goto(f"{live_server.url}/r/doesnotexist1")
    assert response.status == 404
    expect(page.locator("h1")).to_contain_text("does not exist")
