"""The real page against the real server, in headless Chromium.

Every test drives the page the way a user does (clicks, keys, file inputs) and checks what
the user would see: counters, canvas pixels, the URL, messages. `window.__mlpg` (the page's
state object) is read only to wait for the socket and to compare configurations.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

READY = "() => window.__mlpg && window.__mlpg.config && window.__mlpg.status === 'open'"
SAME_CONFIG = """(want) => {
  const canon = (v) => v && typeof v === 'object'
    ? (Array.isArray(v) ? v.map(canon)
       : Object.fromEntries(Object.keys(v).sort().map((k) => [k, canon(v[k])])))
    : v;
  return JSON.stringify(canon(window.__mlpg.config)) === JSON.stringify(canon(want));
}"""


def open_app(page: Page, base: str, hash_: str = "") -> Page:
    page.goto(base + "/" + hash_)
    page.wait_for_function(READY)
    return page


def steps(page: Page) -> int:
    return int(page.get_by_test_id("step-counter").text_content())


def wait_steps_above(page: Page, n: int, timeout: float = 20_000) -> None:
    page.wait_for_function(
        f"() => +document.querySelector('[data-testid=step-counter]').textContent > {n}",
        timeout=timeout,
    )


GRID_SIGNATURE = """() => {
  const c = document.querySelector('[data-testid=boundary]');
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  const rows = [];
  for (let y = 0; y < c.height; y++) {
    let s = 0;
    for (let x = 0; x < c.width * 4; x++) s += d[y * c.width * 4 + x];
    rows.push(s);
  }
  return rows;
}"""


def grid_signature(page: Page) -> list[int]:
    """The decision canvas's pixels, summed per row (enough to see any repaint)."""
    return page.evaluate(GRID_SIGNATURE)


def wait_grid_changed(page: Page, before: list[int], timeout: float = 15_000) -> None:
    """Until the decision canvas differs from ``before`` (a repaint arrived)."""
    page.wait_for_function(
        f"(before) => JSON.stringify(({GRID_SIGNATURE})()) !== JSON.stringify(before)",
        arg=before,
        timeout=timeout,
    )


def train_loss(page: Page) -> float:
    return float(page.get_by_test_id("train-loss").text_content())


def test_loads_clean_with_favicon(live_server, page: Page, page_errors) -> None:
    favicon: list[int] = []
    page.on("response", lambda r: favicon.append(r.status) if "favicon" in r.url else None)
    open_app(page, live_server.url)
    page.wait_for_function(
        "() => document.querySelector('[data-testid=boundary]').width > 0 && window.__mlpg.boundary.framesPainted > 0"
    )
    expect(page.get_by_test_id("step-counter")).to_have_text("0")
    expect(page.get_by_test_id("banner")).to_be_hidden()
    assert page.locator("[data-testid^=dataset-]").count() >= 4
    assert page.locator("[data-testid=unit-node]").count() == sum(
        page.evaluate("window.__mlpg.config.network.hidden_layers")
    )
    for _ in range(100):  # the favicon request may still be on its way (up to 10 s)
        if favicon:
            break
        page.wait_for_timeout(100)
    assert favicon and all(s == 200 for s in favicon)
    assert page_errors == []


def test_play_trains_circle(live_server, page: Page, page_errors) -> None:
    open_app(page, live_server.url, "#data=circle&k=2&h=4,2&opt=sgd&lr=0.03&bs=10&seed=3&speed=max")
    page.wait_for_function("() => window.__mlpg.boundary.framesPainted > 0")
    page.keyboard.press("s")  # one step, from the keyboard
    page.wait_for_function(
        "() => document.querySelector('[data-testid=train-loss]').textContent !== '–'"
    )
    wait_steps_above(page, 0)
    first_loss = train_loss(page)
    before = grid_signature(page)
    page.get_by_test_id("play").click()
    expect(page.get_by_test_id("play")).to_have_attribute("aria-pressed", "true")
    wait_steps_above(page, 2000, timeout=40_000)
    page.keyboard.press(" ")  # space pauses
    expect(page.get_by_test_id("play")).to_have_attribute("aria-pressed", "false")
    wait_grid_changed(page, before)
    assert train_loss(page) < first_loss * 0.7
    assert page_errors == []


