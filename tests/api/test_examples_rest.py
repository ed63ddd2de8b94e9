"""examples/rest_client.py against a real server."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx

from tests.support.servers import ROOT


def test_rest_client_trains_predicts_and_saves(live_server, tmp_path):
    out = tmp_path / "model.json"
    result = subprocess.run(
        [sys.executable, "examples/rest_client.py", "--url", live_server.url, "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "validation accuracy" in result.stdout
    assert result.stdout.count("point [") == 4
    doc = json.loads(out.read_text())
    assert doc["format"] == "mlp-playground.model/1" and doc["classes"] == 3
    # The saved document predicts what the script printed.
    r = httpx.post(live_server.url + "/predict", json={"model": doc, "points": [[0.0, 0.0]]})
    label = r.json()["labels"][0]
    assert f"point [0.0, 0.0]: class {label}" in result.stdout
