"""Schema migrations: an ordered list of steps, the documented equivalent of Alembic here.

``MIGRATIONS[i]`` takes a database from schema version ``i`` to ``i + 1``. ``migrate`` runs
each pending step in its own transaction together with the bump of
``schema_version.version``, so a crash mid-migration leaves the database at the last
complete version (SQLite and PostgreSQL both make DDL transactional). Concurrent openers are
serialised (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: a transaction-scoped advisory lock), so
two server processes starting together migrate once.

Rules for a new step: append a function, bump ``tables.SCHEMA_VERSION``, update the tables
in ``tables.py`` to match, never edit a released step (a database made by it exists
somewhere), and add the previous schema's DDL to ``tests/store/test_migrations.py``. A
database whose version is newer than this code knows is refused, not guessed at.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Double,
    Engine,
    Index,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    select,
    text,
)

from mlp_playground.store.base import StoreError
from mlp_playground.store.tables import SCHEMA_VERSION, schema_version

ADVISORY_LOCK_KEY = 0x6D6C7067  # "mlpg": PostgreSQL lock id held while migrating


def _v1(conn: Connection) -> None:
    """The first release: runs (compressed JSON, checksum, hashed token) and snapshots.

    The tables are declared here, frozen, rather than taken from ``tables.py``, which
    always describes the latest version.
    """
    md = MetaData()
    Table(
        "runs",
        md,
        Column("id", String(16), primary_key=True),
        Column("token_hash", String(64), nullable=False),
        Column("client", String(32), nullable=False),
        Column("created", Double, nullable=False),
        Column("checksum", String(64), nullable=False),
        Column("body", LargeBinary, nullable=False),
    )
    Table(
        "snapshots",
        md,
        Column("session_id", String(64), primary_key=True),
        Column("data", LargeBinary, nullable=False),
        Column("meta", Text, nullable=False),
        Column("updated", Double, nullable=False),
    )
    md.create_all(conn)


def _v2(conn: Connection) -> None:
    """``runs.size_bytes`` (backfilled) and the index the per-minute rate count uses."""
    conn.execute(text("ALTER TABLE runs ADD COLUMN size_bytes INTEGER"))
    conn.execute(text("UPDATE runs SET size_bytes = length(body)"))
    conn.execute(text("CREATE INDEX ix_runs_client_created ON runs (client, created)"))


def _v3(conn: Connection) -> None:
    """The snapshot caps' columns: ``size_bytes`` (backfilled), ``client``, ``owned``.

    Snapshots from before have no client and count as ownerless: the oldest to go."""
    conn.execute(text("ALTER TABLE snapshots ADD COLUMN size_bytes INTEGER"))
    conn.execute(text("ALTER TABLE snapshots ADD COLUMN client VARCHAR(32)"))
    conn.execute(text("ALTER TABLE snapshots ADD COLUMN owned BOOLEAN"))
    conn.execute(text("UPDATE snapshots SET size_bytes = length(data), owned = false"))


def _v4(conn: Connection) -> None:
    """Classes outlive their process: ``classes`` (hashed teacher token, times) and
    ``class_members`` (student session id -> class code and nickname)."""
    md = MetaData()
    Table(
        "classes",
        md,
        Column("code", String(8), primary_key=True),
        Column("token_hash", String(64), nullable=False),
        Column("title", String(200)),
        Column("client", String(32), nullable=False),
        Column("created", Double, nullable=False),
        Column("expires", Double, nullable=False),
        Column("claim_by", Double, nullable=False),
        Column("claimed", Boolean, nullable=False),
        Column("ended", Boolean, nullable=False),
    )
    Table(
        "class_members",
        md,
        Column("session_id", String(64), primary_key=True),
        Column("code", String(8), nullable=False),
        Column("name", String(100), nullable=False),
        Column("joined", Double, nullable=False),
        Column("resume_hash", String(64)),
        Index("ix_class_members_code", "code"),
    )
    md.create_all(conn)


def _v5(conn: Connection) -> None:
    """An index that holds every snapshot column but the data, for the caps.

    Why: each snapshot write sums the stored sizes (and, at a cap, lists the rows oldest
    first), and those columns come after the data in each row, so SQLite walked every
    snapshot's overflow pages to reach them: with 250 sessions of 20 kB a write took
    1.9-2.4 ms of CPU, read from the index 0.5 ms (the writer's thread, every 5 s a session)."""
    conn.execute(
        text(
            "CREATE INDEX ix_snapshots_caps ON snapshots "
            "(updated, session_id, size_bytes, client, owned)"
        )
    )


MIGRATIONS: list[Callable[[Connection], None]] = [_v1, _v2, _v3, _v4, _v5]
assert len(MIGRATIONS) == SCHEMA_VERSION


def _lock(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": ADVISORY_LOCK_KEY})


def current_version(conn: Connection) -> int:
    """The schema version recorded in the database; 0 for an empty one."""
    schema_version.create(conn, checkfirst=True)
    found = conn.execute(select(schema_version.c.version)).scalar()
    if found is None:
        conn.execute(schema_version.insert().values(version=0))
        return 0
    return int(found)


def migrate(write_engine: Engine) -> tuple[int, int]:
    """Bring the database to ``SCHEMA_VERSION``; returns (version found, version now).

    ``write_engine`` begins write transactions (``BEGIN IMMEDIATE`` on SQLite).
    """
    found: int | None = None
    while True:
        with write_engine.begin() as conn:
            _lock(conn)
            version = current_version(conn)
            found = version if found is None else found
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"the database has schema version {version}, newer than this release "
                    f"knows ({SCHEMA_VERSION}): upgrade mlp-playground or use another database"
                )
            if version == SCHEMA_VERSION:
                return found, version
            MIGRATIONS[version](conn)
            conn.execute(schema_version.update().values(version=version + 1))