def test_learning_rate_change_while_playing(live_server, page: Page) -> None:
    open_app(page, live_server.url, "#data=circle&opt=sgd&lr=0.03")
    page.get_by_test_id("play").click()
    wait_steps_above(page, 20)
    lr = page.get_by_test_id("hp-learning_rate")
    lr.fill("0.1")
    lr.press("Enter")
    page.wait_for_function("() => location.hash.includes('lr=0.1')")
    assert re.search(r"[#&]lr=0\.1(&|$)", page.url)
    after_change = steps(page)
    wait_steps_above(page, after_change + 50)
    expect(page.get_by_test_id("play")).to_have_attribute("aria-pressed", "true")
    assert page.evaluate("window.__mlpg.config.optimizer.learning_rate") == pytest.approx(0.1)


def test_add_layer_and_unit_update_diagram(live_server, page: Page) -> None:
    open_app(page, live_server.url, "#h=4,2&feat=x1,x2")
    units = page.locator("[data-testid=unit-node]")
    expect(units).to_have_count(6)
    page.get_by_test_id("add-layer").click()
    expect(units).to_have_count(8)
    expect(page.get_by_test_id("layer-count")).to_contain_text("3")
    page.get_by_test_id("add-unit-0").click()
    expect(units).to_have_count(9)
    page.wait_for_function("() => window.__mlpg.config.network.hidden_layers.join() === '5,2,2'")
    # The thumbnails of the new units get painted by the next kind-2 frames: every unit's
    # square on the shared thumbnail canvas becomes opaque.
    page.wait_for_function(
        """() => {
        const c = document.querySelector('[data-testid=thumbnails]');
        const ctx = c.getContext('2d');
        const origin = c.getBoundingClientRect();
        const k = c.width / origin.width;
        const nodes = [...document.querySelectorAll('[data-testid=unit-node]')];
        return nodes.length === 9 && nodes.every((n) => {
          const r = n.getBoundingClientRect();
          const x = Math.round((r.left + r.width / 2 - origin.left) * k);
          const y = Math.round((r.top + r.height / 2 - origin.top) * k);
          return ctx.getImageData(x, y, 1, 1).data[3] === 255;
        });
    }"""
    )
    # Links follow the new shape: 2 inputs x 5 + 5 x 2 + 2 x 2 + 2 x 2 outputs.
    expect(page.locator("[data-testid=diagram] path.link")).to_have_count(10 + 10 + 4 + 4)


def test_quick_network_edits_build_on_each_other(live_server, page: Page) -> None:
    """Clicks faster than the server answers: two "+ layer", "all relu" and two feature
    toggles, all in one task, before any config can come back."""
    open_app(page, live_server.url, "#h=4,2&act=tanh,tanh&feat=x1,x2")
    page.evaluate(
        """() => {
        const add = document.querySelector('[data-testid=add-layer]');
        add.click();
        add.click();
        const all = document.querySelector('[data-testid=activation-all]');
        all.value = 'relu';
        all.dispatchEvent(new Event('change'));
        document.querySelector('[data-testid=feature-x1_squared]').click();
        document.querySelector('[data-testid=feature-x2_squared]').click();
    }"""
    )
    page.wait_for_function(
        """() => { const n = window.__mlpg.config.network;
          return n.hidden_layers.join() === '4,2,2,2' && n.activation.join() === 'relu,relu,relu,relu'
            && n.features.join() === 'x1,x2,x1_squared,x2_squared'; }"""
    )
    expect(page.locator("[data-testid=unit-node]")).to_have_count(10)


def test_click_adds_point_of_selected_class(live_server, page: Page) -> None:
    open_app(page, live_server.url, "#data=circle&k=3")
    page.wait_for_function("() => window.__mlpg.data && window.__mlpg.data.classes === 3")
    n = page.evaluate("window.__mlpg.data.points.length")
    page.get_by_test_id("class-2").click()
    canvas = page.get_by_test_id("points-canvas")
    box = canvas.bounding_box()
    # Data coordinates of the click: 80 % across, 10 % down of a domain the page knows.
    page.mouse.click(box["x"] + box["width"] * 0.8, box["y"] + box["height"] * 0.1)
    page.wait_for_function(f"() => window.__mlpg.data.points.length === {n + 1}")
    data = page.evaluate("window.__mlpg.data")
    x0, x1, y0, y1 = data["domain"]
    p = data["points"][-1]
    assert data["labels"][-1] == 2
    assert p[0] == pytest.approx(x0 + 0.8 * (x1 - x0), abs=0.1)
    assert p[1] == pytest.approx(y1 - 0.1 * (y1 - y0), abs=0.1)
    # Shift-click adds the next class (2 -> 0, wrapping).
    page.keyboard.down("Shift")
    page.mouse.click(box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.1)
    page.keyboard.up("Shift")
    page.wait_for_function(f"() => window.__mlpg.data.points.length === {n + 2}")
    assert page.evaluate("window.__mlpg.data.labels.at(-1)") == 0
    # Right-click removes the nearest point.
    page.mouse.click(box["x"] + box["width"] * 0.8, box["y"] + box["height"] * 0.1, button="right")
    page.wait_for_function(f"() => window.__mlpg.data.points.length === {n + 1}")


