"""The widget in a real JupyterLab, in headless Chromium, against a real mlp-playground
server: a notebook file is written into Lab's root, opened, and its cells run the way a
student runs them. The widget's canvas must show a decision boundary (pixels of several
classes' colours), and a config set from Python must reach the session (the widget shows
it, and a watcher of the session sees it on the server)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, sync_playwright

from tests.notebook.jupyter_lab import JupyterLab, notebook
from tests.notebook.nb_helpers import watcher_hello
from tests.support.chromium import CHROMIUM, CHROMIUM_ARGS

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CONFIG = {
    "dataset": {"name": "gaussian", "classes": 3, "n_points": 300, "noise": 0.1},
    "network": {"hidden_layers": [8], "activation": "tanh"},
    "optimizer": {"name": "adam", "learning_rate": 0.03},
    "speed": 300,
}

# Counts the boundary canvas's pixels by class: a pixel belongs to class k when it lies
# away from the neutral colour in the direction of class k's colour (the widget fades each
# class colour towards neutral by uncertainty). The palette is the widget's.
COUNT_PIXELS = """(canvas) => {
  const palette = [[245, 147, 34], [8, 119, 189], [0, 158, 115]];
  const neutral = [244, 244, 240];
  const {data} = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
  const counts = [0, 0, 0];
  const colours = new Set();
  for (let i = 0; i < data.length; i += 4) {
    colours.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
    const d = [data[i] - neutral[0], data[i + 1] - neutral[1], data[i + 2] - neutral[2]];
    const n = Math.hypot(...d);
    if (n < 25) continue;
    palette.forEach((c, k) => {
      const e = [c[0] - neutral[0], c[1] - neutral[1], c[2] - neutral[2]];
      const cos = (d[0] * e[0] + d[1] * e[1] + d[2] * e[2]) / (n * Math.hypot(...e));
      if (cos > 0.97) counts[k] += 1;
    });
  }
  return {counts, total: data.length / 4, colours: colours.size};
}"""

RUN_CELL = """async (i) => {
  const panel = window.jupyterapp.shell.currentWidget;
  panel.content.activeCellIndex = i;
  await window.jupyterapp.commands.execute('notebook:run-cell');
}"""

KERNEL_IDLE = """() => {
  const app = window.jupyterapp;
  const panel = app && app.shell.currentWidget;
  const kernel = panel && panel.sessionContext && panel.sessionContext.session
    && panel.sessionContext.session.kernel;
  return Boolean(kernel && kernel.status === 'idle' && panel.content.widgets.length > 0);
}"""


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[JupyterLab]:
    server = JupyterLab(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def page() -> Iterator[tuple[Page, list[str], list[str]]]:
    """A Chromium page that may reach loopback only: anything else is recorded and aborted."""
    outside: list[str] = []
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})

        def gate(route):
            host = urlsplit(route.request.url).hostname
            if host in ("127.0.0.1", "localhost"):
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort()

        context.route("**/*", gate)
        pg = context.new_page()
        pg.set_default_timeout(60_000)
        pg.on("pageerror", lambda e: errors.append(str(e)))
        yield pg, outside, errors
        browser.close()


def cell_output(page: Page, i: int) -> str:
    return page.locator(".jp-Notebook .jp-Cell").nth(i).locator(".jp-OutputArea").inner_text()


def wait_output(page: Page, i: int, pattern: str, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = cell_output(page, i)
        if re.search(pattern, text):
            return text
        if "Traceback" in text or "Error" in text:
            raise AssertionError(f"cell {i} failed:\n{text}")
        time.sleep(0.25)
    raise AssertionError(f"cell {i}: no {pattern!r} in its output within {timeout} s:\n{text}")


def test_widget_in_jupyterlab(lab, live_server, page):
    pg, outside, errors = page
    cells = [
        "from mlp_playground.notebook import Playground\n"
        f"w = Playground(url={live_server.url!r}, config={CONFIG!r}, fps=15)\n"
        "w.play()\n"
        "w",
        "w.config = {'optimizer': {'learning_rate': 0.004}, 'batch_size': 16}\n"
        "print('configured', w.config['optimizer']['learning_rate'], w.watch_token)",
        "w.pause()\nprint('paused', w.running)",
        "w.close()\nprint('closed', w.closed)",
    ]
    (lab.root / "widget.ipynb").write_text(json.dumps(notebook(cells)))
    pg.goto(f"{lab.url}/lab/tree/widget.ipynb?token={lab.token}")
    pg.wait_for_function(KERNEL_IDLE, timeout=90_000)

    # Cell 1: the widget appears and draws a boundary that training shapes.
    pg.evaluate(RUN_CELL, 0)
    canvas = pg.locator(".mlpg-widget .mlpg-boundary")
    canvas.wait_for(state="visible", timeout=60_000)
    deadline = time.monotonic() + 60
    while True:
        seen = canvas.evaluate(COUNT_PIXELS)
        classes = sum(c > 0.05 * seen["total"] for c in seen["counts"])
        if classes == 3 and seen["colours"] > 20:
            break
        assert time.monotonic() < deadline, f"no three-class boundary on the canvas: {seen}"
        time.sleep(0.5)
    assert pg.locator(".mlpg-widget .mlpg-status").inner_text() == "training"
    assert "gaussian (3 classes)" in pg.locator(".mlpg-widget .mlpg-config").inner_text()
    pg.wait_for_function(
        "() => /step \\d+/.test(document.querySelector('.mlpg-widget .mlpg-metrics').textContent)"
    )

    # Cell 2: a config set from Python reaches the session and the widget shows it.
    pg.evaluate(RUN_CELL, 1)
    out = wait_output(pg, 1, r"configured 0\.004 \S+")
    token = out.split()[-1]
    config = pg.locator(".mlpg-widget .mlpg-config")
    pg.wait_for_function(
        "() => document.querySelector('.mlpg-widget .mlpg-config').dataset.learningRate === '0.004'"
    )
    assert "adam lr 0.004" in config.inner_text() and "batch 16" in config.inner_text()
    seen_by_server = watcher_hello(live_server.ws_url, token)
    assert seen_by_server["config"]["optimizer"]["learning_rate"] == 0.004
    assert seen_by_server["config"]["batch_size"] == 16
    assert seen_by_server["running"] is True

    # Cell 3: pause from Python: the widget says so, the session stopped.
    pg.evaluate(RUN_CELL, 2)
    wait_output(pg, 2, r"paused False")
    pg.wait_for_function(
        "() => document.querySelector('.mlpg-widget .mlpg-status').textContent === 'paused'"
    )
    assert watcher_hello(live_server.ws_url, token)["running"] is False

    # The Play button in the page drives the session through the kernel.
    pg.locator(".mlpg-widget .mlpg-play").click()
    deadline = time.monotonic() + 20
    while not watcher_hello(live_server.ws_url, token)["running"]:
        assert time.monotonic() < deadline, "the Play button did not start the session"
        time.sleep(0.2)

    # Cell 4: close cleanly.
    pg.evaluate(RUN_CELL, 3)
    wait_output(pg, 3, r"closed True")
    assert watcher_hello(live_server.ws_url, token)["running"] is False

    assert not errors, errors
    assert not outside, f"the page tried to reach the internet: {outside}"
