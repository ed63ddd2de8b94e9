"""The teaching instruments (docs/instruments.md) on the real page against the real server.

Each test drives an instrument as a teacher would and checks what the class sees: the table,
the lines, the pictures' pixels. `window.__mlpg` is read only to count what is drawn.
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.test_page import grid_signature, open_app, wait_grid_changed

CANVAS_SIGNATURE = """(testid) => {
  const c = document.querySelector(`[data-testid=${testid}]`);
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let s = 0, s2 = 0;
  for (let i = 0; i < d.length; i += 4) { const v = d[i] + 2 * d[i + 1] + 3 * d[i + 2]; s += v; s2 += v * v % 9973; }
  return [c.width, c.height, s, s2];
}"""


def open_instrument(page: Page, name: str) -> None:
    details = page.get_by_test_id(f"inst-{name}")
    if details.get_attribute("open") is None:
        details.locator("summary").click()
    expect(details).to_have_attribute("open", "")


def link_point(page: Page, layer: int, i: int, j: int) -> tuple[float, float]:
    """Screen point a fifth of the way along the diagram's link i -> j of a layer (clear of
    the crossings near the middle)."""
    return page.evaluate(
        """([l, i, j]) => {
        const p = document.querySelector(
          `[data-testid=diagram] path.link[data-layer='${l}'][data-i='${i}'][data-j='${j}']`);
        const pt = p.getPointAtLength(p.getTotalLength() * 0.2);
        const m = p.getScreenCTM();
        return [pt.x * m.a + pt.y * m.c + m.e, pt.x * m.b + pt.y * m.d + m.f];
    }""",
        [layer, i, j],
    )


def test_initial_loss_check_shows_ln2_on_circle(live_server, page: Page, page_errors) -> None:
    open_app(page, live_server.url, "#data=circle&k=2&h=4,2&init=xavier")
    expect(page.get_by_test_id("initial-loss-expected")).to_have_text("ln 2 ≈ 0.693")
    expect(page.get_by_test_id("initial-loss-flag")).to_have_text("✓")
    measured = float(page.get_by_test_id("initial-loss-measured").text_content())
    assert abs(measured - 0.6931) <= 0.0693
    # Three classes: the reference becomes ln 3 after the reset the class change causes.
    page.get_by_test_id("classes").select_option("3")
    expect(page.get_by_test_id("initial-loss-expected")).to_have_text("ln 3 ≈ 1.099")
    # French labels for the same check.
    page.get_by_test_id("lang").click()
    expect(page.get_by_test_id("initial-loss-reason")).to_contain_text("incertain")
    assert page_errors == []


def test_gradient_check_table_and_verdict(live_server, page: Page, page_errors) -> None:
    open_app(page, live_server.url, "#data=circle&h=4,2&act=tanh,tanh")
    open_instrument(page, "gradcheck")
    page.get_by_test_id("gradcheck").click()
    verdict = page.get_by_test_id("gradcheck-verdict")
    expect(verdict).to_contain_text("✓", timeout=15_000)
    expect(verdict).to_contain_text(re.compile(r"< 1(\.0+)?e-5"))
    table = page.get_by_test_id("gradcheck-table")
    expect(table.locator("th")).to_have_count(5)
    rows = table.locator("tbody tr")
    assert rows.count() >= 6  # every tensor of a 2-4-2-2 net is sampled
    expect(table.locator("tr.worst")).to_have_count(1)
    params = set(table.locator("tbody td:first-child").all_text_contents())
    assert {"dense0.W", "dense0.b", "dense2.W"} <= params
    assert page_errors == []


def test_optimiser_race_one_line_and_boundary_each(live_server, page: Page, page_errors) -> None:
    open_app(page, live_server.url, "#data=xor&h=4&feat=x1,x2&bs=10")
    open_instrument(page, "race")
    for name in ("sgd", "momentum", "adam", "rmsprop"):
        box = page.get_by_test_id(f"race-pick-{name}")
        if not box.is_checked():
            box.check()
    page.get_by_test_id("race-lr-sgd").fill("0.3")
    page.get_by_test_id("race-steps").fill("200")
    page.get_by_test_id("race-run").click()
    expect(page.get_by_test_id("race-line")).to_have_count(4, timeout=30_000)
    expect(page.get_by_test_id("race-boundary")).to_have_count(4)
    expect(page.get_by_test_id("race-legend")).to_contain_text("sgd (lr 0.3)")
    lines = page.evaluate("window.__mlpg.instruments.race.chart.series.map((s) => [s.name, s.n])")
    assert [name.split(" ")[0] for name, _ in lines] == ["sgd", "momentum", "rmsprop", "adam"]
    assert all(n >= 2 for _, n in lines)
    # Each small boundary is a painted picture, not a blank canvas.
    sizes = page.evaluate(
        """() => [...document.querySelectorAll('[data-testid=race-boundary]')].map((c) => {
          const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          const seen = new Set();
          for (let i = 0; i < d.length; i += 4) seen.add(d[i] * 65536 + d[i + 1] * 256 + d[i + 2]);
          return [c.width, seen.size];
        })"""
    )
    assert all(w == 40 and colours > 10 for w, colours in sizes)
    assert page_errors == []


def test_transform_mesh_changes_with_the_layer(live_server, page: Page, page_errors) -> None:
    open_app(page, live_server.url, "#data=circle&h=4,3&act=tanh,tanh")
    open_instrument(page, "transform")
    page.wait_for_function("() => window.__mlpg.instruments.transform.draws > 0")
    first = page.evaluate(CANVAS_SIGNATURE, "transform-canvas")
    page.get_by_test_id("transform-layer").select_option("1")
    page.wait_for_function(
        "() => { const m = window.__mlpg.instruments.transform.last; return m && m.layer === 1; }"
    )
    page.wait_for_timeout(100)
    assert page.evaluate(CANVAS_SIGNATURE, "transform-canvas") != first
    assert page_errors == []


def test_edit_weight_while_paused_repaints_boundary(live_server, page: Page, page_errors) -> None:
    open_app(page, live_server.url, "#data=circle&h=2&act=tanh&feat=x1,x2")
    page.wait_for_function(
        "() => window.__mlpg.boundary.framesPainted > 0 && window.__mlpg.diagram.weights"
    )
    expect(page.get_by_test_id("play")).to_have_attribute("aria-pressed", "false")
    before = grid_signature(page)
    # Click on the link input 1 -> unit 2.
    x, y = link_point(page, 0, 0, 1)
    page.mouse.click(x, y)
    expect(page.get_by_test_id("weight-editor")).to_be_visible()
    page.get_by_test_id("weight-input").fill("6")
    page.get_by_test_id("weight-input").press("Enter")
    expect(page.get_by_test_id("weight-editor")).to_be_hidden()
    page.wait_for_function(
        "() => window.__mlpg.diagram.weights.layers[0].weights[0][1] === 6", timeout=10_000
    )
    wait_grid_changed(page, before)
    assert page.get_by_test_id("step-counter").text_content() == "0"  # still paused
    assert page_errors == []


def test_stats_one_histogram_per_hidden_layer(live_server, page: Page, page_errors) -> None:
    open_app(page, live_server.url, "#data=circle&h=4,3,2&act=tanh,tanh,tanh")
    open_instrument(page, "stats")
    expect(page.get_by_test_id("stats-hist")).to_have_count(3)
    page.get_by_test_id("preset-deep-tanh").click()
    page.wait_for_function(
        """() => { const n = window.__mlpg.config.network;
          return n.hidden_layers.length === 10 && n.hidden_layers.every((u) => u === 64)
            && n.activation.every((a) => a === 'tanh') && n.init === 'gaussian'; }"""
    )
    expect(page.get_by_test_id("stats-hist")).to_have_count(10, timeout=15_000)
    # Small Gaussian init: the last layer's activations have all but vanished.
    page.wait_for_function(
        "() => { const s = window.__mlpg.instruments.stats.last; return s && s.layers.length === 10; }"
    )
    deep = page.evaluate("window.__mlpg.instruments.stats.last.layers")
    assert deep[-1]["std"] < 0.1 * deep[0]["std"]
    page.get_by_test_id("stats-init").select_option("xavier")
    page.wait_for_function("() => window.__mlpg.config.network.init === 'xavier'")
    page.wait_for_function(
        """() => { const s = window.__mlpg.instruments.stats.last;
          return s && s.layers.length === 10 && s.layers[9].std > 0.1; }""",
        timeout=15_000,
    )
    assert page_errors == []


def test_schedule_stop_and_regression(live_server, page: Page, page_errors) -> None:
    open_app(page, live_server.url, "#data=plane&loss=mse&h=4&opt=sgd&lr=0.05")
    expect(page.get_by_test_id("train-acc")).to_be_hidden()
    expect(page.get_by_test_id("chart-acc")).to_be_hidden()
    page.wait_for_function("() => window.__mlpg.boundary.lastFrame?.kind === 4")
    open_instrument(page, "schedule")
    page.get_by_test_id("sched-kind").select_option("step")
    size = page.get_by_test_id("sched-step-size")
    expect(size).to_be_visible()
    size.fill("30")
    size.press("Enter")
    epochs = page.get_by_test_id("stop-epochs")
    epochs.fill("3")
    epochs.press("Enter")
    page.wait_for_function(
        """() => { const c = window.__mlpg.config;
          return c.schedule.kind === 'step' && c.schedule.step_size === 30 && c.stop.epochs === 3; }"""
    )
    assert "sched=step" in page.url and "stopep=3" in page.url
    page.get_by_test_id("play").click()
    expect(page.get_by_test_id("stopped-note")).to_contain_text("3 epochs", timeout=20_000)
    expect(page.get_by_test_id("play")).to_have_attribute("aria-pressed", "false")
    # The step schedule: 0.05 halved every 30 steps, shown for the step where training stopped.
    page.wait_for_timeout(300)
    step = int(page.get_by_test_id("step-counter").text_content())
    assert step >= 60
    expected = 0.05 * 0.5 ** (step // 30)
    assert float(page.get_by_test_id("current-lr").text_content()) == float(f"{expected:.3g}")
    assert page_errors == []


def test_mc_dropout_toggle_and_uncertainty_map(live_server, page: Page, page_errors) -> None:
    open_app(page, live_server.url, "#data=circle&h=16&act=tanh&drop=0.3")
    open_instrument(page, "uncertainty")
    expect(page.locator("#uncertainty-hint")).to_be_hidden()  # dropout is on
    page.get_by_test_id("prediction-mode").select_option("mc_dropout")
    page.wait_for_function("() => window.__mlpg.config.prediction.mode === 'mc_dropout'")
    expect(page.get_by_test_id("prediction-passes")).to_be_visible()
    page.wait_for_function("() => window.__mlpg.instruments.uncertaintyFrames > 0")
    page.wait_for_timeout(300)
    # The map is not flat: dropout passes disagree more in some places than in others.
    spread = page.evaluate(
        """() => { const o = window.__mlpg.instruments.uOff;
          const d = o.getContext('2d').getImageData(0, 0, o.width, o.height).data;
          let lo = 255, hi = 0;
          for (let i = 0; i < d.length; i += 4) { lo = Math.min(lo, d[i + 1]); hi = Math.max(hi, d[i + 1]); }
          return hi - lo; }"""
    )
    assert spread > 20
    assert page_errors == []


def test_initial_loss_mismatch_is_flagged_with_a_reason(live_server, page: Page) -> None:
    # He init on a deep ReLU net without input normalisation: the loss starts far above ln 2.
    open_app(page, live_server.url, "#data=circle&h=64,64,64&act=relu,relu,relu&init=he&norm=0")
    expect(page.get_by_test_id("initial-loss-flag")).to_have_text("⚠")
    assert float(page.get_by_test_id("initial-loss-measured").text_content()) > 1.0
    expect(page.get_by_test_id("initial-loss-reason")).to_contain_text("weights too large")
    # Xavier brings it back to ln 2.
    page.get_by_test_id("init").select_option("xavier")
    expect(page.get_by_test_id("initial-loss-flag")).to_have_text("✓")


def test_hover_a_unit_shows_it_full_size_and_a_link_its_weight(live_server, page: Page) -> None:
    open_app(page, live_server.url, "#data=circle&h=3&act=tanh&feat=x1,x2")
    page.wait_for_function(
        "() => window.__mlpg.boundary.framesPainted > 0 && window.__mlpg.diagram.weights"
    )
    decision = grid_signature(page)
    page.locator("[data-testid=unit-node]").nth(1).hover()
    expect(page.get_by_test_id("tooltip")).to_have_text("layer 1, unit 2")
    # The main canvas shows that unit's output, sharpened to 64x64 by the finer unit grids
    # the page asks for while a unit is hovered.
    page.wait_for_function(
        "() => window.__mlpg.boundary.neuron && window.__mlpg.boundary.neuron.width === 64"
    )
    wait_grid_changed(page, decision)
    page.mouse.move(5, 5)  # away: the decision boundary again (paused: the same picture)
    page.wait_for_function("() => !window.__mlpg.boundary.neuron")
    assert grid_signature(page) == decision
    expect(page.get_by_test_id("tooltip")).to_be_hidden()
    # A link: its weight, as the model has it.
    x, y = link_point(page, 0, 0, 1)
    page.mouse.move(x, y)
    w = page.evaluate("window.__mlpg.diagram.weights.layers[0].weights[0][1].toPrecision(3)")
    expect(page.get_by_test_id("tooltip")).to_have_text(f"weight x₁ → h1.2: {w}")