def test_copied_url_restores_every_setting(live_server, new_page) -> None:
    first = open_app(new_page(), live_server.url)
    first.get_by_test_id("dataset-xor").click()
    first.wait_for_function("() => window.__mlpg.config.dataset.name === 'xor'")
    first.get_by_test_id("optimizer").select_option("adam")
    first.wait_for_function("() => window.__mlpg.config.optimizer.name === 'adam'")
    lr = first.get_by_test_id("hp-learning_rate")
    lr.fill("0.02")
    lr.press("Enter")
    beta = first.get_by_test_id("hp-beta1")
    beta.fill("0.8")
    beta.press("Enter")
    first.get_by_test_id("add-layer").click()
    first.get_by_test_id("activation-all").select_option("relu")
    first.get_by_test_id("regularization").select_option("l2")
    first.get_by_test_id("feature-x1_x2").click()
    bs = first.get_by_test_id("batch-size")
    bs.fill("25")
    bs.press("Enter")
    first.get_by_test_id("reseed").click()
    first.get_by_test_id("large-type").click()
    first.wait_for_function(
        """() => { const c = window.__mlpg.config;
          return c.batch_size === 25 && c.optimizer.beta1 === 0.8 && c.network.hidden_layers.length === 3
            && c.network.activation.every((a) => a === 'relu') && c.regularization.kind === 'l2'
            && c.network.features.includes('x1_x2') && c.seed !== 0; }"""
    )
    first.wait_for_timeout(200)
    url = first.url
    config = first.evaluate("window.__mlpg.config")
    assert "#" in url
    second = open_app(new_page(), live_server.url, url[url.index("#") :])
    second.wait_for_function(SAME_CONFIG, arg=config, timeout=10_000)
    assert second.evaluate("window.__mlpg.config") == config
    assert second.evaluate("window.__mlpg.ui.large") is True
    expect(second.get_by_test_id("hp-learning_rate")).to_have_value("0.02")
    expect(second.get_by_test_id("dataset-xor")).to_have_class(re.compile("selected"))
    expect(second.get_by_test_id("feature-x1_x2")).to_have_attribute("aria-pressed", "true")


def test_tablet_touch_large_type_and_keyboard(live_server, browser, page_errors) -> None:
    """A tablet (touch, 1024x768, no mouse): taps add and erase points, nothing overflows
    sideways; large type grows the text; the keyboard's r resets."""
    context = browser.new_context(
        viewport={"width": 1024, "height": 768}, has_touch=True, device_scale_factor=2
    )
    try:
        page = context.new_page()
        page.on("pageerror", lambda e: page_errors.append(str(e)))
        open_app(page, live_server.url, "#data=circle&k=2")
        page.wait_for_function("() => window.__mlpg.data")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        n = page.evaluate("window.__mlpg.data.points.length")
        canvas = page.get_by_test_id("points-canvas")

        def tap_plot() -> None:
            """Tap near the top middle of the plot (scrolled into view: the palette may not
            be on the same screen)."""
            canvas.scroll_into_view_if_needed()
            box = canvas.bounding_box()
            assert box["width"] == pytest.approx(box["height"], abs=2)  # square, like its domain
            assert box["y"] >= 0 and box["y"] + box["height"] <= 768  # all of it on the screen
            page.touchscreen.tap(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.05)

        page.get_by_test_id("class-1").tap()
        tap_plot()
        page.wait_for_function(f"() => window.__mlpg.data.points.length === {n + 1}")
        assert page.evaluate("window.__mlpg.data.labels.at(-1)") == 1
        # No right button on glass: the eraser swatch turns a tap into a removal.
        page.get_by_test_id("eraser").tap()
        tap_plot()
        page.wait_for_function(f"() => window.__mlpg.data.points.length === {n}")
        # Large type, for the back row.
        size = "() => parseFloat(getComputedStyle(document.querySelector('[data-testid=step-counter]')).fontSize)"
        before = page.evaluate(size)
        page.get_by_test_id("large-type").tap()
        page.wait_for_function(f"{size[6:]} > {before} * 1.2".join(["() => ", ""]))
        # r resets: the step counter goes back to 0.
        page.get_by_test_id("step").tap()
        page.wait_for_function(
            "() => +document.querySelector('[data-testid=step-counter]').textContent >= 1"
        )
        page.locator("body").press("r")
        expect(page.get_by_test_id("step-counter")).to_have_text("0")
        assert page_errors == []
    finally:
        context.close()


