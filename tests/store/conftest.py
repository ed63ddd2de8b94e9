"""Store fixtures: a private PostgreSQL server for the session (tests/support/postgres.py),
and a ``make_store`` factory parametrised over memory, SQLite and PostgreSQL so one suite
checks all three. Each test module gets its own PostgreSQL database, dropped afterwards.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mlp_playground.store.base import Store, StoreLimits
from mlp_playground.store.memory import MemoryStore
from tests.support.postgres import PgServer
from tests.support.store import FakeClock, sample_run

BACKENDS = ["memory", "sqlite", "postgresql"]


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    server = PgServer()
    try:
        server.start()
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def _fresh_database(pg_server: PgServer) -> Iterator[str]:
    """Create a database with a random name, give its URL, drop it afterwards."""
    name = f"mlpg_{uuid.uuid4().hex[:12]}"
    pg_server.admin(f"CREATE DATABASE {name}")
    try:
        yield pg_server.url(name)
    finally:
        pg_server.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="module")
def pg_database(pg_server: PgServer) -> Iterator[str]:
    """A fresh database for one test module; its SQLAlchemy URL."""
    with _fresh_database(pg_server) as url:
        yield url


@pytest.fixture
def pg_empty(pg_server: PgServer) -> Iterator[str]:
    """A fresh empty database for one test (migration tests need a schema-less one)."""
    with _fresh_database(pg_server) as url:
        yield url


def _wipe(url: str) -> None:
    """Empty the tables of a module's shared PostgreSQL database between tests."""
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            if inspect(conn).has_table("runs"):
                conn.execute(text("DELETE FROM runs"))
                conn.execute(text("DELETE FROM snapshots"))
            if inspect(conn).has_table("classes"):
                conn.execute(text("DELETE FROM classes"))
                conn.execute(text("DELETE FROM class_members"))
    finally:
        engine.dispose()


MakeStore = Callable[..., Store]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """The URL of an empty store of this backend ("memory://" for the memory one)."""
    if backend == "memory":
        return "memory://"
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    url = str(request.getfixturevalue("pg_database"))
    _wipe(url)
    return url


@pytest.fixture
def make_store(store_url: str) -> Iterator[MakeStore]:
    """``make_store(limits=..., clock=...)``: a store on this test's backend (several calls
    share the database, as two server processes would; memory stores are separate)."""
    opened: list[Store] = []

    def make(limits: StoreLimits | None = None, clock: Callable[[], float] | None = None) -> Store:
        if store_url == "memory://":
            store: Store = MemoryStore(limits, clock)
        else:
            from mlp_playground.store.sql import SqlStore

            store = SqlStore(store_url, limits, clock)
        opened.append(store)
        return store

    yield make
    for s in opened:
        s.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def run() -> dict:
    return sample_run()
