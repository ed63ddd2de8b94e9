"""The lesson panel: opening the lesson applies its first step's config, "next" applies the
next step's (one configure of the complete config: the hidden layers change), the step's
text follows the page language, and a step's instrument hint opens that panel."""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

from tests.browser.test_page import open_app


def test_lesson_steps_apply_their_config_in_the_page_language(
    live_server, page: Page, page_errors, artifacts
) -> None:
    lesson = httpx.get(f"{live_server.url}/api/lessons/multilayer-networks").json()
    steps = lesson["steps"]
    open_app(page, live_server.url, "#h=8,8&data=spiral")
    page.get_by_test_id("lesson").click()
    panel = page.get_by_test_id("lesson-panel")
    expect(panel).to_be_visible()
    expect(page.get_by_test_id("lesson-step-title")).to_have_text(steps[0]["title"]["en"])
    expect(page.get_by_test_id("lesson-count")).to_have_text(f"Step 1 of {len(steps)}")
    want0 = steps[0]["config"]["network"]["hidden_layers"]
    page.wait_for_function(
        "(want) => JSON.stringify(window.__mlpg.config.network.hidden_layers) === JSON.stringify(want)",
        arg=want0,
    )
    assert (
        page.evaluate("window.__mlpg.config.dataset.name") == steps[0]["config"]["dataset"]["name"]
    )
    expect(page.get_by_test_id("lesson-prev")).to_be_disabled()

    page.get_by_test_id("lesson-next").click()
    want1 = steps[1]["config"]["network"]["hidden_layers"]
    assert want1 != want0
    page.wait_for_function(
        "(want) => JSON.stringify(window.__mlpg.config.network.hidden_layers) === JSON.stringify(want)",
        arg=want1,
    )
    expect(page.get_by_test_id("lesson-text")).to_have_text(steps[1]["text"]["en"])
    units = page.locator("[data-testid=unit-node]")
    expect(units).to_have_count(sum(want1))

    # French: the same step, in French.
    page.get_by_test_id("lang").click()
    expect(page.get_by_test_id("lesson-step-title")).to_have_text(steps[1]["title"]["fr"])
    expect(page.get_by_test_id("lesson-text")).to_have_text(steps[1]["text"]["fr"])
    expect(page.get_by_test_id("lesson-count")).to_have_text(f"Étape 2 sur {len(steps)}")

    # A step with an instrument hint opens that panel (the first "stats" step).
    target = next(
        i for i, s in enumerate(steps) if (s.get("instrument") or {}).get("kind") == "stats"
    )
    for _ in range(target - 1):
        page.get_by_test_id("lesson-next").click()
    expect(page.get_by_test_id("lesson-count")).to_have_text(f"Étape {target + 1} sur {len(steps)}")
    expect(page.get_by_test_id("inst-stats")).to_have_attribute("open", "")
    want = steps[target]["config"]["network"]["hidden_layers"]
    page.wait_for_function(
        "(want) => JSON.stringify(window.__mlpg.config.network.hidden_layers) === JSON.stringify(want)",
        arg=want,
    )
    page.set_viewport_size({"width": 1280, "height": 720})
    page.wait_for_timeout(400)
    page.screenshot(path=str(artifacts / "lesson-panel-fr.png"))
    errors = page.locator("[data-testid=message-error]")
    assert errors.count() == 0, errors.all_text_contents()
    assert page_errors == []
