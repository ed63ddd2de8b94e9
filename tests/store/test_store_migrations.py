"""Schema versions: a database of the previous schema (v1, this store's first release) opens
with the current code and keeps its data; a fresh one ends up identical to a migrated one;
a newer one is refused; a failing step leaves the last complete version. On SQLite and
PostgreSQL both.

The v1 database is made here from the v1 DDL as raw SQL, the SQL the first release's
migration emitted, rather than from a checked-in file: it stays a few readable lines and
works for both databases.
"""

from __future__ import annotations

import zlib

import pytest
from sqlalchemy import create_engine, inspect, text

from mlp_playground.store import migrations as mig
from mlp_playground.store.base import StoreError, encode_run, hash_token
from mlp_playground.store.sql import SqlStore
from mlp_playground.store.tables import SCHEMA_VERSION, metadata
from tests.support.store import sample_run

V1_DDL = """
CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO schema_version (version) VALUES (1);
CREATE TABLE runs (
    id VARCHAR(16) NOT NULL PRIMARY KEY,
    token_hash VARCHAR(64) NOT NULL,
    client VARCHAR(32) NOT NULL,
    created {double} NOT NULL,
    checksum VARCHAR(64) NOT NULL,
    body {blob} NOT NULL
);
CREATE TABLE snapshots (
    session_id VARCHAR(64) NOT NULL PRIMARY KEY,
    data {blob} NOT NULL,
    meta TEXT NOT NULL,
    updated {double} NOT NULL
);
"""
TYPES = {
    "sqlite": {"double": "FLOAT", "blob": "BLOB"},
    "postgresql": {"double": "DOUBLE PRECISION", "blob": "BYTEA"},
}


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'v1.db'}"
    return str(request.getfixturevalue("pg_empty"))


def make_v1(url: str) -> dict:
    """A v1 database holding one run and one snapshot; returns what was put in."""
    run = sample_run(200, title="made by schema 1")
    enc = encode_run(run, 1 << 24)
    engine = create_engine(url)
    with engine.begin() as conn:
        for stmt in V1_DDL.format(**TYPES[engine.dialect.name]).split(";"):
            if stmt.strip():
                conn.execute(text(stmt))
        conn.execute(
            text("INSERT INTO runs VALUES ('oldrun123456', :h, 'client', 1700000000.5, :c, :b)"),
            {"h": hash_token("tok"), "c": enc.checksum, "b": enc.body},
        )
        conn.execute(
            text("INSERT INTO snapshots VALUES ('sess', :d, :m, 1700000001)"),
            {"d": b"\x00snapshot\xff", "m": '{"step": 7}'},
        )
    engine.dispose()
    return {"run": run, "body_len": len(enc.body)}


def columns_and_indexes(url: str) -> dict:
    engine = create_engine(url)
    try:
        insp = inspect(engine)
        return {
            t: (
                sorted(c["name"] for c in insp.get_columns(t)),
                sorted(i["name"] for i in insp.get_indexes(t)),
            )
            for t in sorted(insp.get_table_names())
        }
    finally:
        engine.dispose()


def version_of(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT version FROM schema_version")).scalar_one())
    finally:
        engine.dispose()


def test_a_v1_database_opens_migrated_with_its_data(empty_url):
    made = make_v1(empty_url)
    with SqlStore(empty_url) as store:
        got = store.get_run("oldrun123456")
        assert got["data"] == made["run"]["data"] and got["title"] == "made by schema 1"
        assert got["created"] == "2023-11-14T22:13:20.500Z"
        assert store.read_snapshot("sess") == (b"\x00snapshot\xff", {"step": 7})
        store.delete_run("oldrun123456", "tok")  # the v1 token hash still works
        store.save_run(sample_run(), "c")  # and new rows go into the v2 table
    assert version_of(empty_url) == SCHEMA_VERSION == 5


def test_the_migration_backfills_size_bytes(empty_url):
    made = make_v1(empty_url)
    SqlStore(empty_url).close()
    engine = create_engine(empty_url)
    with engine.connect() as conn:
        size = conn.execute(text("SELECT size_bytes FROM runs WHERE id = 'oldrun123456'"))
        assert size.scalar_one() == made["body_len"]
    engine.dispose()


def test_v3_backfills_the_snapshot_caps_columns(empty_url):
    """A snapshot from before v3 gets its size and counts as ownerless: the first to go."""
    from mlp_playground.store.base import StoreLimits

    make_v1(empty_url)
    SqlStore(empty_url).close()
    engine = create_engine(empty_url)
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT size_bytes, client, owned FROM snapshots WHERE session_id = 'sess'")
        ).one()
    engine.dispose()
    assert (row.size_bytes, row.client, bool(row.owned)) == (len(b"\x00snapshot\xff"), None, False)
    limits = StoreLimits(max_snapshot_bytes=100, max_snapshot_bytes_total=100)
    with SqlStore(empty_url, limits) as store:
        assert store.snapshot_bytes() == 10
        assert store.write_snapshot("new", b"x" * 95, {}, client="c", owned=True) == ["sess"]
        assert store.snapshot_ids() == ["new"]


