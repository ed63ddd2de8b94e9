"""Shared fixtures: an in-process app client and a real uvicorn server on a free port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from mlp_playground.app import create_app
from mlp_playground.config import Settings

ROOT = Path(__file__).resolve().parent.parent

# Bound to loopback, the app answers only to the loopback names; Starlette's TestClient
# sends ``Host: testserver``, so the tests' apps (and servers) accept that name as well.
os.environ.setdefault("MLPG_ALLOWED_HOSTS", '["127.0.0.1", "localhost", "testserver"]')
# The store's default is a file in the user's data directory; no test may write there.
# Tests that need a database on disk set their own MLPG_DATABASE_URL (a tmp path).
os.environ.setdefault("MLPG_DATABASE_URL", "memory://")


@pytest.fixture
def settings() -> Settings:
    return Settings()


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture
def make_client() -> Iterator:
    """Open in-process clients with their own settings (``make_client(max_sessions=2)``);
    each is closed, its app's lifespan ended, after the test."""
    clients: list[TestClient] = []

    def make(**overrides: object) -> TestClient:
        c = TestClient(create_app(Settings(**overrides)))
        c.__enter__()
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.__exit__(None, None, None)


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


@pytest.fixture(scope="session")
def live_server() -> Iterator[ServerProcess]:
    """One real server for the whole test session (tests must not depend on its state)."""
    server = ServerProcess(free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def server_factory() -> Iterator:
    """Start private servers (with their own env) that the test may kill and restart."""
    started: list[ServerProcess] = []

    def make(env: dict[str, str] | None = None) -> ServerProcess:
        s = ServerProcess(free_port(), env)
        s.start()
        started.append(s)
        return s

    yield make
    for s in started:
        s.stop()
