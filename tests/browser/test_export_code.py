"""Export as code: the button downloads a Python script whose predictions are the
session's model's (/predict on the same weights), and a training script that runs."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import numpy as np
from playwright.sync_api import Page, expect

from tests.browser.test_page import open_app, wait_steps_above
from tests.browser.test_saved_runs import MODEL_NOW


def test_export_as_code_downloads_a_working_script(live_server, new_page, tmp_path) -> None:
    page: Page = new_page()
    open_app(page, live_server.url, "#data=xor&h=5&n=120&speed=max&seed=4")
    page.get_by_test_id("play").click()
    wait_steps_above(page, 200)
    page.get_by_test_id("play").click()
    expect(page.get_by_test_id("play")).to_have_attribute("aria-pressed", "false")
    page.wait_for_timeout(200)
    model = page.evaluate(MODEL_NOW)

    for fmt in ("numpy", "pytorch"):
        page.get_by_test_id("export-code-format").select_option(fmt)
        page.get_by_test_id("export-code-kind").select_option("model")
        with page.expect_download() as info:
            page.get_by_test_id("export-code").click()
        path = tmp_path / f"model_{fmt}.py"
        info.value.save_as(path)
        assert path.read_text().startswith('"""A trained MLP Playground network')
        done = subprocess.run(
            [sys.executable, str(path), "0.5", "-1.5"], capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        want = httpx.post(
            f"{live_server.url}/predict", json={"model": model, "points": [[0.5, -1.5]]}
        ).json()
        np.testing.assert_allclose(json.loads(done.stdout), want["probabilities"][0], atol=1e-6)

    page.get_by_test_id("export-code-format").select_option("numpy")
    page.get_by_test_id("export-code-kind").select_option("train")
    with page.expect_download() as info:
        page.get_by_test_id("export-code").click()
    path = tmp_path / "train.py"
    info.value.save_as(path)
    done = subprocess.run(
        [sys.executable, str(path), "--json"], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    history = json.loads(done.stdout)
    assert history["step"][0] == 0 and len(history["train_loss"]) >= 2
