"""Fixtures for the classroom tests: apps with their own settings, a class, students."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from mlp_playground.app import create_app
from mlp_playground.config import Settings


@pytest.fixture
def make_client() -> Iterator:
    clients: list[TestClient] = []

    def make(**overrides) -> TestClient:
        c = TestClient(create_app(Settings(**overrides)))
        c.__enter__()
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.__exit__(None, None, None)


@pytest.fixture
def client(make_client) -> TestClient:
    return make_client()


@pytest.fixture
def klass(client) -> dict:
    r = client.post("/classes")
    assert r.status_code == 201, r.text
    return r.json()
