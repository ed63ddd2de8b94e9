"""A real ``python -m mlp_playground`` server on a free loopback port, and the repository's root.

Used by the fixtures in tests/conftest.py (``live_server``, ``server_factory``) and by the
suites that run several processes of their own (cluster, deploy, packaging).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """A real ``python -m mlp_playground`` process on loopback; restartable on the same port."""

    def __init__(
        self,
        port: int,
        env: dict[str, str] | None = None,
        python: str = sys.executable,
        cwd: Path = ROOT,
        args: tuple[str, ...] = (),
    ) -> None:
        self.python, self.cwd, self.args = python, cwd, args
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.ws_url = f"ws://127.0.0.1:{port}"
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20.0) -> None:
        # Its output goes to a file, not a pipe: a pipe nobody reads fills after ~64 KB of
        # access log and the server's next log write blocks its event loop.
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the server)
        self.proc = subprocess.Popen(
            [self.python, "-m", "mlp_playground", "--port", str(self.port), *self.args],
            cwd=self.cwd,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.output()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server did not answer /healthz in time")

    def output(self) -> str:
        """Everything the server printed so far (its log file)."""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
