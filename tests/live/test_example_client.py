"""examples/live_client.py runs against a real server and prints a decreasing loss."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(60)
def test_example_client_trains_and_prints_the_loss(live_server):
    out = subprocess.run(
        [sys.executable, "examples/live_client.py", "--url", live_server.ws_url, "--seconds", "2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=45,
        check=True,
    ).stdout
    losses = [float(x) for x in re.findall(r"loss (\d+\.\d+)", out)]
    assert "session " in out and "final loss" in out, out
    assert len(losses) >= 3
    assert losses[-1] < losses[0]
