"""Fixtures for the classroom tests: apps with their own settings, a class, students."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient


@pytest.fixture
def client(make_client) -> TestClient:
    return make_client()


@pytest.fixture
def klass(client) -> dict:
    r = client.post("/classes")
    assert r.status_code == 201, r.text
    return r.json()