def test_v4_adds_the_classes_tables_and_keeps_the_rest(empty_url):
    """A v1 database migrated to v4 gets empty ``classes`` and ``class_members`` tables that
    take a class and its members, and its run and snapshot are still there."""
    from mlp_playground.store.classes import ClassMember, ClassRow

    make_v1(empty_url)
    with SqlStore(empty_url) as store:
        assert store.get_class("ABCDEF") is None
        row = ClassRow("ABCDEF", hash_token("t"), "old db", "c", 1.0, 4e9, 4e9)
        assert store.create_class(row, 10, 10)
        store.add_member(ClassMember("ABCDEF", "s1", "Ada", 2.0))
        assert store.member_of("s1") == ClassMember("ABCDEF", "s1", "Ada", 2.0)
        assert store.read_snapshot("sess") is not None
    tables = columns_and_indexes(empty_url)
    assert tables["class_members"][1] == ["ix_class_members_code"]
    assert "token_hash" in tables["classes"][0] and "teacher_token" not in tables["classes"][0]


def test_fresh_and_migrated_schemas_are_the_declared_one(empty_url, tmp_path, request):
    make_v1(empty_url)
    SqlStore(empty_url).close()
    migrated = columns_and_indexes(empty_url)
    if empty_url.startswith("sqlite"):
        fresh_url = f"sqlite:///{tmp_path / 'fresh.db'}"
    else:
        fresh_url = str(request.getfixturevalue("pg_database"))
    SqlStore(fresh_url).close()
    declared = {
        t.name: (sorted(c.name for c in t.columns), sorted(str(i.name) for i in t.indexes))
        for t in metadata.sorted_tables
    }
    assert columns_and_indexes(fresh_url) == migrated == dict(sorted(declared.items()))


def test_opening_twice_migrates_once(empty_url):
    SqlStore(empty_url).close()
    SqlStore(empty_url).close()
    assert version_of(empty_url) == SCHEMA_VERSION


def test_a_newer_schema_is_refused(empty_url):
    SqlStore(empty_url).close()
    engine = create_engine(empty_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE schema_version SET version = 99"))
    engine.dispose()
    with pytest.raises(StoreError, match="schema version 99, newer than this release"):
        SqlStore(empty_url)


def test_a_failing_step_leaves_the_previous_version(empty_url, monkeypatch):
    """Each step runs in one transaction with its version bump: a crash halfway through v2
    (after its ALTER TABLE) leaves a complete v1 database, and the next open finishes."""
    make_v1(empty_url)

    def broken_v2(conn):
        conn.execute(text("ALTER TABLE runs ADD COLUMN size_bytes INTEGER"))
        raise RuntimeError("power cut")

    monkeypatch.setattr(mig, "MIGRATIONS", [mig._v1, broken_v2])
    with pytest.raises(RuntimeError, match="power cut"):
        SqlStore(empty_url)
    assert version_of(empty_url) == 1
    assert "size_bytes" not in columns_and_indexes(empty_url)["runs"][0]
    monkeypatch.undo()
    with SqlStore(empty_url) as store:
        assert store.get_run("oldrun123456") is not None
    assert version_of(empty_url) == SCHEMA_VERSION


def test_v1_bodies_are_zlib_json():
    """The body format is part of schema 1: zlib-compressed compact JSON."""
    enc = encode_run({"a": [1.5]}, 100)
    assert zlib.decompress(enc.body) == b'{"a":[1.5]}'
