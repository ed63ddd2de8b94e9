"""``SqlStore``: the ``Store`` interface on SQLAlchemy Core, for SQLite and PostgreSQL alike.

SQLite (the default, one file): every connection gets WAL mode, ``synchronous=NORMAL``,
foreign keys and a busy timeout from a connect event. Python's ``sqlite3`` module would
otherwise open transactions lazily and not at all before DDL; the driver's own transaction
handling is switched off and each SQLAlchemy transaction emits ``BEGIN`` itself (the recipe in
SQLAlchemy's SQLite dialect docs), ``BEGIN IMMEDIATE`` for writes, so a write never has to
upgrade a read lock (the busy timeout cannot help with that deadlock) and the counts a save
checks cannot change before its insert. WAL with ``synchronous=NORMAL`` survives a killed
process without losing a committed transaction (only a power cut can lose the last ones),
and readers never wait for the writer.

PostgreSQL: the same statements; a save takes ``LOCK TABLE runs IN SHARE ROW EXCLUSIVE
MODE`` so that the total and per-minute caps are exact across server processes (saves are
rare; reads are not blocked).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    bindparam,
    case,
    create_engine,
    delete,
    event,
    func,
    literal,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from mlp_playground.store.base import (
    RATE_WINDOW_SECONDS,
    RunNotFound,
    SavedRun,
    Snapshot,
    SnapshotRefused,
    SnapshotRow,
    Store,
    StoreError,
    StoreLimits,
    WrongDeleteToken,
    client_key,
    decode_run,
    encode_run,
    hash_token,
    new_delete_token,
    new_run_id,
    snapshot_evictions,
    token_matches,
    with_identity,
)
from mlp_playground.store.migrations import migrate
from mlp_playground.store.sql_classes import SqlClasses
from mlp_playground.store.tables import runs, snapshots

log = logging.getLogger("mlp_playground.store")

#: ``INSERT ... ON CONFLICT DO UPDATE`` builders by dialect, for the snapshot upsert.
UPSERTS: dict[str, Any] = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}
SQLITE_WAL_LIMIT_BYTES = 16 * 1024 * 1024
"""The WAL file is truncated to this at each checkpoint (``PRAGMA journal_size_limit``)."""
SQLITE_BUSY_TIMEOUT_MS = 30_000
"""How long a writer waits for another (a slow disk, another process's save) before failing."""

# The snapshot write's statements, built once: every session writes every 5 s, and building
# them for each write (SQLAlchemy's constructs and cache keys) cost four times what the
# database itself spent on the write.
_SNAPSHOT_SIZES = snapshots.c.size_bytes
_OTHERS = snapshots.c.session_id != bindparam("sid")
#: (bytes of every other snapshot, bytes of the other snapshots of client ``key``).
_SNAPSHOT_SUMS = select(
    func.coalesce(func.sum(_SNAPSHOT_SIZES), 0),
    func.coalesce(
        func.sum(case((snapshots.c.client == bindparam("key"), _SNAPSHOT_SIZES), else_=0)), 0
    ),
).where(_OTHERS)
#: The same for a snapshot of no client (a student's): the first sum only.
_SNAPSHOT_TOTAL = select(func.coalesce(func.sum(_SNAPSHOT_SIZES), 0), literal(0)).where(_OTHERS)
_LOCK_SNAPSHOTS = text("LOCK TABLE snapshots IN SHARE ROW EXCLUSIVE MODE")
_SNAPSHOT_FIELDS = ("data", "meta", "updated", "size_bytes", "client", "owned")


def _snapshot_upsert(dialect: str) -> Any:
    """``INSERT ... ON CONFLICT (session_id) DO UPDATE`` for ``dialect``; None elsewhere."""
    if dialect not in UPSERTS:
        return None
    stmt = UPSERTS[dialect](snapshots)
    update = {k: stmt.excluded[k] for k in _SNAPSHOT_FIELDS}
    return stmt.on_conflict_do_update(index_elements=["session_id"], set_=update)


def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (see _sqlite_begin)
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA journal_mode = WAL")
    cur.execute("PRAGMA synchronous = NORMAL")
    # A snapshot of ~16 MB passes through the WAL; without a limit the WAL file keeps its
    # largest size forever after a checkpoint, and counts against the disk like the data.
    cur.execute(f"PRAGMA journal_size_limit = {SQLITE_WAL_LIMIT_BYTES}")
    cur.execute("PRAGMA foreign_keys = ON")
    cur.close()


def _sqlite_begin(conn: Connection) -> None:
    mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get their directory and their pragmas."""
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        if not u.database or u.database == ":memory:" or u.database.startswith("file:"):
            raise StoreError(
                "an SQLite database needs a file path (sqlite:///path/to/file.db); "
                "use memory:// for a store that lives in memory"
            )
        Path(u.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(u)
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(u, pool_pre_ping=True)


class SqlStore(Store, SqlClasses):
    """Runs, snapshots and classes (``SqlClasses``) in an SQL database, migrated on open."""

    def __init__(self, url: str, limits: StoreLimits | None = None, clock: Any = None) -> None:
        super().__init__(limits, clock)
        self.engine = make_engine(url)
        self.dialect = self.engine.dialect.name
        self._upsert = _snapshot_upsert(self.dialect)
        #: Write transactions: ``BEGIN IMMEDIATE`` on SQLite (ignored elsewhere).
        self._writer = self.engine.execution_options(sqlite_begin="IMMEDIATE")
        try:
            found, now = migrate(self._writer)
        except Exception:
            self.engine.dispose()
            raise
        shown = make_url(url).render_as_string(hide_password=True)
        if found != now:
            log.info("store: %s migrated from schema %d to %d", shown, found, now)
        log.info("store: %s (schema %d)", shown, now)

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._writer.begin() as conn:
            yield conn

    # ---------------------------------------------------------------- runs

    def save_run(self, run: Mapping[str, Any], client: str) -> SavedRun:
        enc = encode_run(run, self.limits.max_run_bytes)
        key, token = client_key(client), new_delete_token()
        for attempt in range(3):  # a 72-bit id collides ~never; retry rather than fail
            run_id = new_run_id()
            try:
                with self._write() as conn:
                    if self.dialect == "postgresql":
                        conn.execute(text("LOCK TABLE runs IN SHARE ROW EXCLUSIVE MODE"))
                    now = self.clock()
                    recent, oldest = conn.execute(
                        select(func.count(), func.min(runs.c.created)).where(
                            runs.c.client == key, runs.c.created > now - RATE_WINDOW_SECONDS
                        )
                    ).one()
                    total = conn.execute(select(func.count()).select_from(runs)).scalar_one()
                    self._check_caps(int(recent), oldest, int(total))
                    conn.execute(
                        runs.insert().values(
                            id=run_id,
                            token_hash=hash_token(token),
                            client=key,
                            created=now,
                            checksum=enc.checksum,
                            body=enc.body,
                            size_bytes=len(enc.body),
                        )
                    )
                return SavedRun(run_id, token, now)
            except IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(runs.c.body, runs.c.checksum, runs.c.created).where(runs.c.id == run_id)
            ).first()
        if row is None:
            return None
        return with_identity(decode_run(bytes(row.body), row.checksum, run_id), run_id, row.created)

    def run_exists(self, run_id: str) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(runs.c.id).where(runs.c.id == run_id)).first() is not None

    def delete_run(self, run_id: str, token: str | None) -> None:
        with self._write() as conn:
            stored = conn.execute(
                select(runs.c.token_hash).where(runs.c.id == run_id)
            ).scalar_one_or_none()
            if stored is None:
                raise RunNotFound(f"no run with id {run_id!r}")
            if not token_matches(token, stored):
                raise WrongDeleteToken("wrong or missing delete token (X-Delete-Token)")
            conn.execute(delete(runs).where(runs.c.id == run_id))

    def run_count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(runs)).scalar_one())

    # ---------------------------------------------------------------- snapshots

    def write_snapshot(
        self,
        session_id: str,
        snapshot: bytes,
        meta: Mapping[str, Any],
        client: str | None = None,
        owned: bool = False,
    ) -> list[str]:
        key = None if client is None else client_key(client)
        values = {
            "session_id": session_id,
            "data": bytes(snapshot),
            "meta": json.dumps(dict(meta), separators=(",", ":"), allow_nan=False),
            "updated": self.clock(),
            "size_bytes": len(snapshot),
            "client": key,
            "owned": bool(owned),
        }
        refused: SnapshotRefused | None = None
        with self._write() as conn:
            if self.dialect == "postgresql":  # the caps hold across processes
                conn.execute(_LOCK_SNAPSHOTS)
            fits = self._snapshot_fits(conn, session_id, len(snapshot), key)
            rows = [] if fits else self._snapshot_rows(conn)
            try:
                gone = snapshot_evictions(rows, session_id, len(snapshot), key, self.limits)
            except SnapshotRefused as exc:  # committed: the older snapshot goes with it
                refused, gone = exc, [session_id]
            if gone:
                conn.execute(delete(snapshots).where(snapshots.c.session_id.in_(gone)))
            if refused is None:
                self._upsert_snapshot(conn, values)
        if refused is not None:
            raise refused
        return gone

    @staticmethod
    def _snapshot_rows(conn: Connection) -> list[SnapshotRow]:
        """Every stored snapshot but its data, oldest first: what chooses evictions."""
        return [
            SnapshotRow(r.session_id, int(r.size_bytes or 0), r.client, bool(r.owned), r.updated)
            for r in conn.execute(
                select(
                    snapshots.c.session_id,
                    snapshots.c.size_bytes,
                    snapshots.c.client,
                    snapshots.c.owned,
                    snapshots.c.updated,
                ).order_by(snapshots.c.updated)
            )
        ]

    def _snapshot_fits(self, conn: Connection, session_id: str, size: int, key: str | None) -> bool:
        """Whether a new snapshot fits every cap as things stand (nothing to evict), from
        two sums the database computes (from ``ix_snapshots_caps``). Why: the rows that
        choose evictions were read on every write (each session writes every 5 s); they
        are read now only when a cap is reached. ``snapshot_evictions`` of no rows gives
        the same answer as of all of them when nothing needs to go."""
        limits = self.limits
        if size > limits.max_snapshot_bytes:
            return False  # refused by snapshot_evictions, with its message
        if key is None:
            total, own = conn.execute(_SNAPSHOT_TOTAL, {"sid": session_id}).one()
        else:
            total, own = conn.execute(_SNAPSHOT_SUMS, {"sid": session_id, "key": key}).one()
        if total + size > limits.max_snapshot_bytes_total:
            return False
        return key is None or own + size <= limits.max_snapshot_bytes_per_client

    def _upsert_snapshot(self, conn: Connection, values: dict[str, Any]) -> None:
        if self._upsert is not None:
            conn.execute(self._upsert, values)
        else:  # another backend: the same effect in one transaction
            conn.execute(delete(snapshots).where(snapshots.c.session_id == values["session_id"]))
            conn.execute(snapshots.insert().values(**values))

    def read_snapshot(self, session_id: str) -> Snapshot | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(snapshots.c.data, snapshots.c.meta).where(
                    snapshots.c.session_id == session_id
                )
            ).first()
        return None if row is None else Snapshot(bytes(row.data), json.loads(row.meta))

    def forget_snapshot(self, session_id: str) -> None:
        with self._write() as conn:
            conn.execute(delete(snapshots).where(snapshots.c.session_id == session_id))

    def snapshot_ids(self, older_than: float | None = None) -> list[str]:
        query = select(snapshots.c.session_id).order_by(snapshots.c.updated)
        if older_than is not None:
            query = query.where(snapshots.c.updated < older_than)
        with self.engine.connect() as conn:
            return [r[0] for r in conn.execute(query)]

    def snapshot_bytes(self) -> int:
        with self.engine.connect() as conn:
            total = conn.execute(select(func.sum(snapshots.c.size_bytes))).scalar_one()
        return int(total or 0)

    def close(self) -> None:
        self.engine.dispose()
