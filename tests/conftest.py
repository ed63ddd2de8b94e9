"""Fixtures every suite may use: an in-process app client, and real servers on free ports
(the server process itself is tests/support/servers.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from mlp_playground.app import create_app
from mlp_playground.config import Settings
from tests.support.servers import ServerProcess, free_port

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


@pytest.fixture(scope="session")
def live_server() -> Iterator[ServerProcess]:
    """One real server for the whole test session (tests must not depend on its state)."""
    # Every test's sockets come from 127.0.0.1: one "client" for max_sessions_per_client.
    server = ServerProcess(free_port(), {"MLPG_MAX_SESSIONS_PER_CLIENT": "64"})
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