def test_csv_upload_bad_line_shows_line_number(live_server, page: Page) -> None:
    open_app(page, live_server.url)
    csv = "x1,x2,label\n0.5,1.0,0\n-1,2,1\n3,oops,1\n"
    page.get_by_test_id("csv-input").set_input_files(
        files=[{"name": "bad.csv", "mimeType": "text/csv", "buffer": csv.encode()}]
    )
    expect(page.get_by_test_id("message-error")).to_contain_text("line 4")
    # A good file replaces the data.
    good = "x1,x2,label\n0.5,1.0,0\n-1,2,1\n2,2,1\n"
    page.get_by_test_id("csv-input").set_input_files(
        files=[{"name": "good.csv", "mimeType": "text/csv", "buffer": good.encode()}]
    )
    page.wait_for_function("() => window.__mlpg.data.points.length === 3")
    assert page.evaluate("window.__mlpg.data.labels") == [0, 1, 1]
    with page.expect_download() as info:
        page.get_by_test_id("csv-download").click()
    text = Path(info.value.path()).read_text()
    assert text.splitlines() == ["x1,x2,label", "0.5,1,0", "-1,2,1", "2,2,1"]


def test_watch_link_follows_the_session(live_server, new_page) -> None:
    owner = open_app(new_page(), live_server.url)
    owner.get_by_test_id("share").click()
    link = owner.get_by_test_id("watch-link")
    expect(link).to_have_attribute("href", re.compile(r"\?watch=.+"))
    href = link.get_attribute("href")
    owner.get_by_text("Close").click()
    owner.get_by_test_id("play").click()
    watcher = new_page()
    watcher.goto(href)
    watcher.wait_for_function(READY)
    expect(watcher.get_by_test_id("watch-note")).to_be_visible()
    wait_steps_above(watcher, 0)
    seen = steps(watcher)
    wait_steps_above(watcher, seen + 10)
    # The watcher cannot change the session.
    assert watcher.get_by_test_id("noise").is_disabled()


def test_kill_and_restart_shows_reconnecting_then_recovers(server_factory, page: Page) -> None:
    server = server_factory()
    open_app(page, server.url, "#opt=momentum&lr=0.05&mom=0.8")
    page.wait_for_function("() => window.__mlpg.config.optimizer.momentum === 0.8")
    page.get_by_test_id("play").click()
    wait_steps_above(page, 5)
    server.stop()
    expect(page.get_by_test_id("banner")).to_be_visible()
    expect(page.get_by_test_id("banner")).to_contain_text(re.compile("reconnecting", re.I))
    server.start()
    expect(page.get_by_test_id("banner")).to_be_hidden(timeout=20_000)
    page.wait_for_function(
        "() => window.__mlpg.config.optimizer.name === 'momentum' && window.__mlpg.config.optimizer.momentum === 0.8"
    )
    wait_steps_above(page, 5)


