"""What the benchmarks share: a loopback port, a server subprocess, Chromium's flags, RSS.

bench/ is a folder of scripts, not a package: each script puts this folder on ``sys.path``
(as running ``python bench/x.py`` already does) and imports ``_common``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(
    env: dict[str, str] | None = None,
    port: int | None = None,
    timeout: float = 30.0,
    capture: bool = False,
) -> tuple[subprocess.Popen, str]:
    """``python -m mlp_playground`` on a loopback port, once /healthz answers: (process, http URL).

    ``capture`` keeps its output on a pipe (to look for tracebacks), else it is discarded.
    """
    port = port or free_port()
    out = subprocess.PIPE if capture else subprocess.DEVNULL
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlp_playground", "--port", str(port)],
        cwd=ROOT,
        # A benchmark keeps nothing: no runs or snapshots in the user's real database.
        env={"MLPG_DATABASE_URL": "memory://", **os.environ, **(env or {})},
        stdout=out,
        stderr=subprocess.STDOUT if capture else subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early with code {proc.returncode}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not answer /healthz in time")


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")
