"""The ``Store`` contract, run against every backend: memory, SQLite and PostgreSQL."""

from __future__ import annotations

import re
import threading
from datetime import datetime

import pytest

from mlp_playground.store.base import (
    RateLimited,
    RunNotFound,
    RunTooLarge,
    Snapshot,
    StoreFull,
    StoreLimits,
    WrongDeleteToken,
)
from tests.support.store import sample_run

URL_SAFE = re.compile(r"^[A-Za-z0-9_-]+$")


def test_save_then_get_returns_the_run_with_id_and_created(make_store, run, clock):
    store = make_store(clock=clock)
    saved = store.save_run(run, "10.0.0.1")
    assert len(saved.id) == 12 and URL_SAFE.match(saved.id)
    assert len(saved.delete_token) == 32 and URL_SAFE.match(saved.delete_token)
    assert saved.url == f"/r/{saved.id}" and saved.created == clock.t
    got = store.get_run(saved.id)
    assert got == {"id": saved.id, "created": got["created"], **run}
    created = datetime.fromisoformat(got["created"].replace("Z", "+00:00"))
    assert created.timestamp() == pytest.approx(clock.t, abs=1e-3)
    assert got["created"].endswith("Z")
    assert store.run_exists(saved.id) and store.run_count() == 1


def test_floats_and_unicode_round_trip_exactly(make_store):
    store = make_store()
    run = sample_run(500, title="Spirale à deux bras — 双螺旋 🌀")
    run["data"]["points"][0] = [0.1 + 0.2, -1e-300]
    got = store.get_run(store.save_run(run, "c").id)
    assert got["data"] == run["data"] and got["title"] == run["title"]


def test_unknown_ids(make_store):
    store = make_store()
    assert store.get_run("nope") is None and not store.run_exists("nope")
    with pytest.raises(RunNotFound):
        store.delete_run("nope", "token")


def test_ids_and_tokens_are_unique(make_store, run):
    store = make_store(StoreLimits(max_runs_per_minute=1000))
    saved = [store.save_run(run, "c") for _ in range(40)]
    assert len({s.id for s in saved}) == 40 and len({s.delete_token for s in saved}) == 40


def test_delete_needs_the_right_token(make_store, run):
    store = make_store()
    saved = store.save_run(run, "c")
    other = store.save_run(run, "c")
    for bad in (None, "", "x" * 32, other.delete_token):
        with pytest.raises(WrongDeleteToken):
            store.delete_run(saved.id, bad)
    assert store.run_exists(saved.id)
    store.delete_run(saved.id, saved.delete_token)
    assert store.get_run(saved.id) is None and store.run_count() == 1
    with pytest.raises(RunNotFound):
        store.delete_run(saved.id, saved.delete_token)


def test_run_too_large_is_refused_and_not_stored(make_store):
    store = make_store(StoreLimits(max_run_bytes=10_000))
    with pytest.raises(RunTooLarge, match="max_run_bytes"):
        store.save_run(sample_run(1000), "c")
    assert store.run_count() == 0
    store.save_run(sample_run(10), "c")


def test_runs_per_minute_per_client(make_store, run, clock):
    store = make_store(StoreLimits(max_runs_per_minute=3), clock)
    for _ in range(3):
        store.save_run(run, "10.0.0.1")
        clock.advance(5)
    with pytest.raises(RateLimited, match="max_runs_per_minute") as info:
        store.save_run(run, "10.0.0.1")
    # the oldest of the three leaves the window 60 s after it was saved: 45 s from now
    assert info.value.retry_after == pytest.approx(45, abs=0.01)
    store.save_run(run, "10.0.0.2")  # another address has its own allowance
    clock.advance(45.01)
    store.save_run(run, "10.0.0.1")
    assert store.run_count() == 5


def test_total_cap_is_a_clear_store_full(make_store, run):
    store = make_store(StoreLimits(max_runs_total=2, max_runs_per_minute=100))
    first = store.save_run(run, "a")
    store.save_run(run, "b")
    with pytest.raises(StoreFull, match="the store is full"):
        store.save_run(run, "c")
    store.delete_run(first.id, first.delete_token)
    store.save_run(run, "c")
    assert store.run_count() == 2


def test_caps_hold_under_concurrent_saves(make_store, run):
    """Eight threads race to save 40 runs into a store capped at 25: exactly 25 land."""
    store = make_store(StoreLimits(max_runs_total=25, max_runs_per_minute=1000))
    outcomes: list[str] = []
    lock = threading.Lock()

    def saver(i: int) -> None:
        for _ in range(5):
            try:
                store.save_run(run, f"client{i}")
                result = "saved"
            except StoreFull:
                result = "full"
            with lock:
                outcomes.append(result)

    threads = [threading.Thread(target=saver, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("saved") == 25 and outcomes.count("full") == 15
    assert store.run_count() == 25


DURABLE = pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
"""Memory stores are per process by design: these tests are about the databases."""


@DURABLE
def test_two_stores_on_one_database_share_runs_and_caps(make_store, run, clock):
    """Two server processes on one database: one's run is the other's; caps are shared."""
    a = make_store(StoreLimits(max_runs_per_minute=2), clock)
    b = make_store(StoreLimits(max_runs_per_minute=2), clock)
    saved = a.save_run(run, "c")
    assert b.get_run(saved.id)["data"] == run["data"]
    b.save_run(run, "c")
    with pytest.raises(RateLimited):
        a.save_run(run, "c")
    b.delete_run(saved.id, saved.delete_token)
    assert not a.run_exists(saved.id)


def test_snapshot_write_read_overwrite_forget(make_store, clock):
    store = make_store(clock=clock)
    blob = bytes(range(256)) * 800  # every byte value, 200 KB
    assert store.read_snapshot("s1") is None
    store.write_snapshot("s1", blob, {"step": 10, "owner": "tok"})
    snap = store.read_snapshot("s1")
    assert snap == Snapshot(blob, {"step": 10, "owner": "tok"})
    data, meta = snap  # unpacks as (bytes, meta)
    assert data == blob and meta["step"] == 10
    store.write_snapshot("s1", b"newer", {"step": 11})
    assert store.read_snapshot("s1") == (b"newer", {"step": 11})
    store.forget_snapshot("s1")
    store.forget_snapshot("s1")  # idempotent
    assert store.read_snapshot("s1") is None


def test_snapshot_ids_oldest_first_and_older_than(make_store, clock):
    store = make_store(clock=clock)
    for sid in ("a", "b", "c"):
        store.write_snapshot(sid, b"x", {})
        clock.advance(10)
    store.write_snapshot("a", b"y", {})  # rewritten: now the newest
    assert store.snapshot_ids() == ["b", "c", "a"]
    assert store.snapshot_ids(older_than=clock.t - 5) == ["b", "c"]
    assert store.snapshot_ids(older_than=0) == []


def test_snapshots_and_runs_are_independent(make_store, run):
    store = make_store()
    store.write_snapshot("s", b"x", {})
    saved = store.save_run(run, "c")
    store.forget_snapshot("s")
    assert store.run_exists(saved.id) and store.snapshot_ids() == []


@DURABLE
def test_reopening_keeps_everything(make_store, run):
    first = make_store()
    saved = first.save_run(run, "c")
    first.write_snapshot("s", b"blob", {"step": 3})
    first.close()
    again = make_store()
    assert again.get_run(saved.id)["data"] == run["data"]
    assert again.read_snapshot("s") == (b"blob", {"step": 3})