def test_trained_spiral_screenshot(live_server, page: Page, artifacts) -> None:
    hash_ = "#data=spiral&noise=0&h=16,16&act=relu,relu&feat=x1,x2&opt=adam&lr=0.01&bs=10&speed=max"
    open_app(page, live_server.url, hash_)
    page.get_by_test_id("play").click()
    page.wait_for_function(
        "() => parseFloat(document.querySelector('[data-testid=train-acc]').textContent) >= 98",
        timeout=60_000,
    )
    page.get_by_test_id("play").click()
    page.wait_for_timeout(300)
    page.screenshot(path=str(artifacts / "spiral.png"), full_page=True)
    assert (artifacts / "spiral.png").stat().st_size > 10_000
    with page.expect_download() as info:
        page.get_by_test_id("save-png").click()
    info.value.save_as(artifacts / "spiral-boundary.png")
    assert (artifacts / "spiral-boundary.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_export_then_import_model_round_trip(live_server, page: Page, tmp_path) -> None:
    open_app(page, live_server.url, "#data=xor&h=3&act=tanh&feat=x1,x2&opt=adam&lr=0.03&speed=max")
    page.get_by_test_id("play").click()
    wait_steps_above(page, 300)
    page.get_by_test_id("play").click()
    expect(page.get_by_test_id("play")).to_have_attribute("aria-pressed", "false")
    with page.expect_download() as info:
        page.get_by_test_id("export-model").click()
    exported = tmp_path / "model.json"
    info.value.save_as(exported)
    doc = json.loads(exported.read_text())
    assert doc["format"] == "mlp-playground.model/1"
    assert [len(layer["bias"]) for layer in doc["layers"]] == [3, 2]
    # New weights, then the exported ones back in.
    page.get_by_test_id("reset").click()
    page.get_by_test_id("model-input").set_input_files(str(exported))
    expect(page.get_by_test_id("message-info").last).to_contain_text(
        "Model imported", timeout=20_000
    )
    page.evaluate("window.__mlpg.socket.send({type: 'get_model'})")
    page.wait_for_function(
        "(w) => JSON.stringify(window.__mlpg.diagram.weights.layers.map((l) => l.weights)) === w",
        arg=json.dumps([layer["weights"] for layer in doc["layers"]], separators=(",", ":")),
    )


def test_import_a_large_model_and_refuse_a_wrong_one(live_server, page: Page, tmp_path) -> None:
    """Any model the limits allow (here 8,800 weights), with its normalisation; a model for
    another number of classes is refused with the server's reason, the session untouched."""
    body = {
        "dataset": {"name": "circle", "n_points": 100},
        "network": {"hidden_layers": [64, 64, 64], "activation": "relu", "normalize": True},
        "steps": 5,
    }
    big = httpx.post(live_server.url + "/train", json=body, timeout=60).json()["model"]
    body["dataset"] = {"name": "gaussian", "n_points": 90, "classes": 3}
    three = httpx.post(live_server.url + "/train", json=body, timeout=60).json()["model"]
    open_app(page, live_server.url, "#data=circle&k=2&h=4&feat=x1,x2")
    (tmp_path / "big.json").write_text(json.dumps(big))
    (tmp_path / "three.json").write_text(json.dumps(three))
    page.get_by_test_id("model-input").set_input_files(str(tmp_path / "big.json"))
    expect(page.get_by_test_id("message-info").last).to_contain_text("Model imported")
    page.wait_for_function("() => window.__mlpg.config.network.hidden_layers.join() === '64,64,64'")
    expect(page.locator("[data-testid=unit-node]")).to_have_count(64 * 3)
    page.evaluate("window.__mlpg.socket.send({type: 'get_model'})")
    # A reply to an earlier get_model (the old, smaller net) may land first: keep waiting.
    page.wait_for_function(
        "(w) => JSON.stringify(window.__mlpg.diagram.weights?.layers[3]?.bias) === w",
        arg=json.dumps(big["layers"][3]["bias"], separators=(",", ":")),
    )
    page.get_by_test_id("model-input").set_input_files(str(tmp_path / "three.json"))
    expect(page.get_by_test_id("message-error").last).to_contain_text("3 outputs")
    assert page.evaluate("window.__mlpg.config.network.hidden_layers.join()") == "64,64,64"


def test_divergence_and_language_messages(live_server, page: Page) -> None:
    open_app(page, live_server.url, "#data=circle&h=4&act=linear&loss=hinge&opt=sgd&lr=100&lang=fr")
    expect(page.get_by_test_id("play")).to_have_attribute("title", re.compile("Lancer"))
    page.get_by_test_id("play").click()
    expect(page.get_by_test_id("message-error")).to_contain_text("divergé", timeout=20_000)
    expect(page.get_by_test_id("play")).to_have_attribute("aria-pressed", "false")
    page.get_by_test_id("lang").click()
    expect(page.get_by_test_id("play")).to_have_attribute("title", re.compile("Play"))
    page.wait_for_function("() => location.hash.includes('lang=en')")
