"""Run exported scripts in a fresh ``python`` (numpy, torch) and collect what they answer."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

RUNNER = """
import json, runpy, sys
out = []
for path, points in json.load(open(sys.argv[1])):
    ns = runpy.run_path(path)
    if points is None:
        out.append(ns["train"]())
    else:
        out.append({"proba": ns["predict_proba"](points).tolist(),
                    "predict": ns["predict"](points).tolist()})
print(json.dumps(out))
"""


def run_scripts(tmp: Path, jobs: list[tuple[str, list | None]]) -> list:
    """Write each script, run them all in one subprocess: a model script's
    ``predict_proba``/``predict`` on its points, a training script's ``train()``."""
    listing = []
    for i, (source, points) in enumerate(jobs):
        path = tmp / f"script_{i}.py"
        path.write_text(source, encoding="utf-8")
        listing.append([str(path), points])
    (tmp / "jobs.json").write_text(json.dumps(listing))
    (tmp / "runner.py").write_text(RUNNER)
    done = subprocess.run(
        [sys.executable, str(tmp / "runner.py"), str(tmp / "jobs.json")],
        capture_output=True,
        text=True,
        cwd=tmp,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout)
