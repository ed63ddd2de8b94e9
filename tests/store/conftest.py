"""Store fixtures: a private PostgreSQL server for the session, and a ``make_store`` factory
parametrised over memory, SQLite and PostgreSQL so one suite checks all three.

The PostgreSQL server is Debian's (``apt-get install postgresql``): initdb in a temp dir owned
by the ``postgres`` user (initdb refuses to run as root), trust auth, listening on 127.0.0.1
on a free port with its socket in the temp dir, fsync off (test data). Each test module gets
its own database, dropped afterwards. Missing binaries FAIL the tests rather than skip them:
CI must run the PostgreSQL half (``MLPG_PG_BIN`` points elsewhere if needed).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from store_helpers import FakeClock, sample_run

from mlp_playground.store import MemoryStore, Store, StoreLimits

PG_BIN = Path(os.environ.get("MLPG_PG_BIN", "/usr/lib/postgresql/15/bin"))
BACKENDS = ["memory", "sqlite", "postgresql"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres(argv: list[str]) -> list[str]:
    """Run a command as the ``postgres`` user when we are root (initdb refuses root)."""
    if os.geteuid() != 0:
        return argv
    if shutil.which("runuser"):
        return ["runuser", "-u", "postgres", "--", *argv]
    import shlex

    return ["su", "postgres", "-c", shlex.join(argv)]


class PgServer:
    def __init__(self) -> None:
        missing = [b for b in ("initdb", "pg_ctl", "postgres") if not (PG_BIN / b).exists()]
        if missing:
            pytest.fail(
                f"PostgreSQL server binaries not found in {PG_BIN} ({', '.join(missing)}): "
                "install Debian's postgresql package (apt-get install postgresql) or set "
                "MLPG_PG_BIN; the storage tests run against a real server and skip nothing",
                pytrace=False,
            )
        self.dir = Path(tempfile.mkdtemp(prefix="mlpg-pg-"))
        self.data, self.sock, self.log = self.dir / "data", self.dir / "sock", self.dir / "log"
        self.sock.mkdir()
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
            shutil.chown(self.sock, "postgres", "postgres")
        self.port = free_port()

    def _run(self, *argv: str) -> None:
        r = subprocess.run(_as_postgres(list(argv)), capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"{argv[0]} failed:\n{r.stdout}\n{r.stderr}\n{log}")

    def start(self) -> None:
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U",
                  "postgres", "-E", "UTF8", "--no-sync")  # fmt: skip
        opts = f"-h 127.0.0.1 -p {self.port} -k {self.sock} -F -c max_connections=50"
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log),
                  "-o", opts, "-w", "-t", "60", "start")  # fmt: skip

    def stop(self) -> None:
        try:
            self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def admin(self, sql: str) -> None:
        import psycopg

        dsn = f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql)


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
